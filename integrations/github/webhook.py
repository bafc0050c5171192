"""GitHub webhooks: `X-Hub-Signature-256` over the raw body, deduped on `X-GitHub-Delivery`.

Every event GitHub sends is accepted and stored, handled by a workflow or not: the type is
`github.<X-GitHub-Event>[.<action>]`. GitHub signs but does not timestamp deliveries, so
there is no freshness window; replays of a captured delivery are stopped by the dedupe.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping

from orchestrator.events.webhooks import (
    Delivery,
    Refusal,
    decode_utf8,
    digest_matches,
    form_fields,
    parse_json_object,
)

SECRET_SETTING = "GITHUB_WEBHOOK_SECRET"  # noqa: S105 - the setting's name, not a secret
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
ACTION = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def check_headers(headers: Mapping[str, str]) -> None:
    """Require the event name and the delivery id GitHub sends with every delivery."""
    event = headers.get("x-github-event", "")
    if not event:
        raise Refusal(400, "missing-event", "X-GitHub-Event header is required")
    if not EVENT_NAME.match(event):
        raise Refusal(400, "bad-event", "X-GitHub-Event is not an event name")
    if not DELIVERY_ID.match(headers.get("x-github-delivery", "")):
        raise Refusal(400, "missing-delivery", "X-GitHub-Delivery header is required")


def verify(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
    """Accept only `sha256=<hex>`: the SHA-1 `X-Hub-Signature` is refused, not a fallback."""
    signature = headers.get("x-hub-signature-256", "")
    if not signature:
        raise Refusal(401, "missing-signature", "X-Hub-Signature-256 header is required")
    algorithm, _, digest = signature.partition("=")
    if algorithm != "sha256":
        raise Refusal(401, "unsupported-signature", "only sha256= signatures are accepted")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not digest_matches(expected, digest):
        raise Refusal(401, "invalid-signature", "signature does not match the body")


def parse(headers: Mapping[str, str], body: bytes, *, verified: bool, now: float) -> Delivery:
    """Parse the JSON (or form-encoded `payload=`) body and name the event."""
    text = decode_utf8(body)
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        text = form_payload(text)
    payload = parse_json_object(text)
    event = headers["x-github-event"]
    action = payload.get("action")
    event_type = f"github.{event}"
    if isinstance(action, str) and ACTION.match(action):
        event_type += f".{action}"
    return Delivery(event_type, headers["x-github-delivery"], data_json=text)


def form_payload(text: str) -> str:
    """GitHub's form content type sends the JSON as the `payload` field."""
    payload = form_fields(text).get("payload")
    if payload is None:
        raise Refusal(400, "missing-payload", "form body has no payload field")
    return payload
