"""GitHub webhooks: every documented event is stored once; every bad request is refused."""

import hashlib
import hmac
import json
import logging
import uuid

import pytest
from django.db import connection
from django.test import Client

from tests.integrations.webhooks import (
    compact,
    event_and_variant,
    fixture_paths,
    github_headers,
    load,
    post,
    stored_events,
    webhook_secrets,  # noqa: F401 - fixture
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_secrets")]
URL = "/webhooks/github/"
FIXTURES = fixture_paths("github")

# Every event name on GitHub's "Webhook events and payloads" page has a fixture.
DOCUMENTED_EVENTS = {
    "branch_protection_configuration", "branch_protection_rule", "check_run", "check_suite",
    "code_scanning_alert", "commit_comment", "create", "custom_property",
    "custom_property_values", "delete", "dependabot_alert", "deploy_key", "deployment",
    "deployment_protection_rule", "deployment_review", "deployment_status", "discussion",
    "discussion_comment", "fork", "github_app_authorization", "gollum", "installation",
    "installation_repositories", "installation_target", "issue_comment", "issue_dependencies",
    "issues", "label", "marketplace_purchase", "member", "membership", "merge_group", "meta",
    "milestone", "org_block", "organization", "package", "page_build",
    "personal_access_token_request", "ping", "project", "project_card", "project_column",
    "projects_v2", "projects_v2_item", "projects_v2_status_update", "public", "pull_request",
    "pull_request_review", "pull_request_review_comment", "pull_request_review_thread", "push",
    "registry_package", "release", "repository", "repository_advisory", "repository_dispatch",
    "repository_import", "repository_ruleset", "repository_vulnerability_alert",
    "secret_scanning_alert", "secret_scanning_alert_location", "secret_scanning_scan",
    "security_advisory", "security_and_analysis", "sponsorship", "star", "status", "sub_issues",
    "team", "team_add", "watch", "workflow_dispatch", "workflow_job", "workflow_run",
}  # fmt: skip


def send(client, event: str, payload: dict, **overrides):
    body = compact(payload)
    headers = {**github_headers(event, body), **overrides}
    return post(client, URL, body, headers)


def test_every_documented_event_has_a_fixture():
    assert {event_and_variant(path)[0] for path in FIXTURES} >= DOCUMENTED_EVENTS


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_documented_event_is_accepted_and_stored_with_dotted_type(client, path):
    event, _ = event_and_variant(path)
    payload = json.loads(path.read_text())
    delivery = str(uuid.uuid4())
    response = send(client, event, payload, HTTP_X_GITHUB_DELIVERY=delivery)
    assert response.status_code == 202, response.content
    [stored] = stored_events()
    assert response.json() == {"id": stored.id, "duplicate": False}
    action = payload.get("action")
    assert stored.type == f"github.{event}" + (f".{action}" if action else "")
    assert (stored.source, stored.delivery_id, stored.status) == ("github", delivery, "received")
    assert stored.data == payload


def test_pull_request_opened_is_typed_with_its_action(client):
    response = send(client, "pull_request", load("github", "pull_request__opened"))
    assert response.status_code == 202
    assert stored_events()[0].type == "github.pull_request.opened"


def test_redelivery_answers_200_duplicate_and_stores_once(client):
    payload = load("github", "push__main")
    first = send(client, "push", payload, HTTP_X_GITHUB_DELIVERY="d-1")
    again = send(client, "push", payload, HTTP_X_GITHUB_DELIVERY="d-1")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    assert len(stored_events()) == 1


def test_same_delivery_id_from_another_platform_is_not_a_duplicate(client, settings):
    from orchestrator.events.store import store_payload

    store_payload("linear", "linear.issue.create", "shared-id", {"type": "Issue"})
    response = send(
        client, "ping", load("github", "ping__default"), HTTP_X_GITHUB_DELIVERY="shared-id"
    )
    assert response.status_code == 202


def test_form_encoded_payload_field_is_accepted(client):
    payload = load("github", "issues__opened")
    body = ("payload=" + __import__("urllib.parse").parse.quote(json.dumps(payload))).encode()
    response = post(
        client, URL, body, github_headers("issues", body), "application/x-www-form-urlencoded"
    )
    assert response.status_code == 202
    assert stored_events()[0].data == payload


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "sha256=" + "0" * 64,
        "sha1=" + "0" * 40,
        "md5=abc",
        "not-a-signature",
        "",
    ],
)
def test_missing_bad_or_wrong_algorithm_signature_is_401_and_stores_nothing(client, signature):
    body = compact(load("github", "ping__default"))
    headers = github_headers("ping", body)
    del headers["HTTP_X_HUB_SIGNATURE_256"]
    if signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    response = post(client, URL, body, headers)
    assert response.status_code == 401
    assert response.json()["error"]
    assert stored_events() == []


def test_sha1_signature_alone_is_refused_even_when_correct(client):
    body = compact(load("github", "ping__default"))
    headers = github_headers("ping", body)
    del headers["HTTP_X_HUB_SIGNATURE_256"]
    digest = hmac.new(b"gh-test-secret-" + b"x" * 16, body, hashlib.sha1).hexdigest()
    headers["HTTP_X_HUB_SIGNATURE"] = f"sha1={digest}"
    assert post(client, URL, body, headers).status_code == 401


def test_body_tampered_after_signing_is_401(client):
    body = compact(load("github", "ping__default"))
    headers = github_headers("ping", body)
    assert post(client, URL, body.replace(b"awesome", b"AWESOME"), headers).status_code == 401
    assert stored_events() == []


def test_signature_with_another_secret_is_401(client):
    body = compact(load("github", "ping__default"))
    response = post(client, URL, body, github_headers("ping", body, secret="wrong-secret"))
    assert response.status_code == 401


def test_missing_event_header_is_400(client):
    body = compact(load("github", "ping__default"))
    headers = github_headers("ping", body)
    del headers["HTTP_X_GITHUB_EVENT"]
    response = post(client, URL, body, headers)
    assert response.status_code == 400
    assert "X-GitHub-Event" in response.json()["error"]
    assert stored_events() == []


def test_missing_delivery_header_is_400(client):
    body = compact(load("github", "ping__default"))
    headers = github_headers("ping", body)
    del headers["HTTP_X_GITHUB_DELIVERY"]
    assert post(client, URL, body, headers).status_code == 400


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json at all", "not valid JSON"),
        (b"\xff\xfe{}", "UTF-8"),
        (b"[1, 2, 3]", "JSON object"),
        (b'"a string"', "JSON object"),
        (b"", "not valid JSON"),
        (b'{"a": NaN}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
        (b'{"a":' * 200 + b"1" + b"}" * 200, "nested deeper"),
    ],
    ids=["text", "latin1", "array", "string", "empty", "nan", "deep-array", "deep-obj", "deep-200"],
)
def test_malformed_signed_body_is_400_and_stores_nothing(client, body, reason):
    response = post(client, URL, body, github_headers("push", body))
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert stored_events() == []


def test_nul_character_is_stored_or_refused_cleanly_never_500(client):
    payload = {"action": "opened", "note": "nul \u0000 here"}
    response = send(client, "issues", payload)
    if connection.vendor == "postgresql":  # jsonb cannot hold \u0000
        assert response.status_code == 400
        assert stored_events() == []
    else:
        assert response.status_code == 202


def test_body_over_max_bytes_is_413_and_stores_nothing(client, settings):
    settings.WEBHOOK_MAX_BYTES = 1000
    response = send(client, "push", {"padding": "x" * 2000})
    assert response.status_code == 413
    assert "WEBHOOK_MAX_BYTES" in response.json()["error"]
    assert stored_events() == []


@pytest.mark.parametrize("method", ["get", "put", "delete", "head"])
def test_other_methods_are_405(client, method):
    response = getattr(client, method)(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_no_secret_configured_is_503_with_a_message(client, settings):
    settings.GITHUB_WEBHOOK_SECRET = ""
    response = send(client, "ping", load("github", "ping__default"))
    assert response.status_code == 503
    assert "GITHUB_WEBHOOK_SECRET" in response.json()["error"]
    assert stored_events() == []


def test_unsigned_input_is_accepted_when_explicitly_allowed(client, settings):
    settings.GITHUB_WEBHOOK_SECRET = ""
    settings.WEBHOOK_ALLOW_UNSIGNED = ["github"]
    body = compact(load("github", "ping__default"))
    headers = {"HTTP_X_GITHUB_EVENT": "ping", "HTTP_X_GITHUB_DELIVERY": "unsigned-1"}
    assert post(client, URL, body, headers).status_code == 202


def test_allowing_unsigned_input_does_not_skip_a_configured_secret(client, settings):
    settings.WEBHOOK_ALLOW_UNSIGNED = ["github"]
    body = compact(load("github", "ping__default"))
    headers = {"HTTP_X_GITHUB_EVENT": "ping", "HTTP_X_GITHUB_DELIVERY": "unsigned-2"}
    assert post(client, URL, body, headers).status_code == 401


@pytest.mark.parametrize("url", ["/webhooks/github/", "/webhooks/github", "/github/events"])
def test_every_route_reaches_the_webhook_without_csrf_token(url):
    client = Client(enforce_csrf_checks=True)
    body = compact(load("github", "ping__default"))
    assert post(client, url, body, github_headers("ping", body)).status_code == 202


def test_unknown_platform_is_404(client):
    # No installed extension has this name (jira is a contrib extension now).
    answer = client.post("/webhooks/nosuch/", b"{}", content_type="application/json")
    assert answer.status_code == 404


def test_refusal_is_logged_as_a_slug_event(client, caplog):
    body = compact(load("github", "ping__default"))
    with caplog.at_level(logging.WARNING, logger="contexten.webhooks"):
        post(client, URL, body, github_headers("ping", body, secret="wrong"))
    assert "github.webhook.invalid-signature" in caplog.messages


def test_database_failure_answers_503_so_github_retries(client, monkeypatch):
    def down(*args):
        raise ConnectionError("database is down")

    monkeypatch.setattr("orchestrator.events.ingest.store_in_thread", down)
    response = send(client, "ping", load("github", "ping__default"))
    assert response.status_code == 503
    assert "retry" in response.json()["error"]
