"""What keeps the event store fast at a million rows (figures: bench/scale_events.py): the
prune deletes in batches, the admin and the API never run a full COUNT(*), the filtered list
reads its index, and replay rings batched doorbells with progress."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orchestrator.core import pagination
from orchestrator.events import dispatch, store
from orchestrator.events.api import filter_events
from orchestrator.events.models import Event, Status
from tests.events.helpers import ago, make_event, queued_dispatches
from tests.plans import reads_index

pytestmark = pytest.mark.django_db
TABLE = Event._meta.db_table


def event_queries(captured, verb: str) -> list[str]:
    return [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith(verb) and TABLE in q["sql"]
    ]


def test_prune_deletes_in_batches_of_batch_rows(settings, monkeypatch):
    monkeypatch.setattr(dispatch, "BATCH", 3)
    settings.EVENT_RETENTION_DAYS = 7
    for n in range(10):
        make_event(f"old-{n}", status=Status.DONE, received_at=ago(days=8))
    kept = {make_event("recent", status=Status.DONE).pk, make_event("live").pk}
    with CaptureQueriesContext(connection) as captured:
        assert dispatch.prune_events() == 10
    assert len(event_queries(captured, "DELETE")) == 4  # 3 + 3 + 3 + 1
    assert set(Event.objects.values_list("pk", flat=True)) == kept


def test_prune_walks_the_primary_key_instead_of_rescanning(settings, monkeypatch):
    monkeypatch.setattr(dispatch, "BATCH", 2)
    settings.EVENT_RETENTION_DAYS = 7
    ids = [make_event(f"old-{n}", status=Status.DEAD, received_at=ago(days=9)).pk for n in range(5)]
    with CaptureQueriesContext(connection) as captured:
        dispatch.prune_events()
    selects = [q for q in event_queries(captured, "SELECT") if "LIMIT" in q]
    # Each batch starts after the last id of the one before: 0, ids[1], ids[3], ids[4].
    walked = [int(re.search(r'"id" > (\d+)', q).group(1)) for q in selects]
    assert walked == [0, ids[1], ids[3], ids[4]]


def test_admin_changelist_counts_at_most_the_cap(client, staff_user, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 5)
    for n in range(12):
        make_event(f"d-{n}")
    client.force_login(staff_user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/admin/events/event/")
    assert response.status_code == 200
    counts = [q for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the page still says how many events match"
    assert all("LIMIT 6" in q["sql"] for q in counts)
    assert not any("DISTINCT" in q for q in event_queries(captured, "SELECT"))


def test_api_list_counts_at_most_the_cap_and_estimates_above_it(api_client, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 5)
    for n in range(12):
        make_event(f"d-{n}")
    with CaptureQueriesContext(connection) as captured:
        body = api_client.get("/api/events/", {"source": "github"}).json()
    assert len(body["results"]) == 12
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 6" in sql for sql in counts)
    # Above the cap Postgres answers its planner's estimate; elsewhere the bounded count.
    assert body["count"] >= 6
    assert api_client.get("/api/events/", {"delivery_id": "d-3"}).json()["count"] == 1


def test_filtered_event_list_is_an_index_scan_of_source_type_time():
    make_event("d-1", "github.pull_request.opened", status=Status.DONE)
    params = {
        "source": "github",
        "type": "github.pull_request.opened",
        "status": "done",
        "since": "2026-01-01T00:00:00Z",
        "until": "2036-01-01T00:00:00Z",
    }
    page = filter_events(Event.objects.all(), params)[:50]
    assert reads_index(page, "event_source_type_time")


def test_replay_rings_batched_doorbells_and_reports_progress(monkeypatch):
    monkeypatch.setattr(dispatch, "BATCH", 20)
    events = [make_event(f"r-{n}", status=Status.DEAD) for n in range(45)]
    before = len(queued_dispatches())
    heard = []
    count = dispatch.replay(
        Event.objects.filter(status=Status.DEAD), progress=lambda *p: heard.append(p)
    )
    assert count == 45
    assert heard == [(20, 45), (40, 45), (45, 45)]
    rung = queued_dispatches()[before:]
    assert sorted(rung) == sorted(e.pk for e in events)
    assert store.DOORBELL_BATCH < 45  # so the 45 went out as several batched tasks
