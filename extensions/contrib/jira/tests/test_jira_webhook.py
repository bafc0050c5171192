"""Jira webhooks at /webhooks/jira/: X-Hub-Signature over the raw body, an hour's window,
dedupe on X-Atlassian-Webhook-Identifier, and every refusal a 4xx that stores nothing."""

import json
import logging

import pytest
from jira_testing import (
    SECRET,
    body_of,
    event_and_variant,
    fixture_paths,
    headers_for,
    load,
    post,
    signature,
)

from contexten_jira.webhook import event_type

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch, settings):
    """The schema's default `env:JIRA_WEBHOOK_SECRET`, set in the environment."""
    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", SECRET)
    for name in ("JIRA_BASE_URL", "JIRA_EMAIL", "JIRA_API_TOKEN"):
        monkeypatch.setenv(name, "unused-by-the-webhook")
    settings.WEBHOOK_ALLOW_UNSIGNED = []


def stored_events() -> list:
    from orchestrator.events.models import Event

    return list(Event.objects.filter(source="jira").order_by("id"))


@pytest.mark.parametrize("path", fixture_paths(), ids=lambda path: path.stem)
def test_fixture_is_stored_with_its_dotted_type(client, path):
    event, _variant = event_and_variant(path)
    body = body_of(json.loads(path.read_text()))
    response = post(client, body, headers_for(body, identifier=f"wh-{path.stem}"))
    assert response.status_code == 202, response.content
    [stored] = stored_events()
    entity, action = event.removeprefix("jira:").split("_", 1)
    assert stored.type == f"jira.{entity}.{action}"
    assert stored.delivery_id == f"wh-{path.stem}"
    assert stored.data == json.loads(body)


@pytest.mark.parametrize(
    ("webhook_event", "expected"),
    [
        ("jira:issue_created", "jira.issue.created"),
        ("comment_created", "jira.comment.created"),
        ("issue_property_set", "jira.issue.property_set"),
        ("jira:worklog_updated", "jira.worklog.updated"),
    ],
)
def test_event_type_is_entity_then_action(webhook_event, expected):
    assert event_type(webhook_event) == expected


def test_a_retried_delivery_is_a_duplicate(client):
    body = body_of(load("comment_created__default"))
    first = post(client, body, headers_for(body, identifier="same-delivery"))
    retry = post(client, body, {**headers_for(body, identifier="same-delivery"),
                                "HTTP_X_ATLASSIAN_WEBHOOK_RETRY": "1"})  # fmt: skip
    assert (first.status_code, retry.status_code) == (202, 200)
    assert retry.json()["duplicate"] is True
    assert len(stored_events()) == 1


def refused(client, body: bytes, headers: dict, status: int, slug: str, caplog) -> dict:
    with caplog.at_level(logging.WARNING, logger="contexten.webhooks"):
        response = post(client, body, headers)
    assert response.status_code == status, response.content
    assert f"jira.webhook.{slug}" in caplog.messages
    assert stored_events() == []
    return response.json()


def test_wrong_secret_is_401_invalid_signature(client, caplog):
    body = body_of(load("jira:issue_created__default"))
    headers = headers_for(body, secret="a-different-secret")
    answer = refused(client, body, headers, 401, "invalid-signature", caplog)
    assert answer == {"error": "signature does not match the body"}


def test_body_changed_after_signing_is_401(client, caplog):
    body = body_of(load("jira:issue_created__default"))
    headers = headers_for(body)
    tampered = body.replace(b"ENG-42", b"ENG-43")
    refused(client, tampered, headers, 401, "invalid-signature", caplog)


def test_missing_signature_is_401(client, caplog):
    body = body_of(load("jira:issue_created__default"))
    headers = headers_for(body)
    del headers["HTTP_X_HUB_SIGNATURE"]
    refused(client, body, headers, 401, "missing-signature", caplog)


def test_sha1_signature_is_401_unsupported(client, caplog):
    body = body_of(load("jira:issue_created__default"))
    headers = {**headers_for(body), "HTTP_X_HUB_SIGNATURE": "sha1=" + "0" * 40}
    refused(client, body, headers, 401, "unsupported-signature", caplog)


def test_missing_delivery_identifier_is_400(client, caplog):
    body = body_of(load("jira:issue_created__default"))
    headers = headers_for(body)
    del headers["HTTP_X_ATLASSIAN_WEBHOOK_IDENTIFIER"]
    refused(client, body, headers, 400, "missing-delivery", caplog)


def test_bad_delivery_identifier_is_400(client, caplog):
    body = body_of(load("jira:issue_created__default"))
    headers = headers_for(body, identifier="not an id; drop table")
    refused(client, body, headers, 400, "bad-delivery", caplog)


@pytest.mark.parametrize("age_seconds", [3601, 86400, -301])
def test_timestamp_outside_the_window_is_401_stale(client, caplog, age_seconds):
    import time

    body = body_of(load("jira:issue_created__default"), sent_at=time.time() - age_seconds)
    refused(client, body, headers_for(body), 401, "stale-timestamp", caplog)


def test_timestamp_within_jiras_retry_horizon_is_accepted(client):
    import time

    body = body_of(load("jira:issue_created__default"), sent_at=time.time() - 30 * 60)
    assert post(client, body, headers_for(body)).status_code == 202


def test_signed_body_without_timestamp_is_401(client, caplog):
    payload = load("jira:issue_created__default")
    del payload["timestamp"]
    body = json.dumps(payload).encode()
    refused(client, body, headers_for(body), 401, "missing-timestamp", caplog)


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        (b"{not json", "malformed-json"),
        (b"[1, 2]", "not-an-object"),
        (b"\xff\xfe", "not-utf8"),
        (b'{"timestamp": 1}', "bad-envelope"),
        (b'{"webhookEvent": "Issue Created!", "timestamp": 1}', "bad-event"),
    ],
)
def test_malformed_body_is_400_and_names_the_problem(client, caplog, body, slug):
    if slug in ("bad-event",):
        body = body_of(json.loads(body))
    answer = refused(client, body, headers_for(body), 400, slug, caplog)
    assert answer["error"]


def test_no_secret_configured_is_503_naming_where_it_goes(client, caplog, monkeypatch):
    monkeypatch.setenv("JIRA_WEBHOOK_SECRET", "")
    body = body_of(load("jira:issue_created__default"))
    answer = refused(client, body, headers_for(body), 503, "no-secret", caplog)
    assert "config.jira.webhook_secret" in answer["error"]


def test_unset_secret_variable_is_503_naming_it(client, caplog, monkeypatch):
    monkeypatch.delenv("JIRA_WEBHOOK_SECRET")
    body = body_of(load("jira:issue_created__default"))
    answer = refused(client, body, headers_for(body), 503, "config-error", caplog)
    assert "JIRA_WEBHOOK_SECRET" in answer["error"]


def test_signature_helper_matches_an_independent_hmac():
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signature(body) == f"sha256={expected}"
