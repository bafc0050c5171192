"""The four migration phases end to end: advance behind gates, the guard's automatic rollback
on a health breach, manual rollback, and bad input refused with nothing changed."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from orchestrator.flags import guard
from orchestrator.flags.models import Flag
from orchestrator.health import checks
from orchestrator.operations import phases
from orchestrator.operations.models import PhaseChange

BREACH = {"status": "fail", "output": "upstream down"}


def breach():
    return [dict(BREACH)]


@pytest.fixture
def failing_check(monkeypatch):
    """A registered health check that fails, as a platform's would during an outage."""

    def start():
        monkeypatch.setitem(checks.CHECKS, "upstream:responseTime", (f"{__name__}.breach", False))

    return start


def phase_cli(*args, **options) -> dict:
    out = io.StringIO()
    call_command("migration_phase", *args, stdout=out, json=True, **options)
    return json.loads(out.getvalue())


def flag(key: str) -> Flag:
    return Flag.objects.get(key=key)


def test_show_on_a_new_installation_is_phase_one(db):
    summary = phase_cli("show")
    assert (summary["phase"], summary["name"]) == (1, "foundation")
    assert [p["active"] for p in summary["phases"]] == [True, False, False, False]
    assert summary["history"] == []


def test_advance_checks_the_gates_backs_up_and_ramps_the_next_phases_flags(db, backup_dir):
    change = phase_cli("advance", reason="perf paths ready")
    assert (change["from_phase"], change["to_phase"]) == (1, 2)
    assert [(g["name"], g["ok"]) for g in change["gates"]] == [
        ("health", True),
        ("breakers", True),
        ("error rate", True),
    ]
    assert change["backup"].startswith(str(backup_dir)) and len(list(backup_dir.iterdir())) == 1
    performance = flag("migration.performance-paths")
    assert (performance.enabled, float(performance.rollout_percentage)) == (True, 10.0)
    assert [step["percentage"] for step in performance.rollout_plan] == [50.0, 100.0]
    assert performance.guard["health"] is True
    assert float(flag("migration.legacy-handlers").rollout_percentage) == 100.0
    assert phase_cli("show")["history"][0]["reason"] == "perf paths ready"
    # While health holds, the flags' own guard job advances the ramp plan.
    guard.run_guards(timezone.now() + timedelta(minutes=11))
    assert float(flag("migration.performance-paths").rollout_percentage) == 50.0


def test_a_failing_gate_refuses_the_advance_names_it_and_changes_nothing(
    db, backup_dir, failing_check
):
    failing_check()
    with pytest.raises(CommandError) as refused:
        phase_cli("advance")
    assert str(refused.value) == (
        "cannot advance to phase 2: health gate fails: health is fail (upstream:responseTime)"
    )
    assert phases.current() == 1 and not Flag.objects.exists() and not backup_dir.exists()


def test_a_health_breach_during_the_rollout_rolls_the_phase_back_and_announces_it(
    transactional_db, failing_check, fake_platforms, settings, monkeypatch
):
    from orchestrator.workflows import runner

    settings.HEALTH_ESCALATION_CHANNEL = "#alerts"
    monkeypatch.setattr(runner, "LINGER_S", 0.0)
    settings.WORKFLOW_RUNNER_MAX_WAIT = 5
    phase_cli("advance")
    failing_check()
    lines = guard.run_guards()
    assert lines == [
        "migration.performance-paths: rolled back (guard breached: health is fail "
        "(upstream:responseTime); no good version yet, so ramped to 0%; plan paused)"
    ]
    assert phases.current() == 1
    auto = PhaseChange.objects.first()
    assert (auto.kind, auto.from_phase, auto.to_phase, auto.actor) == (
        "auto-rollback",
        2,
        1,
        "guard",
    )
    assert auto.backup and "health is fail" in auto.reason
    assert flag("migration.performance-paths").enabled is False
    runner.run_ready_steps()  # the announcements are escalation runs: deliver them
    texts = [call.json["text"] for call in fake_platforms.calls("slack", "chat.postMessage")]
    assert any("Migration phase 2 was rolled back to phase 1 automatically" in t for t in texts)
    assert any("Flag `migration.performance-paths` was rolled back" in t for t in texts)


def test_manual_rollback_switches_later_phases_off_and_keeps_earlier_ones(db):
    phase_cli("advance")
    phase_cli("advance", "3")
    dry = phase_cli("rollback", dry_run=True)
    assert dry["flags"] == {"migration.self-healing": "off", "migration.extensions": "off"}
    assert phases.current() == 3 and flag("migration.extensions").enabled
    change = phase_cli("rollback", reason="extensions misbehave")
    assert (change["from_phase"], change["to_phase"]) == (3, 2)
    assert not flag("migration.self-healing").enabled and not flag("migration.extensions").enabled
    assert flag("migration.performance-paths").enabled
    assert flag("migration.extensions").versions.first().action == "phase-rollback"
    phase_cli("rollback", "1")
    assert phases.current() == 1 and not flag("migration.performance-paths").enabled
    kinds = [c["kind"] for c in phase_cli("show")["history"]]
    assert kinds == ["rollback", "rollback", "advance", "advance"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("advance", "7"), "unknown phase '7': the phases are 1 (foundation), 2 (performance)"),
        (("advance", "x"), "unknown phase 'x'"),
        (("rollback",), "already at phase 1 (foundation); cannot roll back below it"),
        (("rollback", "0"), "unknown phase '0'"),
        (("advance", "3"), "advance one phase at a time: at phase 1, so the next is 2, not 3"),
    ],
)
def test_bad_phase_requests_are_one_line_and_change_nothing(db, backup_dir, args, message):
    with pytest.raises(CommandError) as refused:
        phase_cli(*args)
    assert message in str(refused.value)
    assert phases.current() == 1 and not Flag.objects.exists()
    assert not PhaseChange.objects.exists() and not backup_dir.exists()


def test_advancing_past_the_last_phase_is_refused(db):
    for _ in range(3):
        phase_cli("advance")
    with pytest.raises(CommandError, match=r"already at phase 4 \(full\); there is no phase after"):
        phase_cli("advance")
    assert phases.current() == 4


def test_phase_gated_code_reads_the_flags_in_process(db):
    phase_cli("advance", ramp="100")
    assert phases.is_on("migration.performance-paths", "event-1")
    assert not phases.is_on("migration.full", "event-1")
