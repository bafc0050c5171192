"""Several runners at once: each holds one of WORKFLOW_RUNNERS leases, and no step is ever
executed by two of them (claims are atomic), checked against the fake Slack's call records."""

import asyncio
import logging
import threading

import pytest

from orchestrator.workflows import doorbell, engine, runner
from orchestrator.workflows.models import Run, StepRun, Workflow

POST = {
    "name": "post",
    "trigger": {"manual": True},
    "steps": [
        {
            "id": "post",
            "action": "slack.post_message",
            "with": {"channel": "#eng", "text": "n={{ event.n }}"},
        }
    ],
}


def _start_runs(save_workflow, count: int) -> None:
    save_workflow(POST)
    workflow = Workflow.objects.select_related("current_version").get()
    for n in range(count):
        engine.create_run(workflow, trigger="manual", input={"n": n})


def _drive_concurrently(drive, count: int) -> list[int]:
    """Start `count` runner tasks at the same moment, each in its own thread; answer what
    each recorded."""
    recorded = [0] * count
    barrier = threading.Barrier(count)

    def one(index: int) -> None:
        barrier.wait()
        recorded[index] = drive()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return recorded


def test_two_runners_at_once_send_every_step_exactly_once(
    save_workflow, drive, fake_platforms, settings, caplog
):
    settings.WORKFLOW_RUNNERS = 2
    settings.WORKFLOW_MAX_IN_FLIGHT = 4  # small batches, so both runners get steps
    settings.SLACK_POOL_MAX = 2
    fake_platforms.set_delay("slack", 0.05)
    _start_runs(save_workflow, 40)
    with caplog.at_level(logging.INFO, logger="contexten.workflows"):
        recorded = _drive_concurrently(drive, 2)
    assert set(Run.objects.values_list("status", flat=True)) == {"succeeded"}
    assert set(StepRun.objects.values_list("attempts", flat=True)) == {1}
    texts = sorted(made["item"]["text"] for made in fake_platforms.created("slack"))
    assert texts == sorted(f"n={n}" for n in range(40))
    assert len(fake_platforms.calls("slack", "chat.postMessage")) == 40
    assert fake_platforms.duplicates() == {}
    assert sum(recorded) == 40
    leases = {r.message.split("lease=")[1] for r in caplog.records if "runner.start" in r.message}
    assert leases == {"runner:0", "runner:1"}


def test_a_third_runner_finds_both_leases_held_and_leaves_at_once(
    save_workflow, drive, fake_platforms, settings
):
    settings.WORKFLOW_RUNNERS = 2
    first, second, third = runner.Runner(), runner.Runner(), runner.Runner()
    assert first.acquire(wait_s=0) and second.acquire(wait_s=0)
    assert {first.lease, second.lease} == {"runner:0", "runner:1"}
    assert doorbell.runners_holding() == 2
    assert not third.acquire(wait_s=0)
    _start_runs(save_workflow, 3)
    assert drive() == 0  # the task leaves: nothing claimed, nothing sent
    assert fake_platforms.calls("slack") == []
    doorbell.release_lease(second.lease, second.id)
    assert third.acquire(wait_s=0) and third.lease == second.lease
    for holder in (first, third):
        doorbell.release_lease(holder.lease, holder.id)
    assert doorbell.runners_holding() == 0


@pytest.mark.parametrize("runners", [1, 3])
def test_no_more_runners_than_leases_ever_drive(
    save_workflow, drive, fake_platforms, settings, caplog, runners
):
    settings.WORKFLOW_RUNNERS = runners
    settings.WORKFLOW_MAX_IN_FLIGHT = 3
    settings.SLACK_POOL_MAX = 1
    fake_platforms.set_delay("slack", 0.05)
    _start_runs(save_workflow, 12)
    with caplog.at_level(logging.INFO, logger="contexten.workflows"):
        recorded = _drive_concurrently(drive, runners + 2)
    assert sum(recorded) == 12
    assert fake_platforms.duplicates() == {}
    assert len(fake_platforms.calls("slack", "chat.postMessage")) == 12
    starts = [r.message for r in caplog.records if "runner.start" in r.message]
    assert len(starts) <= runners
    assert all(message.split("lease=")[1].startswith("runner:") for message in starts)
    assert doorbell.runners_holding() == 0


def test_a_plain_ring_is_quiet_while_a_runner_holds_a_lease_and_a_grow_ring_is_not(
    db, settings, monkeypatch
):
    settings.WORKFLOW_RUNNERS = 3
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: queued.append(a))
    holder = runner.Runner()
    assert holder.acquire(wait_s=0)
    assert not doorbell.ring()
    assert doorbell.ring(grow=True)
    assert len(queued) == 2  # one task per free lease
    doorbell.release_lease(holder.lease, holder.id)


def test_a_step_task_hands_its_outcome_over_once_and_a_crashed_one_is_logged(caplog):
    """The done callback: an outcome goes to `finished` and wakes the loop's wait; a task
    that raised (execute_job classifies every error, so a bug) is logged and left to the
    heartbeat re-drive; a task already taken out (handed back) is ignored."""
    from orchestrator.workflows.steps import Job, Outcome

    driver = runner.Runner()

    def job(n: int) -> Job:
        return Job(n, f"t-{n}", 1, f"s{n}", "core.log", {}, 1.0, 1)

    async def crash() -> Outcome:
        raise RuntimeError("a bug")

    async def scenario() -> None:
        async def ok() -> Outcome:
            return Outcome(1, "t-1", "ok")

        tasks = {asyncio.create_task(ok()): job(1), asyncio.create_task(crash()): job(2)}
        handed_back = asyncio.create_task(ok())
        for task, held in tasks.items():
            driver.inflight[task] = held
            task.add_done_callback(driver._step_done)
        handed_back.add_done_callback(driver._step_done)  # never in inflight
        await asyncio.wait_for(asyncio.shield(driver._completion_waiter()), 5)
        await asyncio.gather(*tasks, handed_back, return_exceptions=True)
        await asyncio.sleep(0)  # the callbacks of the last tasks

    try:
        with caplog.at_level(logging.ERROR, logger="contexten.workflows"):
            asyncio.run(scenario())
    finally:
        driver.db_thread.shutdown()
        driver.record_thread.shutdown()
    assert [o.step_run_id for o in driver.finished] == [1], "one outcome, handed over once"
    assert driver.inflight == {}
    assert "workflows.step.lost step=s2" in caplog.text
