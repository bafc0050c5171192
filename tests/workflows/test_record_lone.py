"""Recording a lone step's success finishes its run; on Postgres in one statement
(record_sql.py), under the same guards as the general record: the claim's token, a running
step, a running run."""

import pytest
from django.db import connection

from orchestrator.workflows import engine, steps
from orchestrator.workflows.models import Run, StepRun, Workflow
from orchestrator.workflows.steps import Outcome

pytestmark = pytest.mark.django_db

LONE = {
    "name": "lone",
    "trigger": {"manual": True},
    "steps": [{"id": "only", "action": "core.log", "with": {"message": "hi"}}],
}
TWO = {
    "name": "two",
    "trigger": {"manual": True},
    "steps": [
        {"id": "first", "action": "core.log", "with": {"message": "a"}},
        {"id": "second", "needs": ["first"], "action": "core.log", "with": {"message": "b"}},
    ],
}


def start(save_workflow, document: dict, runs: int = 1) -> list:
    save_workflow(document)
    workflow = Workflow.objects.select_related("current_version").get(name=document["name"])
    for _ in range(runs):
        engine.create_run(workflow, trigger="manual")
    jobs, decided = steps.claim(100, "runner-test")
    assert decided == []
    return jobs


def ok(job, **output) -> Outcome:
    return Outcome(job.step_run_id, job.token, "ok", output=output, lone=job.lone)


def writes(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("UPDATE", "WITH"))]


def test_lone_successes_finish_their_runs(save_workflow, django_assert_max_num_queries):
    jobs = start(save_workflow, LONE, runs=3)
    assert [job.lone for job in jobs] == [True, True, True]

    with django_assert_max_num_queries(20) as captured:
        assert steps.record([ok(job, n=job.step_run_id) for job in jobs]) == 3

    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}
    for step in StepRun.objects.all():
        assert (step.status, step.output, step.claimed_by) == ("succeeded", {"n": step.pk}, "")
        assert step.finished_at is not None and step.heartbeat_at is None
    assert all(run.finished_at is not None for run in Run.objects.all())
    if connection.vendor == "postgresql":
        assert len(writes(captured.captured_queries)) == 1, writes(captured.captured_queries)


def test_a_stale_token_writes_nothing(save_workflow):
    [job] = start(save_workflow, LONE)
    stale = Outcome(job.step_run_id, job.token + "-old", "ok", output={}, lone=True)

    assert steps.record([stale]) == 0

    assert StepRun.objects.get().status == "running"
    assert Run.objects.get().status == "running"


def test_a_run_cancelled_meanwhile_stays_cancelled(save_workflow):
    [job] = start(save_workflow, LONE)
    engine.cancel_run(Run.objects.get())

    assert steps.record([ok(job)]) == 0

    assert Run.objects.get().status == "cancelled"
    assert StepRun.objects.get().status == "cancelled"


def test_errors_beside_lone_successes_take_the_general_record(save_workflow):
    first, second = start(save_workflow, LONE, runs=2)
    failed = Outcome(second.step_run_id, second.token, "error", error="boom", lone=True)

    assert steps.record([ok(first), failed]) == 2

    assert StepRun.objects.get(pk=first.step_run_id).status == "succeeded"
    retried = StepRun.objects.get(pk=second.step_run_id)
    assert (retried.status, retried.error) == ("waiting", "boom")
    assert Run.objects.get(steps__pk=second.step_run_id).status == "running"


def test_a_step_of_a_larger_workflow_is_not_lone_and_readies_the_next(save_workflow):
    [job] = start(save_workflow, TWO)
    assert job.lone is False

    assert steps.record([ok(job)]) == 1

    assert StepRun.objects.get(step_id="second").status == "ready"
    assert Run.objects.get().status == "running"
