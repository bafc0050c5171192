"""Helpers for the Jira extension's tests: fixtures on disk, signing, and posting.

Signatures are computed here from the secret and the exact bytes sent, never pasted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
FIXTURES = PACKAGE / "contexten_jira" / "fixtures"
SECRET = "jira-test-secret-" + "q" * 16
URL = "/webhooks/jira/"


def fixture_paths() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


def event_and_variant(path: Path) -> tuple[str, str]:
    """`jira:issue_created__default.json` -> ("jira:issue_created", "default")."""
    event, _, variant = path.stem.partition("__")
    return event, variant


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def body_of(payload: dict, sent_at: float | None = None) -> bytes:
    """Minified JSON, as Jira sends it, stamped `timestamp` (ms) now unless told otherwise."""
    stamped = {**payload, "timestamp": int((time.time() if sent_at is None else sent_at) * 1000)}
    return json.dumps(stamped, separators=(",", ":")).encode()


def signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_for(body: bytes, secret: str = SECRET, identifier: str | None = None) -> dict:
    """Django test-client headers for a signed delivery (what Jira Cloud sends)."""
    return {
        "HTTP_X_HUB_SIGNATURE": signature(body, secret),
        "HTTP_X_ATLASSIAN_WEBHOOK_IDENTIFIER": identifier or str(uuid.uuid4()),
        "HTTP_USER_AGENT": "Atlassian Webhook HTTP Client",
    }


def http_headers(body: bytes, secret: str = SECRET, identifier: str | None = None) -> dict:
    """The same headers for a real HTTP request."""
    return {
        "Content-Type": "application/json; charset=UTF-8",
        "X-Hub-Signature": signature(body, secret),
        "X-Atlassian-Webhook-Identifier": identifier or str(uuid.uuid4()),
    }


def post(client, body: bytes, headers: dict, content_type: str = "application/json"):
    return client.generic("POST", URL, body, content_type=content_type, **headers)
