"""Runs planned where a webhook is stored (workflows/at_ingest.py): what the snapshot decides,
and, through the ASGI fast path on Postgres with Redis, the event stored `done` with its run
in one statement; everything it cannot decide goes to the dispatchers as before."""

import asyncio
import json

import pytest
from django.db import connection

from extensions import registry
from orchestrator.core import backends, generations, presence
from orchestrator.events import dispatchers
from orchestrator.events.models import Event, Status
from orchestrator.workflows import at_ingest, triggers
from orchestrator.workflows.definitions import create_workflow
from orchestrator.workflows.leases import WAKE, redis_key
from orchestrator.workflows.models import Run, RunStatus, StepRun, StepStatus
from tests.events.helpers import queued_dispatches
from tests.events.test_fast_path import run, signed_post
from tests.integrations.webhooks import load, webhook_secrets  # noqa: F401 - fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_secrets")]
OPENED = "github.pull_request.opened"


def notify_on(event: str, name: str = "notify", **extra) -> dict:
    return {
        "name": name,
        "trigger": {"event": event, **({"when": extra.pop("when")} if "when" in extra else {})},
        "steps": [{"id": "say", "action": "slack.post_message",
                   "with": {"channel": "#eng", "text": "{{ event.data.number }}"}}],
        **extra,
    }  # fmt: skip


def snapshot() -> at_ingest.Snapshot:
    triggers.CACHE.invalidate()
    return at_ingest.take_snapshot()


def plan(event_type: str = OPENED, source: str = "github", data: dict | None = None):
    body = json.dumps(data or {"number": 7})
    return at_ingest.plan(snapshot(), source, event_type, "d-1", body)


def test_a_matching_workflow_is_planned_with_its_steps_pinned():
    workflow = create_workflow(notify_on(OPENED))
    create_workflow(notify_on("github.issues.*", name="other"))
    planned = plan()
    assert planned.runs == [[workflow.pk, workflow.current_version_id]]
    version = registry.installed()["slack"].version
    assert planned.steps == [
        [workflow.pk, "say", "slack.post_message", "slack", version, 0, StepStatus.READY]
    ]


def test_no_matching_workflow_plans_no_run_and_a_glob_matches():
    assert plan("github.push").runs == []
    workflow = create_workflow(notify_on("github.pull_request.*"))
    assert [run[0] for run in plan().runs] == [workflow.pk]


def test_what_the_snapshot_cannot_decide_is_left_to_the_dispatchers():
    create_workflow(notify_on(OPENED, concurrency=1))
    assert plan() is None, "a concurrency cap takes the dispatchers' path"


def test_a_disabled_extensions_event_is_left_to_the_dispatchers():
    create_workflow(notify_on(OPENED))
    taken = snapshot()
    assert at_ingest.plan(taken, "github", OPENED, "d-1", "{}").runs, "enabled: planned"
    item = taken.installed["github"]
    switched_off = type(item)(item.name, False, item.version, item.versions)
    disabled = {**taken.installed, "github": switched_off}
    held = at_ingest.Snapshot(taken.index, taken.plans, disabled, taken.extensions_token)
    assert at_ingest.plan(held, "github", OPENED, "d-1", "{}") is None


def test_a_when_is_evaluated_and_one_reading_the_id_is_left_to_the_dispatchers():
    create_workflow(notify_on(OPENED, when="event.data.number > 5"))
    assert len(plan(data={"number": 7}).runs) == 1
    assert plan(data={"number": 3}).runs == []
    Run.objects.all().delete()
    create_workflow(notify_on(OPENED, name="by-delivery", when="event.delivery_id == 'd-1'"))
    assert len(plan(data={"number": 7}).runs) == 2, "the delivery id is known before the insert"
    create_workflow(notify_on(OPENED, name="by-id", when="event.id > 0"))
    assert plan() is None, "the id is not known before the insert"


# --- through the fast path -------------------------------------------------------------------
def planning_available() -> bool:
    return connection.vendor == "postgresql" and backends.redis_configured()


@pytest.fixture
def dispatcher_alive():
    """A dispatcher's presence, as a runner process keeps it (the web plans only then)."""
    if not planning_available():
        yield None
        return
    from orchestrator.core.redis import key, redis_client

    client = redis_client()
    client.delete(key(dispatchers.READY), redis_key(WAKE))
    pipe = client.pipeline()
    presence.renew(pipe, key(dispatchers.PRESENT), "test-dispatcher", 30)
    pipe.execute()
    yield client
    client.zrem(key(dispatchers.PRESENT), "test-dispatcher")
    client.delete(key(dispatchers.READY), redis_key(WAKE))


def rung_dispatchers(client) -> list[int]:
    from orchestrator.core.redis import key

    return [int(value) for value in client.lrange(key(dispatchers.READY), 0, -1)]


async def posted(*deliveries: str, bump_between: bool = False) -> list[int]:
    """Warm this loop's planner (its first refresh may take longer than a webhook waits),
    then post the deliveries one after another; answer the statuses."""
    await at_ingest.planner()._refresh()
    statuses = []
    for delivery in deliveries:
        statuses.append((await signed_post(load("github", "pull_request__opened"), delivery))[0])
        if bump_between:  # an extension changed: the snapshot's token is no longer current
            await asyncio.to_thread(bump_extensions)
    return statuses


def bump_extensions() -> None:
    from django.db import close_old_connections

    generations.bump(registry.GENERATION_NAME)
    close_old_connections()


def test_a_planned_event_goes_in_done_with_its_run_and_rings_the_runners(dispatcher_alive):
    workflow = create_workflow(notify_on(OPENED))
    assert run(posted("plan-1", "plan-1")) == [202, 200]
    [event] = Event.objects.all()
    if dispatcher_alive is None:  # SQLite, or no Redis: the dispatchers' path, unchanged
        assert (event.status, queued_dispatches()) == (Status.RECEIVED, [event.id])
        assert not Run.objects.exists()
        return
    assert (event.status, event.attempts) == (Status.DONE, 0)
    assert event.finished_at is not None
    [created] = Run.objects.filter(event=event)
    assert (created.workflow_id, created.status) == (workflow.pk, RunStatus.RUNNING)
    [step] = StepRun.objects.filter(run=created)
    assert (step.step_id, step.status, step.extension) == ("say", StepStatus.READY, "slack")
    assert step.ready_at is not None and step.next_attempt_at is not None
    assert dispatcher_alive.llen(redis_key(WAKE)) >= 1, "the runners were rung"
    assert rung_dispatchers(dispatcher_alive) == [], "no dispatcher was rung for it"


def test_an_extension_change_after_the_snapshot_sends_the_event_to_the_dispatchers(
    dispatcher_alive,
):
    create_workflow(notify_on(OPENED))
    assert run(posted("first", "second", bump_between=True)) == [202, 202]
    first, second = Event.objects.order_by("id")
    if dispatcher_alive is None:
        assert {first.status, second.status} == {Status.RECEIVED}
        return
    assert first.status == Status.DONE and Run.objects.filter(event=first).count() == 1
    assert (second.status, second.finished_at) == (Status.RECEIVED, None)
    assert not Run.objects.filter(event=second).exists(), "no run on a stale snapshot"
    assert rung_dispatchers(dispatcher_alive) == [second.id], "the dispatchers take it"
