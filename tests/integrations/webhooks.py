"""Helpers for webhook tests: load fixtures, sign bodies the way each platform does, post.

Signatures are always computed here from the secret and the exact bytes sent, never pasted.
"""

import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings

INTEGRATIONS = Path(settings.BASE_DIR) / "integrations"
GITHUB_SECRET = "gh-test-secret-" + "x" * 16
LINEAR_SECRET = "lin-test-secret-" + "y" * 16
SLACK_SECRET = "slack-test-secret-" + "z" * 16


def fixture_paths(platform: str) -> list[Path]:
    return sorted((INTEGRATIONS / platform / "fixtures").glob("*.json"))


def event_and_variant(path: Path) -> tuple[str, str]:
    """`pull_request__opened.json` → ("pull_request", "opened")."""
    event, _, variant = path.stem.partition("__")
    return event, variant


def compact(payload: dict) -> bytes:
    """Platforms send minified JSON; so do the tests."""
    return json.dumps(payload, separators=(",", ":")).encode()


def load(platform: str, name: str) -> dict:
    return json.loads((INTEGRATIONS / platform / "fixtures" / f"{name}.json").read_text())


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def github_headers(event: str, body: bytes, secret: str = GITHUB_SECRET, delivery=None) -> dict:
    return {
        "HTTP_X_GITHUB_EVENT": event,
        "HTTP_X_GITHUB_DELIVERY": delivery or str(uuid.uuid4()),
        "HTTP_X_HUB_SIGNATURE_256": "sha256=" + hmac_hex(secret, body),
    }


def linear_headers(body: bytes, secret: str = LINEAR_SECRET, delivery=None) -> dict:
    headers = {"HTTP_LINEAR_SIGNATURE": hmac_hex(secret, body)}
    if delivery is not False:
        headers["HTTP_LINEAR_DELIVERY"] = delivery or str(uuid.uuid4())
    return headers


def linear_body(payload: dict, sent_at: float | None = None) -> bytes:
    """A Linear payload stamped with webhookTimestamp (ms), now unless told otherwise."""
    stamped = {**payload, "webhookTimestamp": int((sent_at or time.time()) * 1000)}
    return compact(stamped)


def slack_headers(body: bytes, secret: str = SLACK_SECRET, timestamp=None) -> dict:
    ts = str(int(timestamp if timestamp is not None else time.time()))
    base = b"v0:" + ts.encode() + b":" + body
    return {
        "HTTP_X_SLACK_REQUEST_TIMESTAMP": ts,
        "HTTP_X_SLACK_SIGNATURE": "v0=" + hmac_hex(secret, base),
    }


def slack_form(fields: dict) -> bytes:
    return urlencode(fields).encode()


def post(client, url: str, body: bytes, headers: dict, content_type="application/json"):
    return client.generic("POST", url, body, content_type=content_type, **headers)


@pytest.fixture
def webhook_secrets(settings):
    """Every platform's secret configured, and unsigned input refused."""
    settings.GITHUB_WEBHOOK_SECRET = GITHUB_SECRET
    settings.LINEAR_WEBHOOK_SECRET = LINEAR_SECRET
    settings.SLACK_SIGNING_SECRET = SLACK_SECRET
    settings.WEBHOOK_ALLOW_UNSIGNED = []
    return settings


def stored_events(**filters) -> list:
    from orchestrator.events.models import Event

    return list(Event.objects.filter(**filters).order_by("id"))
