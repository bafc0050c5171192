"""GET /api/health/, the recovery catalog's rules, escalation by email and the schedule."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orchestrator.health import detect, escalation, recovery
from orchestrator.health.models import (
    CheckState,
    Escalation,
    Incident,
    RecoveryAction,
    RecoveryExecution,
)

pytestmark = pytest.mark.django_db


def test_api_health_answers_state_history_and_records_to_staff(api_client):
    detect.run_detection()
    detect.run_detection()
    body = api_client.get("/api/health/?history=5").json()
    assert body["status"] in {"pass", "warn"}
    assert body["checks"]["database:responseTime"]["observedUnit"] == "ms"
    assert len(body["history"]["database:responseTime"]) == 2
    for key in ("breakers", "incidents", "recoveries", "alerts", "escalations"):
        assert isinstance(body[key], list)
    assert {"mttr_seconds", "recovery_success_rate"} <= set(body)


def test_api_health_refuses_anonymous_and_bad_history(client, api_client):
    assert client.get("/api/health/").status_code in (401, 403)
    answer = api_client.get("/api/health/?history=lots")
    assert answer.status_code == 400
    assert "history" in answer.json()["error"]


def test_api_health_is_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    assert "/api/health/" in schema["paths"]


def open_incident(key: str, status: str = "fail", minutes_ago: int = 0) -> Incident:
    CheckState.objects.update_or_create(name=key, defaults={"status": status})
    opened = timezone.now() - timedelta(minutes=minutes_ago)
    return Incident.objects.create(key=key, title=key, severity=status, opened_at=opened)


def catalog_entry(**fields) -> RecoveryAction:
    defaults = {"name": "test-pause", "trigger_check": "steps:*", "trigger_status": "warn",
                "action": "pause_workflow", "params": {"workflow": "missing"},
                "cooldown_seconds": 0, "max_attempts": 2}  # fmt: skip
    RecoveryAction.objects.all().delete()
    return RecoveryAction.objects.create(**{**defaults, **fields})


def test_a_matching_entry_runs_and_records_its_failure(settings):
    settings.HEALTH_ESCALATION_CHANNEL = ""
    catalog_entry()
    open_incident("steps:oldestAge")
    [execution] = recovery.run_recoveries()
    assert (execution.outcome, execution.detail) == ("failed", "no workflow 'missing'")
    assert Escalation.objects.filter(kind="recovery.failed", channel="dashboard").exists()


def test_max_attempts_per_incident_bounds_the_executions(settings):
    settings.HEALTH_ESCALATION_CHANNEL = ""
    catalog_entry(max_attempts=2)
    open_incident("steps:backlog")
    for _ in range(4):
        recovery.run_recoveries()
    assert RecoveryExecution.objects.count() == 2


def test_cooldown_and_preconditions_hold_an_entry_back(settings):
    settings.HEALTH_ESCALATION_CHANNEL = ""
    catalog_entry(cooldown_seconds=3600)
    open_incident("steps:backlog")
    recovery.run_recoveries()
    recovery.run_recoveries()
    assert RecoveryExecution.objects.count() == 1  # the second round is cooling down
    catalog_entry(name="needs-db", preconditions={"checks": {"database:responseTime": "pass"}})
    CheckState.objects.update_or_create(name="database:responseTime", defaults={"status": "fail"})
    assert recovery.run_recoveries() == []
    catalog_entry(name="needs-age", preconditions={"open_for_seconds": 600})
    assert recovery.run_recoveries() == []


def test_an_entry_for_another_check_or_a_milder_status_does_not_run(settings):
    catalog_entry(trigger_check="events:*")
    open_incident("steps:backlog")
    assert recovery.run_recoveries() == []
    Incident.objects.all().delete()
    catalog_entry(name="only-fail", trigger_status="fail")
    open_incident("steps:oldestAge", status="warn")
    assert recovery.run_recoveries() == []


def test_the_default_catalog_is_seeded():
    names = set(RecoveryAction.objects.values_list("name", flat=True))
    assert "close-breaker-when-platform-answers" in names
    assert set(RecoveryAction.objects.values_list("action", flat=True)) <= set(recovery.ACTIONS)


def test_escalation_emails_the_configured_recipients(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.HEALTH_ALERT_EMAILS = ["oncall@example.com"]
    settings.HEALTH_ESCALATION_CHANNEL = ""
    records = escalation.escalate(escalation.Notice("alert.firing", "db: 1 firing", "[FIRING] x"))
    [message] = mail.outbox
    assert message.to == ["oncall@example.com"] and message.subject == "[contexten] db: 1 firing"
    assert sorted(r.channel for r in records) == ["dashboard", "email"]


def test_the_detection_schedule_follows_its_setting(settings):
    from django_q.models import Schedule

    assert Schedule.objects.get(name=detect.SCHEDULE_NAME).cron == detect.schedule_cron()
    settings.HEALTH_CHECK_INTERVAL_SECONDS = 15
    detect.run_detection()
    assert Schedule.objects.get(name=detect.SCHEDULE_NAME).cron == "* * * * * */15"


def test_history_older_than_retention_is_pruned(settings):
    from orchestrator.health.models import CheckResult

    settings.HEALTH_RETENTION_HOURS = 1
    CheckResult.objects.create(name="x:y", status="pass", time=timezone.now() - timedelta(hours=2))
    CheckResult.objects.create(name="x:y", status="pass")
    assert detect.prune(timezone.now()) == 1
    assert CheckResult.objects.filter(name="x:y").count() == 1


def test_a_failing_platform_api_opens_its_closed_breaker_once(settings):
    from orchestrator.health import breakers

    settings.HEALTH_ESCALATION_CHANNEL = ""
    catalog_entry(name="open-breaker-when-platform-api-fails", trigger_check="*:responseTime",
                  trigger_status="fail", action="force_breaker_open", params={}, max_attempts=3,
                  preconditions={"checks": {"{component}:breaker": "pass"}})  # fmt: skip
    CheckState.objects.create(name="slack:breaker", status="pass")
    CheckState.objects.create(name="database:breaker", status="fail")  # no such breaker
    open_incident("slack:responseTime")
    open_incident("database:responseTime")
    [execution] = recovery.run_recoveries()
    assert (execution.check_name, execution.outcome) == ("slack:responseTime", "succeeded")
    assert breakers.breaker_state("slack") == "open"
    CheckState.objects.filter(name="slack:breaker").update(status="warn")  # now it is open
    assert recovery.run_recoveries() == []


def test_rollouts_panel_keeps_a_guard_rolled_back_flag_and_drops_finished_ones():
    """A rollback pauses the plan at 0 %: that flag stays on the panel, marked paused; a
    flag at 100 % or one without any rollout does not appear."""
    from orchestrator.flags.services import Actor, save_flag
    from orchestrator.health.snapshot import active_rollouts

    later = (timezone.now() + timedelta(hours=2)).isoformat()

    def flag(key, percentage, *, paused=False, plan=()):
        rollout = {"variant": "on", "percentage": percentage, "paused": paused,
                   "plan": [{"percentage": p, "at": later} for p in plan]}  # fmt: skip
        save_flag({"key": key, "enabled": True, "variants": {"on": True, "off": False},
                   "default_variant": "off", "rollout": rollout}, actor=Actor("test"))  # fmt: skip

    flag("ramping", 25)
    flag("rolled-back", 0, paused=True, plan=[50])
    flag("scheduled", 0, plan=[10])
    flag("finished", 100)
    flag("plain", 0)
    shown = {row["key"]: row["paused"] for row in active_rollouts()}
    assert shown == {"ramping": False, "rolled-back": True, "scheduled": False}


def test_a_snapshot_follows_health_records_through_the_health_generation():
    """The snapshot keeps the stored health state between changes; any save of a health
    record (here an alert, as detection or an operator would make) shows in the next one."""
    from orchestrator.core import generations
    from orchestrator.health.models import Alert
    from orchestrator.health.snapshot import build_snapshot
    from orchestrator.health.state import GENERATION

    assert build_snapshot()["alerts"] == []
    before = generations.read(GENERATION)
    Alert.objects.create(key="check:demo", group="check", severity="warn", summary="demo")
    assert generations.read(GENERATION) != before
    assert [a["key"] for a in build_snapshot()["alerts"]] == ["check:demo"]
