"""Baselines, hysteresis and projections: the arithmetic alone, then through detection."""

import pytest

from orchestrator.health import baseline as maths
from orchestrator.health import checks, detect
from orchestrator.health.models import Alert, CheckResult, CheckState, Incident

# --- the arithmetic -----------------------------------------------------------------------


def test_baseline_learns_the_mean_and_deviation_of_a_steady_signal():
    learned = maths.Baseline()
    for value in [10, 12, 10, 12] * 20:
        learned = learned.updated(value, alpha=0.1)
    assert 10.5 < learned.mean < 11.5
    assert 0.5 < learned.deviation < 1.5
    assert learned.samples == 80


def test_value_outside_the_learned_band_warns_once_there_is_enough_history():
    learned = maths.Baseline(mean=10.0, deviation=1.0, samples=30)
    assert maths.adaptive_status("pass", 13.9, learned, band=4, min_samples=30) == ("pass", "")
    status, why = maths.adaptive_status("pass", 14.1, learned, band=4, min_samples=30)
    assert status == "warn" and "above its baseline" in why
    young = maths.Baseline(mean=10.0, deviation=1.0, samples=29)
    assert maths.adaptive_status("pass", 99, young, band=4, min_samples=30)[0] == "pass"


def test_hysteresis_needs_consecutive_agreeing_results_to_change():
    state = maths.Hysteresis("pass", "pass", 0)
    for observed in ["fail", "pass", "fail", "pass", "fail"]:
        state = maths.apply_hysteresis(state, observed, needed=2)
        assert state.status == "pass"
    state = maths.apply_hysteresis(state, "fail", needed=2)
    assert state.status == "fail"


def test_line_at_extends_the_least_squares_line():
    points = [(0, 1.0), (10, 3.0), (20, 5.0), (30, 7.0)]
    assert maths.line_at(points, 60) == pytest.approx(13.0)
    assert maths.time_to_reach(points, 21.0) == pytest.approx(100.0)
    assert maths.time_to_reach([(0, 5.0), (10, 4.0), (20, 3.0)], 10.0) is None  # falling


# --- through the detection job --------------------------------------------------------------
FLAPS = iter([])


def flapping() -> list[dict]:
    return [{"status": next(FLAPS), "time": checks.now_iso()}]


def test_a_flapping_check_is_suppressed_by_hysteresis(db, monkeypatch, settings):
    global FLAPS
    settings.HEALTH_HYSTERESIS = 2
    FLAPS = iter(["fail", "pass"] * 4)
    monkeypatch.setitem(
        checks.CHECKS, "test:flapping", ("tests.health.test_adaptive.flapping", False)
    )
    for _ in range(8):
        detect.run_detection()
    results = list(
        CheckResult.objects.filter(name="test:flapping").values_list("status", flat=True)
    )
    assert sorted(results) == ["fail"] * 4 + ["pass"] * 4  # every result kept as history
    assert CheckState.objects.get(name="test:flapping").status == "pass"
    assert not Incident.objects.filter(key="test:flapping").exists()
    assert not Alert.objects.filter(key="check:test:flapping").exists()
    FLAPS = iter(["fail", "fail"])  # a real failure still gets through
    detect.run_detection()
    detect.run_detection()
    assert CheckState.objects.get(name="test:flapping").status == "fail"
    assert Alert.objects.filter(key="check:test:flapping", state="firing").count() == 1


def add_ready_steps(n: int) -> None:
    from orchestrator.workflows import definitions, engine
    from orchestrator.workflows.models import Workflow

    workflow = Workflow.objects.filter(name="backlog").first() or definitions.create_workflow(
        {"name": "backlog", "trigger": {"manual": True},
         "steps": [{"id": "log", "action": "core.log", "with": {"message": "x"}}]}
    )  # fmt: skip
    for _ in range(n):
        engine.create_run(workflow, trigger="manual")


def test_a_steadily_rising_queue_is_warned_about_before_its_limit_naming_the_cause(
    db, fake_platforms, settings
):
    settings.HEALTH_BACKLOG_WARN = 100
    settings.HEALTH_FORECAST_POINTS = 6
    detect.run_detection()
    detect.run_detection()
    # Slack slows down first: by 1 s, well past the first call's time on a loaded machine,
    # the window's start (0.3 s was within it once, with both CI halves running) ...
    fake_platforms.set_delay("slack", 1.0)
    detect.run_detection()
    for _ in range(3):  # ... then steps back up behind it, 20 more each round
        add_ready_steps(20)
        detect.run_detection()
    backlog = CheckState.objects.get(name="steps:backlog")
    assert backlog.status == "pass" and 60 <= backlog.observed_value < 100  # not crossed yet
    alert = Alert.objects.get(key="forecast:steps:backlog", state="firing")
    assert alert.labels["cause"] == "slack:responseTime"
    assert "projected to reach its warn limit 100" in alert.summary
    assert "likely cause: slack:responseTime" in alert.summary


def test_a_spike_that_comes_back_is_not_a_move_but_a_level_shift_is():
    spike = [(0, 1.0), (1, 90.0), (2, 1.0), (3, 1.2)]
    shift = [(0, 1.0), (1, 1.1), (2, 300.0), (3, 310.0)]
    assert maths.first_departure(spike, 1.0, floor=50) is None
    assert maths.first_departure(shift, 1.0, floor=50) == 2
