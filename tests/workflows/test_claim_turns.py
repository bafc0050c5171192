"""Workflows take turns at the claim: a burst of one workflow does not hold another's new step
behind its backlog, and two claims at once never take the same step."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from orchestrator.workflows import claim_sql, engine, steps
from orchestrator.workflows.models import StepRun, Workflow


def manual(name: str) -> dict:
    return {
        "name": name,
        "trigger": {"manual": True},
        "steps": [{"id": "log", "action": "core.log", "with": {"message": name}}],
    }


def start(save_workflow, name: str, runs: int) -> None:
    save_workflow(manual(name))
    workflow = Workflow.objects.select_related("current_version").get(name=name)
    for _ in range(runs):
        engine.create_run(workflow, trigger="manual")


def claimed_names(jobs) -> list[str]:
    return [job.params["message"] for job in jobs]


def age(name: str, seconds: float) -> None:
    """Make `name`'s steps due `seconds` ago, so the burst is plainly the older work."""
    due = timezone.now() - timedelta(seconds=seconds)
    StepRun.objects.filter(run__workflow__name=name).update(next_attempt_at=due)


@pytest.mark.django_db
def test_a_new_step_of_another_workflow_is_claimed_before_a_burst_backlog(save_workflow):
    start(save_workflow, "burst", 500)
    age("burst", 60)
    start(save_workflow, "stream", 1)
    jobs, _ = steps.claim(10, "runner-a")
    names = claimed_names(jobs)
    assert len(names) == 10
    assert names.count("stream") == 1, "the newest step of another workflow waits its turn"
    # The rest is the burst's oldest first: FIFO within a workflow.
    burst = StepRun.objects.filter(run__workflow__name="burst").order_by("next_attempt_at", "id")
    first_nine = set(burst.values_list("id", flat=True)[:9])
    assert {job.step_run_id for job in jobs if job.params["message"] == "burst"} == first_nine


@pytest.mark.django_db
def test_workflows_alternate_while_each_has_steps_due(save_workflow):
    for name in ("a", "b", "c"):
        start(save_workflow, name, 4)
    jobs, _ = steps.claim(6, "runner-a")
    names = claimed_names(jobs)
    assert sorted(names) == ["a", "a", "b", "b", "c", "c"]


@pytest.mark.django_db(transaction=True)
def test_two_claims_at_once_take_different_steps(save_workflow):
    """On Postgres the second claim skips the rows the first has locked, in turn order; on
    SQLite the guarded UPDATE lets one claim have each step."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    start(save_workflow, "burst", 40)

    def claim(runner: str) -> set[int]:
        try:
            jobs, _ = steps.claim(15, runner)
            return {job.step_run_id for job in jobs}
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(claim, ["runner-a", "runner-b"])
    assert first and second
    assert not first & second
    assert StepRun.objects.filter(status="running").count() == len(first) + len(second)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="Postgres claims in one statement")
def test_the_one_statement_claim_reads_the_claim_order_index_from_both_ends(save_workflow):
    """Its oldest and newest scans are bounded reads of `step_claim_order`, so a claim's cost
    does not grow with the backlog: at 20,000 due steps the plan names the index both ways."""
    start(save_workflow, "burst", 1)
    run_id = StepRun.objects.get().run_id
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO workflows_steprun (run_id, step_id, action, extension,"
            " extension_version, position, status, attempts, error, claimed_by,"
            " next_attempt_at) SELECT %s, 'backlog-' || n, 'core.log', '', '', 0, 'ready', 0,"
            " '', '', now() - n * interval '1 ms' FROM generate_series(1, 20000) n",
            [run_id],
        )
        cursor.execute("ANALYZE workflows_steprun")
        params = {"now": timezone.now(), "skip": [], "oldest": 400, "limit": 100}
        params |= {"running": "running", "token": "explain"}
        cursor.execute("EXPLAIN " + claim_sql.CLAIM_SQL, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Scan using step_claim_order" in plan
    assert "Scan Backward using step_claim_order" in plan
