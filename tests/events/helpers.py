"""Test subscribers and a look into the doorbell queue, for the event store tests."""

from datetime import timedelta

from django.utils import timezone
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from orchestrator.events.fast_store import DISPATCH_MANY_TASK
from orchestrator.events.models import Event
from orchestrator.events.store import DISPATCH_TASK, doorbell_broker, store_payload

HEARD: list[int] = []


def record(event: Event) -> None:
    """A subscriber that remembers which event ids it heard."""
    assert isinstance(event, Event)
    HEARD.append(event.pk)


def explode(event: Event) -> None:
    raise RuntimeError(f"subscriber failed on {event.type}")


def queued_dispatches() -> list[int]:
    """Event ids whose dispatch doorbell is waiting in the broker (Redis or ORM)."""
    broker = doorbell_broker()
    if hasattr(broker.connection, "lrange"):
        packs = broker.connection.lrange(broker.list_key, 0, -1)
    else:
        packs = list(OrmQ.objects.values_list("payload", flat=True))
    ids = []
    for task in (SignedPackage.loads(pack) for pack in packs):
        if task["func"] == DISPATCH_TASK:
            ids.append(task["args"][0])
        elif task["func"] == DISPATCH_MANY_TASK:  # the fast path's batched doorbell
            ids.extend(task["args"][0])
    return ids


def make_event(delivery: str = "d-1", type: str = "github.push", **fields) -> Event:
    stored = store_payload("github", type, delivery, {"ref": "refs/heads/main"})
    if fields:
        Event.objects.filter(pk=stored.id).update(**fields)
    return Event.objects.get(pk=stored.id)


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)
