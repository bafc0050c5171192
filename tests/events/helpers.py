"""Test subscribers and a look into the doorbell queue, for the event store tests."""

from datetime import timedelta

from django.utils import timezone
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from orchestrator.events.fast_store import DISPATCH_MANY_TASK
from orchestrator.events.models import Event
from orchestrator.events.store import doorbell_broker, store_payload

HEARD: list[int] = []


def record(events: list[Event]) -> None:
    """A subscriber that remembers which event ids it heard."""
    assert all(isinstance(event, Event) for event in events)
    HEARD.extend(event.pk for event in events)


def explode(events: list[Event]) -> None:
    raise RuntimeError(f"subscriber failed on {events[0].type}")


def explode_on_push(events: list[Event]) -> None:
    """Fails a batch holding a push; heard alone, every other event succeeds."""
    if any(event.type == "github.push" for event in events):
        raise RuntimeError("subscriber failed on github.push")
    HEARD.extend(event.pk for event in events)


def queued_dispatches() -> list[int]:
    """Event ids whose dispatch doorbell is waiting in the broker (Redis or ORM)."""
    broker = doorbell_broker()
    if hasattr(broker.connection, "lrange"):
        packs = broker.connection.lrange(broker.list_key, 0, -1)
    else:
        packs = list(OrmQ.objects.values_list("payload", flat=True))
    ids = []
    for task in (SignedPackage.loads(pack) for pack in packs):
        if task["func"] == DISPATCH_MANY_TASK:
            ids.extend(task["args"][0])
    return ids


def make_event(delivery: str = "d-1", type: str = "github.push", **fields) -> Event:
    stored = store_payload("github", type, delivery, {"ref": "refs/heads/main"})
    if fields:
        Event.objects.filter(pk=stored.id).update(**fields)
    return Event.objects.get(pk=stored.id)


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)
