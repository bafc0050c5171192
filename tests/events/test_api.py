"""REST: list and filter events, CloudEvents shape, dead letters, replay one and by filter."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orchestrator.events.models import Event, Status
from tests.events.helpers import ago, make_event, queued_dispatches

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/events/"


@pytest.fixture
def history():
    return {
        "opened": make_event("1", "github.pull_request.opened", received_at=ago(hours=3)),
        "closed": make_event("2", "github.pull_request.closed", received_at=ago(hours=2)),
        "push": make_event("3", "github.push", status=Status.DEAD, received_at=ago(hours=1)),
        "issue": Event.objects.create(
            source="linear", type="linear.issue.create", delivery_id="4", data={"type": "Issue"}
        ),
    }


def ids(response) -> set[int]:
    return {int(item["id"]) for item in response.json()["results"]}


def test_list_requires_authentication(client):
    assert client.get(URL).status_code in {401, 403}


def test_list_is_paginated_with_count_newest_first(api_client, history):
    response = api_client.get(URL, {"limit": 2})
    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 4
    assert len(body["results"]) == 2
    assert body["results"][0]["id"] == str(history["issue"].pk)
    assert body["next"]


def test_event_is_rendered_with_cloudevents_attributes(api_client, history):
    event = history["opened"]
    body = api_client.get(f"{URL}{event.pk}/").json()
    assert body["specversion"] == "1.0"
    assert (body["id"], body["source"], body["type"]) == (
        str(event.pk), "github", "github.pull_request.opened",
    )  # fmt: skip
    assert body["time"].startswith(str(event.received_at.year))
    assert body["data"] == {"ref": "refs/heads/main"}
    assert (body["status"], body["attempts"], body["delivery_id"]) == ("received", 0, "1")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"source": "linear"}, {"issue"}),
        ({"type": "github.pull_request.*"}, {"opened", "closed"}),
        ({"type": "github.push"}, {"push"}),
        ({"type": "*.create"}, {"issue"}),
        ({"status": "dead"}, {"push"}),
        ({"delivery_id": "2"}, {"closed"}),
    ],
)
def test_list_filters(api_client, history, query, expected):
    assert ids(api_client.get(URL, query)) == {history[name].pk for name in expected}


def test_list_filters_by_received_time_range(api_client, history):
    since = (timezone.now() - timedelta(hours=2, minutes=30)).isoformat()
    until = (timezone.now() - timedelta(minutes=30)).isoformat()
    response = api_client.get(URL, {"since": since, "until": until})
    assert ids(response) == {history["closed"].pk, history["push"].pk}


@pytest.mark.parametrize(
    "query", [{"status": "lost"}, {"since": "yesterday"}, {"until": "2026-13-45"}]
)
def test_malformed_filter_is_400_with_message(api_client, history, query):
    response = api_client.get(URL, query)
    assert response.status_code == 400
    assert response.json()["error"]


def test_unknown_event_is_404(api_client):
    assert api_client.get(f"{URL}999999/").status_code == 404


def test_replay_one_resets_a_dead_event_and_rings(api_client, history):
    event = history["push"]
    response = api_client.post(f"{URL}{event.pk}/replay/")
    assert response.status_code == 200
    assert response.json() == {"replayed": 1}
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.RECEIVED, 0)
    assert event.pk in queued_dispatches()


def test_bulk_replay_by_filter_replays_only_matches(api_client, history):
    Event.objects.update(status=Status.DONE)
    response = api_client.post(f"{URL}replay/", {"type": "github.pull_request.*"}, format="json")
    assert response.json() == {"replayed": 2}
    replayed = set(Event.objects.filter(status=Status.RECEIVED).values_list("pk", flat=True))
    assert replayed == {history["opened"].pk, history["closed"].pk}


def test_bulk_replay_of_dead_letters_by_query_string(api_client, history):
    response = api_client.post(f"{URL}replay/?status=dead")
    assert response.json() == {"replayed": 1}


def test_bulk_replay_without_any_filter_is_refused(api_client, history):
    response = api_client.post(f"{URL}replay/", {}, format="json")
    assert response.status_code == 400
    assert "filter" in response.json()["error"]
    assert not Event.objects.filter(status=Status.RECEIVED, delivery_id="3").exists()


def test_events_are_read_only_through_the_api(api_client, history):
    assert api_client.post(URL, {"source": "github"}, format="json").status_code == 405
    assert api_client.delete(f"{URL}{history['push'].pk}/").status_code == 405
