"""Backlog figures: exact for a scrape or a detection round, capped for the dashboard, whose
count must not cost more the deeper the backlog grows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orchestrator.events.models import Status
from orchestrator.health import queues
from orchestrator.health.snapshot import build_snapshot
from tests.events.helpers import ago, make_event

pytestmark = pytest.mark.django_db


def waiting_events(count: int) -> None:
    for number in range(count):
        make_event(f"wait-{number}", received_at=ago(seconds=10 + number))


def test_an_uncapped_backlog_is_exact_and_its_oldest_spans_every_waiting_status():
    waiting_events(4)
    make_event("failed-old", status=Status.FAILED, received_at=ago(seconds=300))
    make_event("done-older", status=Status.DONE, received_at=ago(seconds=900))
    backlog = queues.event_backlog()
    assert backlog["depth"] == 5 and backlog["at_least"] is False
    assert 299 < backlog["oldest_age_seconds"] < 400  # the failed one; done events do not wait


def test_a_capped_count_stops_at_the_cap_and_says_so():
    waiting_events(5)
    assert queues.event_backlog(cap=3)["depth"] == 3
    assert queues.event_backlog(cap=3)["at_least"] is True
    assert queues.event_backlog(cap=5) | {"oldest_age_seconds": 0} == {
        "depth": 5, "at_least": False, "oldest_age_seconds": 0
    }  # fmt: skip


def test_the_capped_count_reads_at_most_one_row_past_the_cap():
    waiting_events(3)
    with CaptureQueriesContext(connection) as queries:
        queues.event_backlog(cap=2)
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and "LIMIT 3" in counts[0].upper()


def test_the_dashboard_counts_up_to_its_cap(monkeypatch):
    monkeypatch.setattr(queues, "DASHBOARD_COUNT_CAP", 2)
    waiting_events(3)
    events = build_snapshot()["queues"]["events"]
    assert (events["depth"], events["at_least"]) == (2, True)
