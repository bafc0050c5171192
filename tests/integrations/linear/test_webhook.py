"""Linear webhooks: signed body, 60 s timestamp window, snake_case types, delivery dedupe."""

import json
import time

import pytest

from tests.integrations.webhooks import (
    event_and_variant,
    fixture_paths,
    linear_body,
    linear_headers,
    load,
    post,
    stored_events,
    webhook_secrets,  # noqa: F401 - fixture
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_secrets")]
URL = "/webhooks/linear/"


@pytest.mark.parametrize("path", fixture_paths("linear"), ids=lambda path: path.stem)
def test_fixture_is_stored_as_linear_snake_type_and_action(client, path):
    event, variant = event_and_variant(path)
    body = linear_body(json.loads(path.read_text()))
    response = post(client, URL, body, linear_headers(body, delivery="del-" + path.stem))
    assert response.status_code == 202, response.content
    [stored] = stored_events()
    assert stored.type == f"linear.{event}.{variant}"
    assert stored.delivery_id == "del-" + path.stem
    assert stored.data == json.loads(body)


def test_issue_label_type_is_snake_cased(client):
    body = linear_body(load("linear", "issue_label__create"))
    post(client, URL, body, linear_headers(body))
    assert stored_events()[0].type == "linear.issue_label.create"


def test_without_delivery_header_dedupes_on_webhook_id_and_timestamp(client):
    body = linear_body(load("linear", "issue__create"))
    first = post(client, URL, body, linear_headers(body, delivery=False))
    again = post(client, URL, body, linear_headers(body, delivery=False))
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["duplicate"] is True
    payload = json.loads(body)
    assert stored_events()[0].delivery_id == f"{payload['webhookId']}:{payload['webhookTimestamp']}"


def test_redelivery_with_same_header_is_duplicate(client):
    body = linear_body(load("linear", "comment__create"))
    post(client, URL, body, linear_headers(body, delivery="same"))
    response = post(client, URL, body, linear_headers(body, delivery="same"))
    assert response.status_code == 200
    assert len(stored_events()) == 1


# Past the window by a margin: the clock moves on while the request is handled.
@pytest.mark.parametrize("skew", [-65, 65, -3600, 86400])
def test_timestamp_outside_60_seconds_is_401(client, skew):
    body = linear_body(load("linear", "issue__create"), sent_at=time.time() + skew)
    response = post(client, URL, body, linear_headers(body))
    assert response.status_code == 401
    assert stored_events() == []


def test_timestamp_within_window_is_accepted(client):
    body = linear_body(load("linear", "issue__create"), sent_at=time.time() - 50)
    assert post(client, URL, body, linear_headers(body)).status_code == 202


def test_signed_body_without_timestamp_is_401(client):
    payload = load("linear", "issue__create")
    del payload["webhookTimestamp"]
    body = json.dumps(payload).encode()
    assert post(client, URL, body, linear_headers(body)).status_code == 401


def test_missing_or_bad_signature_is_401(client):
    body = linear_body(load("linear", "issue__create"))
    headers = linear_headers(body)
    assert (
        post(client, URL, body, {**headers, "HTTP_LINEAR_SIGNATURE": "00" * 32}).status_code == 401
    )
    del headers["HTTP_LINEAR_SIGNATURE"]
    assert post(client, URL, body, headers).status_code == 401
    assert stored_events() == []


@pytest.mark.parametrize("missing", ["type", "action"])
def test_payload_without_type_or_action_is_400(client, missing):
    payload = load("linear", "issue__create")
    del payload[missing]
    body = linear_body(payload)
    assert post(client, URL, body, linear_headers(body)).status_code == 400


def test_deeply_nested_signed_body_is_400(client):
    body = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    assert post(client, URL, body, linear_headers(body)).status_code == 400


def test_no_secret_is_503(client, settings):
    settings.LINEAR_WEBHOOK_SECRET = ""
    body = linear_body(load("linear", "issue__create"))
    response = post(client, URL, body, linear_headers(body))
    assert response.status_code == 503
    assert "LINEAR_WEBHOOK_SECRET" in response.json()["error"]


def test_legacy_route_is_an_alias(client):
    body = linear_body(load("linear", "issue__create"))
    assert post(client, "/linear/events", body, linear_headers(body)).status_code == 202
