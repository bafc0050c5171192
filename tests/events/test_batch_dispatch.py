"""Batched dispatch: one doorbell task claims many events, subscribers hear the batch, the
runs of a batch are written together, and two dispatchers never claim the same event."""

import threading

import pytest
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from extensions import lifecycle
from orchestrator.events import dispatch
from orchestrator.events import subscribers as registry
from orchestrator.events.dispatch import dispatch_events
from orchestrator.events.models import Event, Status
from orchestrator.workflows import definitions, engine, triggers
from orchestrator.workflows.models import Run, StepRun, Workflow
from tests.events import helpers

pytestmark = pytest.mark.django_db(transaction=True)
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement batch is the Postgres path"
)


def bulk_events(count: int, type: str = "github.issues.opened", source: str = "github"):
    """Stored `received` events, oldest first, without ringing (as if the doorbells were lost)."""
    Event.objects.bulk_create(
        Event(source=source, type=type, delivery_id=f"bulk-{source}-{n}", data={"n": n})
        for n in range(count)
    )
    return list(Event.objects.filter(source=source).order_by("id").values_list("id", flat=True))


def issue_workflow():
    return definitions.create_workflow(
        {"name": "on-issue", "trigger": {"event": "github.issues.*"},
         "steps": [{"id": "a", "action": "core.log", "with": {"message": "x"}},
                   {"id": "b", "action": "core.log", "needs": ["a"], "with": {"message": "y"}}]}
    )  # fmt: skip


def test_one_doorbell_task_drains_waiting_events_in_batches(subscribers, monkeypatch):
    monkeypatch.setattr(dispatch, "DRAIN", 200)
    ids = bulk_events(500)
    assert dispatch_events([ids[-1]]) == {"done": 201}  # its own, and the 200 oldest
    assert dispatch_events([]) == {"done": 200}
    assert dispatch_events([]) == {"done": 99}
    assert dispatch_events([ids[0]]) == {}  # already dispatched: nothing to claim
    assert sorted(subscribers) == ids
    assert set(Event.objects.values_list("status", "attempts")) == {(Status.DONE, 1)}


def test_a_batch_that_fails_is_retried_event_by_event(monkeypatch):
    helpers.HEARD.clear()
    monkeypatch.setattr(registry, "EVENT_SUBSCRIBERS", ["tests.events.helpers.explode_on_push"])
    ids = bulk_events(3)
    push = helpers.make_event("the-push", type="github.push")
    assert dispatch_events([push.pk]) == {"done": 3, "failed": 1}
    assert sorted(helpers.HEARD) == ids
    push.refresh_from_db()
    assert push.status == Status.FAILED
    assert "RuntimeError: subscriber failed on github.push" in push.last_error


def test_draining_leaves_a_disabled_extensions_events_waiting(subscribers):
    held = bulk_events(3, source="linear", type="linear.issue.create")
    ids = bulk_events(2)
    lifecycle.set_enabled("linear", False)
    assert dispatch_events([]) == {"done": 2}
    assert sorted(subscribers) == ids
    assert set(Event.objects.filter(pk__in=held).values_list("status", "attempts")) == {
        (Status.RECEIVED, 0)
    }
    assert dispatch_events(held[:1]) == {"held": 1}  # its own doorbell: held, not dispatched


def test_a_batch_of_events_starts_one_run_per_event_and_workflow():
    issue_workflow()
    ids = bulk_events(50)
    assert dispatch_events(ids) == {"done": 50}
    assert Run.objects.count() == 50
    assert set(Run.objects.values_list("event_id", flat=True)) == set(ids)
    assert StepRun.objects.filter(step_id="a", status="ready").count() == 50
    assert StepRun.objects.filter(step_id="b", status="pending").count() == 50
    Event.objects.filter(pk__in=ids).update(status=Status.RECEIVED)  # a replay
    assert dispatch_events(ids) == {"done": 50}
    assert Run.objects.count() == 50


@postgres_only
def test_dispatching_500_events_takes_a_bounded_number_of_statements():
    issue_workflow()
    ids = bulk_events(500)
    triggers.CACHE.current()  # the compiled triggers, as a warm worker holds them
    engine.plan_for(Workflow.objects.get().current_version_id)
    with CaptureQueriesContext(connection) as queries:
        assert dispatch_events(ids) == {"done": 500}
    assert Run.objects.count() == 500
    assert StepRun.objects.count() == 1000
    # the claim, three run statements (200 runs each) and the done UPDATE;
    # one event at a time was three statements per event (1,500).
    assert len(queries) <= 8, [q["sql"][:80] for q in queries]


@postgres_only
def test_two_concurrent_dispatchers_never_claim_the_same_event(monkeypatch):
    monkeypatch.setattr(dispatch, "DRAIN", 25)
    issue_workflow()
    ids = bulk_events(600)
    claimed: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def dispatcher(number: int) -> None:
        try:
            start.wait()
            while counts := dispatch_events([]):
                claimed[number].append(sum(counts.values()))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert sum(claimed[0]) + sum(claimed[1]) == 600
    assert set(Event.objects.values_list("status", "attempts")) == {(Status.DONE, 1)}
    assert sorted(Run.objects.values_list("event_id", flat=True)) == ids


def test_a_claim_takes_turns_by_type_so_a_burst_ahead_does_not_hold_another_type(subscribers):
    burst = bulk_events(300, type="github.pull_request.opened")
    [issue_id] = bulk_events(1, type="linear.issue.create", source="linear")
    # A dispatcher rung for the burst's first ids (the issue's id is far behind them on the
    # list) claims the issue too: each type's oldest waiting event comes before any type's
    # second, and the issue is among the newest waiting.
    assert dispatch_events(burst[:10], drain=10) == {"done": 20}
    assert Event.objects.get(pk=issue_id).status == Status.DONE
    # Within one type the order stays oldest first.
    assert sorted(subscribers) == [*burst[:19], issue_id]


def test_an_exact_dispatch_claims_only_its_own_events(subscribers):
    ids = bulk_events(5)
    assert dispatch_events(ids[3:], drain=0) == {"done": 2}
    assert sorted(subscribers) == ids[3:]


def test_the_few_events_of_other_types_in_a_bursts_batch_go_to_the_subscribers_first(
    subscribers,
):
    burst = bulk_events(30, type="github.pull_request.opened")
    issues = bulk_events(3, type="linear.issue.create", source="linear")
    assert dispatch_events([*burst, *issues], drain=0) == {"done": 33}
    assert subscribers[:3] == issues, "the issues' runs are written before the burst's"
    assert sorted(subscribers[3:]) == burst
    assert set(Event.objects.values_list("status", flat=True)) == {Status.DONE}


def test_a_batch_of_one_type_or_of_even_types_is_one_turn():
    def events(*types: str) -> list[Event]:
        return [Event(pk=n, type=type) for n, type in enumerate(types)]

    assert dispatch.turns(events(*["a"] * 10)) == [events(*["a"] * 10)]
    even = events(*["a", "b"] * 5)
    assert dispatch.turns(even) == [even]
    mixed = events(*["a"] * 9, "b", "c")
    assert [[e.type for e in turn] for turn in dispatch.turns(mixed)] == [["b", "c"], ["a"] * 9]
    assert dispatch.turns([]) == []
