"""Clock faults, through the time sources the code takes (injected `now`, an injected
monotonic clock, `django.utils.timezone.now` for this host's wall clock), and schedules that
follow their settings after a restart.

Promises:
- a breaker's open wait never outlasts one BREAKER_OPEN_SECONDS because the wall clock
  went back, and lost half-open probes are re-issued after a jump back too;
- database leases and step heartbeats use database time: a jump of this host's clock neither
  frees a held lease nor re-drives a live step;
- the Redis-down window is monotonic time;
- `serve` and the first qcluster worker re-sync every schedule from its setting.
"""

from datetime import timedelta

import pytest
from django.db.models.functions import Now
from django.utils import timezone
from django_q.models import Schedule

from orchestrator.core import backends, schedules
from orchestrator.health.breakers import CLOSED, HALF_OPEN, OPEN, BreakerConfig, BreakerRecord
from orchestrator.workflows import definitions, engine, sweeper
from orchestrator.workflows.leases import DatabaseLeases
from orchestrator.workflows.models import StepRun

CONFIG = BreakerConfig(failure_rate=50, window=10, min_calls=4, open_seconds=30, probes=2)
HOUR = 3600.0


def opened_at(now: float) -> BreakerRecord:
    record = BreakerRecord()
    record.apply(0, 4, now, CONFIG)
    assert record.state == OPEN
    return record


def test_a_wall_clock_jump_back_does_not_keep_a_breaker_open():
    record = opened_at(10_000.0)
    assert record.effective_state(10_000.0 + 1) == OPEN  # the ordinary wait still holds
    jumped = 10_000.0 - HOUR
    assert record.wait_over(jumped, CONFIG.open_seconds)
    record.apply(0, 0, jumped, CONFIG)
    assert record.state == HALF_OPEN  # probing, not an hour of refusals


def test_lost_half_open_probes_are_reissued_after_a_jump_back():
    record = opened_at(10_000.0)
    record.apply(0, 0, 10_031.0, CONFIG)
    assert record.state == HALF_OPEN
    assert record.claim_probe(10_031.0, CONFIG) and record.claim_probe(10_031.0, CONFIG)
    assert not record.claim_probe(10_031.0, CONFIG)  # both probes out, never reported
    record.advance(10_031.0 - HOUR, CONFIG)
    assert record.state == HALF_OPEN and record.probes_issued == 0  # re-issued


def test_a_wall_clock_jump_forward_only_probes_early():
    record = opened_at(10_000.0)
    record.apply(1, 0, 10_000.0 + HOUR, CONFIG)  # half-open, and the probe succeeded
    record.apply(1, 0, 10_000.0 + HOUR, CONFIG)
    assert record.state == CLOSED


@pytest.fixture
def host_clock(monkeypatch):
    """Move this host's wall clock (timezone.now) by `jump(seconds)`."""
    real = timezone.now
    offset = [0.0]
    monkeypatch.setattr(timezone, "now", lambda: real() + timedelta(seconds=offset[0]))
    return lambda seconds: offset.__setitem__(0, seconds)


@pytest.mark.django_db
def test_database_leases_hold_through_a_host_clock_jump(host_clock):
    leases = DatabaseLeases()
    assert leases.take("runner:0", "a", 30)
    host_clock(2 * HOUR)
    assert not leases.take("runner:0", "b", 30)  # still a's: database time decides
    assert leases.holder("runner:0") == "a"
    host_clock(-2 * HOUR)
    assert leases.held(["runner:0"]) == 1


@pytest.mark.django_db
def test_a_host_clock_jump_does_not_redrive_a_live_step(host_clock):
    workflow = definitions.create_workflow(
        {"name": "w", "trigger": {"manual": True},
         "steps": [{"id": "s", "action": "core.log", "with": {"message": "x"}}]}
    )  # fmt: skip
    engine.create_run(workflow, trigger="manual")
    StepRun.objects.update(status="running", claimed_by="t", heartbeat_at=Now())
    host_clock(2 * HOUR)
    assert sweeper.redrive_stale_steps() == 0
    StepRun.objects.update(heartbeat_at=Now() - timedelta(hours=1))
    host_clock(-2 * HOUR)
    assert sweeper.redrive_stale_steps() == 1  # a really stale one still is


def test_the_redis_down_window_is_monotonic():
    ticks = [100.0]
    health = backends.RedisHealth(clock=lambda: ticks[0])
    health.failed("test", ConnectionError("refused"))
    assert not health.usable()
    ticks[0] += backends.DOWN_FOR_S
    assert health.usable()  # one call may try Redis again
    recovered = []
    health.recovery_hooks.append(lambda: recovered.append(True))
    health.succeeded()
    assert recovered == [True] and not health.is_down()


def schedule_values() -> dict[str, object]:
    rows = Schedule.objects.filter(
        name__in=["events.sweep", sweeper.SCHEDULE_NAME, "health.detect", "flags.guard"]
    )
    return {row.name: row.minutes or row.cron for row in rows}


@pytest.mark.django_db
def test_schedules_follow_their_settings_at_serve_and_qcluster_start(settings, monkeypatch):
    from django_q.signals import post_spawn

    from orchestrator.core.management.commands.serve import Command

    before = schedule_values()
    settings.EVENT_SWEEP_INTERVAL_MINUTES = 7
    settings.WORKFLOW_SWEEP_MINUTES = 3
    Command().follow_schedule_settings()  # what `serve` does first
    after = schedule_values()
    assert after["events.sweep"] == 7 and after[sweeper.SCHEDULE_NAME] == 3
    assert before["events.sweep"] == 1  # migrate made it from the default

    settings.EVENT_SWEEP_INTERVAL_MINUTES = 4
    monkeypatch.setattr(schedules, "_followed", False)
    post_spawn.send(sender="django_q", proc_name="Worker-1")  # a qcluster worker starts
    post_spawn.send(sender="django_q", proc_name="Worker-2")
    assert schedule_values()["events.sweep"] == 4
    assert Schedule.objects.filter(name="events.sweep").count() == 1
