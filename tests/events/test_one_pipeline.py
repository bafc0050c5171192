"""The Django view and the ASGI fast path are two doors to one pipeline: the same request
gets the same answer through either, and their routes come from one function."""

import json

import pytest
from django.test import Client
from django.urls import resolve

from extensions.registry import webhook_platforms
from orchestrator.events.models import Event
from orchestrator.events.webhooks import platform_in, route_paths
from tests.events.test_fast_path import asgi_headers, call, run
from tests.integrations.webhooks import (
    compact,
    github_headers,
    load,
    slack_headers,
    stored_events,
    webhook_secrets,  # noqa: F401 - fixture
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhook_secrets")]


def cases() -> list[tuple[str, str, str, bytes, dict]]:
    """(name, method, path, body, test-client headers) for each kind of answer SPEC §4 lists."""
    ping = compact(load("github", "ping__default"))
    challenge = compact({"type": "url_verification", "challenge": "abc", "token": "t"})
    return [
        ("new", "POST", "/webhooks/github/", ping, github_headers("ping", ping, delivery="p-1")),
        ("dup", "POST", "/github/events", ping, github_headers("ping", ping, delivery="p-1")),
        ("bad-signature", "POST", "/webhooks/github", ping,
         github_headers("ping", ping, secret="wrong")),
        ("malformed", "POST", "/webhooks/github/", b"[1]", github_headers("ping", b"[1]")),
        ("no-event-header", "POST", "/webhooks/github/", ping, {}),
        ("wrong-method", "GET", "/webhooks/github/", b"", {}),
        ("challenge", "POST", "/webhooks/slack/", challenge, slack_headers(challenge)),
    ]  # fmt: skip


def through_view(method: str, path: str, body: bytes, headers: dict) -> tuple[int, dict | None]:
    response = Client().generic(method, path, body, content_type="application/json", **headers)
    return response.status_code, json.loads(response.content) if response.content else None


def through_fast_path(method, path, body, headers) -> tuple[int, dict | None]:
    status, reply = run(call(path, body, asgi_headers(headers, body), method=method))
    return status, json.loads(reply) if reply else None


def test_view_and_fast_path_answer_every_case_alike():
    view = {name: through_view(*case) for name, *case in cases()}
    view_rows = [(e.type, e.delivery_id) for e in stored_events()]
    Event.objects.all().delete()
    fast = {name: through_fast_path(*case) for name, *case in cases()}
    fast_rows = [(e.type, e.delivery_id) for e in stored_events()]

    def comparable(answer):
        status, body = answer
        return status, {k: v for k, v in (body or {}).items() if k != "id"}

    assert {n: comparable(a) for n, a in view.items()} == {
        n: comparable(a) for n, a in fast.items()
    }
    assert [status for status, _ in view.values()] == [202, 200, 401, 400, 400, 405, 200]
    assert view_rows == fast_rows == [("github.ping", "p-1")]
    assert fast["dup"][1]["id"] == fast["new"][1]["id"]


def test_django_routes_and_fast_path_paths_come_from_the_route_templates():
    platforms = webhook_platforms()
    assert platforms, "the registry lists no webhook receiver"
    for platform in platforms:
        for path in route_paths(platform):
            assert platform_in(path) == platform
            assert resolve(path).kwargs == {"platform": platform}
    assert platform_in("/admin/") is None  # a path of another shape
    assert platform_in("/webhooks/a/b/") is None
