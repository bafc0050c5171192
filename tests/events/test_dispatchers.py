"""Dispatcher threads take event doorbells off a Redis list, without django-q2 tasks.

Promise (events/dispatchers.py): while a dispatcher is alive, a stored event's doorbell is its
id on the list, and a dispatcher thread dispatches it; no django-q2 task is queued. When the
last dispatcher leaves, doorbells are tasks again. Without Redis no dispatcher starts, and
the doorbell stays the django-q2 task on the ORM broker.
"""

import threading

import pytest
from django_q.conf import Conf

from orchestrator.core import backends
from orchestrator.events import dispatchers
from orchestrator.events.models import Event, Status
from orchestrator.events.store import store_payload
from orchestrator.workflows import runner_process
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_value_that_is_no_event_id_is_logged_and_the_ids_kept(caplog):
    assert dispatchers.event_ids([b"12", b"not-an-id", b"7"]) == [12, 7]
    assert "events.dispatcher.not-an-event-id value=b'not-an-id'" in caplog.text
    assert "redis-unavailable" not in caplog.text


def forget_alive_count():
    dispatchers._alive["read_at"] = -dispatchers.ALIVE_CACHE_S


def test_dispatcher_threads_dispatch_the_rung_events_and_no_task_is_queued(subscribers, settings):
    settings.DISPATCHER_THREADS = 3
    if not backends.redis_configured():
        assert runner_process.start_dispatchers() == [], "no Redis: no list to wait on"
        return
    from orchestrator.core.redis import key, redis_client

    client, tasks = redis_client(), f"django_q:{Conf.CLUSTER_NAME}:q"
    client.delete(key(dispatchers.READY), key(dispatchers.PRESENT), tasks)
    started = runner_process.start_dispatchers()
    assert len(started) == 3, "DISPATCHER_THREADS threads in one process"
    try:
        forget_alive_count()
        wait_until(lambda: dispatchers.dispatchers_alive() == 3, 20, "the three presences")
        stored = [store_payload("github", "issues.opened", f"d-{n}", {"n": n}) for n in range(5)]
        ids = [s.id for s in stored]
        wait_until(
            lambda: Event.objects.filter(pk__in=ids, status=Status.DONE).count() == 5,
            20,
            "all five dispatched",
        )
        assert sorted(subscribers) == sorted(ids), "each heard once, by the subscriber"
        assert client.llen(tasks) == 0, "no django-q2 task was queued for them"
        assert sum(dispatcher.dispatched for dispatcher in started) == 5
    finally:
        for dispatcher in started:
            dispatcher.stop()
        for dispatcher in started:
            dispatcher.join(5)
    assert not any(dispatcher.is_alive() for dispatcher in started)
    forget_alive_count()
    assert dispatchers.dispatchers_alive() == 0, "stopped dispatchers leave at once"
    store_payload("github", "issues.opened", "after", {"n": 99})
    assert client.llen(tasks) == 1, "with no dispatcher left, the doorbell is a task again"
    assert client.llen(key(dispatchers.READY)) == 0


class PushingDuringTheLinger(threading.Event):
    """A dispatcher's `stopped` whose waits push `ids` onto the list, as if a doorbell rang
    during the linger: the test depends on no timing."""

    def __init__(self, client, list_key, ids):
        super().__init__()
        self.client, self.list_key, self.ids, self.waits = client, list_key, ids, []

    def wait(self, timeout=None):
        self.waits.append(timeout)
        self.client.rpush(self.list_key, *self.ids)
        return False


def test_ids_rung_during_the_linger_share_the_first_ones_batch(settings):
    """The linger (DISPATCH_LINGER_MS) is what turns ids arriving one by one into batches."""
    if not backends.redis_configured():
        assert runner_process.start_dispatchers() == [], "no Redis: no list to linger on"
        return
    from orchestrator.core.redis import key, redis_client

    client, ready = redis_client(), key(dispatchers.READY)
    client.delete(ready)
    dispatcher = dispatchers.Dispatcher()
    settings.DISPATCH_LINGER_MS = 300
    dispatcher.stopped = PushingDuringTheLinger(client, ready, [12, 13])
    client.rpush(ready, 11)
    assert dispatcher._take() == [11, 12, 13], "the ids rung during the linger share its batch"
    assert dispatcher.stopped.waits == [0.3], "it lingered DISPATCH_LINGER_MS, once"

    settings.DISPATCH_LINGER_MS = 0
    dispatcher.stopped = PushingDuringTheLinger(client, ready, [22])
    client.rpush(ready, 21)
    assert dispatcher._take() == [21], "no linger: the batch is what was waiting"
    assert dispatcher.stopped.waits == [], "and it did not wait at all"
    client.delete(ready)
