"""The admin: a product surface for operators, with filters, search, payload and replay."""

import pytest

from orchestrator.events.models import Status
from tests.events.helpers import make_event, queued_dispatches

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = "/admin/events/event/"


@pytest.fixture
def operator(client, staff_user):
    client.force_login(staff_user)
    return client


def test_changelist_lists_events_with_status_and_type(operator):
    make_event("abc-123", "github.pull_request.opened")
    response = operator.get(CHANGELIST)
    assert response.status_code == 200
    assert b"github.pull_request.opened" in response.content
    assert b"Replay selected events" in response.content


def test_changelist_filters_by_status(operator):
    make_event("keep", "github.push", status=Status.DEAD)
    make_event("hide", "github.ping")
    response = operator.get(CHANGELIST, {"status__exact": "dead"})
    assert b"github.push" in response.content
    assert b"github.ping" not in response.content


def test_search_finds_an_event_by_delivery_id(operator):
    make_event("needle-42", "github.push")
    make_event("hay-1", "github.ping")
    response = operator.get(CHANGELIST, {"q": "needle-42"})
    assert b"github.push" in response.content
    assert b"github.ping" not in response.content


def test_detail_shows_the_payload_pretty_and_read_only(operator):
    event = make_event("d-1")
    response = operator.get(f"{CHANGELIST}{event.pk}/change/")
    assert response.status_code == 200
    assert b"&quot;ref&quot;: &quot;refs/heads/main&quot;" in response.content
    assert b'name="_save"' not in response.content


def test_replay_selected_action_requeues_the_events(operator):
    event = make_event("dead-1", status=Status.DEAD, attempts=5)
    response = operator.post(
        CHANGELIST, {"action": "replay_selected", "_selected_action": [event.pk]}, follow=True
    )
    assert b"Replaying 1 event(s)." in response.content
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.RECEIVED, 0)
    assert queued_dispatches().count(event.pk) == 2


def test_events_cannot_be_added_by_hand(operator):
    assert operator.get(f"{CHANGELIST}add/").status_code == 403
