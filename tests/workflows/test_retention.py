"""Run history at scale (figures: bench/scale_runs.py): finished runs past retention are
pruned with their steps, in batches, and `/api/runs/?workflow=&status=` reads its index."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import Schedule

from orchestrator.workflows import engine, retention
from orchestrator.workflows.models import RUN_FINISHED, Run, RunStatus, StepRun
from tests.plans import reads_index

pytestmark = pytest.mark.django_db
TWO_STEPS = {
    "name": "history",
    "trigger": {"event": "github.push"},
    "steps": [
        {"id": "a", "action": "core.log", "with": {"message": "a"}},
        {"id": "b", "action": "core.log", "needs": ["a"], "with": {"message": "b"}},
    ],
}


def make_run(workflow, status: str, finished_days_ago: float | None) -> Run:
    run = engine.create_run(workflow, trigger="manual")
    finished = None
    if finished_days_ago is not None:
        finished = timezone.now() - timedelta(days=finished_days_ago)
    Run.objects.filter(pk=run.pk).update(status=status, finished_at=finished)
    return run


def test_prune_removes_finished_runs_past_retention_with_their_steps(save_workflow, settings):
    settings.WORKFLOW_RETENTION_DAYS = 30
    workflow = save_workflow(TWO_STEPS)
    old = [make_run(workflow, state, 31) for state in sorted(RUN_FINISHED)]
    recent = make_run(workflow, RunStatus.SUCCEEDED, 29)
    running = make_run(workflow, RunStatus.RUNNING, None)
    assert retention.prune_runs() == {"runs": len(old), "steps": 2 * len(old)}
    assert set(Run.objects.values_list("pk", flat=True)) == {recent.pk, running.pk}
    assert StepRun.objects.count() == 4


def test_prune_deletes_runs_in_batches(save_workflow, settings, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 2)
    settings.WORKFLOW_RETENTION_DAYS = 1
    workflow = save_workflow(TWO_STEPS)
    for _ in range(5):
        make_run(workflow, RunStatus.FAILED, 2)
    with CaptureQueriesContext(connection) as captured:
        assert retention.prune_runs()["runs"] == 5
    deletes = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("DELETE")]
    run_deletes = [sql for sql in deletes if Run._meta.db_table + '"' in sql.split("WHERE")[0]]
    assert len(run_deletes) == 3  # 2 + 2 + 1
    assert not Run.objects.exists() and not StepRun.objects.exists()


def test_migration_creates_the_hourly_prune_schedule():
    migration = import_module("orchestrator.workflows.migrations.0004_run_retention")
    migration.create_schedule(django_apps, None)
    schedule = Schedule.objects.get(name=retention.SCHEDULE_NAME)
    assert schedule.func == "orchestrator.workflows.retention.prune_runs"
    assert schedule.schedule_type == Schedule.HOURLY


def test_runs_by_workflow_and_status_is_an_index_scan_in_list_order(save_workflow):
    workflow = save_workflow(TWO_STEPS)
    make_run(workflow, RunStatus.FAILED, 1)
    page = Run.objects.filter(workflow__name="history", status="failed")[:50]
    assert reads_index(page, "run_workflow_status_created")


def test_step_serialisation_fast_path_matches_the_generic_serializer(save_workflow):
    from rest_framework import serializers

    from orchestrator.workflows.api import StepRunSerializer

    class Generic(serializers.ModelSerializer):
        class Meta:
            model = StepRun
            fields = StepRunSerializer.Meta.fields

    run = make_run(save_workflow(TWO_STEPS), RunStatus.FAILED, 1)
    now = timezone.now()
    StepRun.objects.filter(run=run).update(
        started_at=now, finished_at=now, next_attempt_at=None, output={"ok": [1, "x"]}, attempts=2
    )
    for step in StepRun.objects.filter(run=run):
        assert StepRunSerializer(step).data == Generic(step).data
