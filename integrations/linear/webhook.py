"""Linear webhooks: `Linear-Signature` (hex HMAC-SHA256 of the raw body) and a 60 s window.

Linear puts its timestamp inside the signed body (`webhookTimestamp`, milliseconds), so the
window is checked right after parsing, before anything is stored. The type is
`linear.<snake_case(type)>.<action>`, e.g. `linear.issue_label.create`.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping

from orchestrator.events.webhooks import Delivery, Refusal, decode_utf8, parse_json_object

SECRET_SETTING = "LINEAR_WEBHOOK_SECRET"  # noqa: S105 - the setting's name, not a secret
MAX_SKEW_SECONDS = 60
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
ACTION = re.compile(r"^[a-z][a-zA-Z0-9_]{0,63}$")
DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def check_headers(headers: Mapping[str, str]) -> None:
    """Linear's event and delivery headers are optional: the body carries both."""
    delivery = headers.get("linear-delivery")
    if delivery is not None and not DELIVERY_ID.match(delivery):
        raise Refusal(400, "bad-delivery", "Linear-Delivery is not a delivery id")


def verify(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
    signature = headers.get("linear-signature", "")
    if not signature:
        raise Refusal(401, "missing-signature", "Linear-Signature header is required")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise Refusal(401, "invalid-signature", "signature does not match the body")


def parse(headers: Mapping[str, str], body: bytes, *, verified: bool, now: float) -> Delivery:
    text = decode_utf8(body)
    payload = parse_json_object(text)
    kind, action = payload.get("type"), payload.get("action")
    if not isinstance(kind, str) or not NAME.match(kind):
        raise Refusal(400, "missing-type", "payload has no valid `type`")
    if not isinstance(action, str) or not ACTION.match(action):
        raise Refusal(400, "missing-action", "payload has no valid `action`")
    sent_ms = payload.get("webhookTimestamp")
    if verified:
        check_fresh(sent_ms, now)
    event_type = f"linear.{snake_case(kind)}.{snake_case(action)}"
    return Delivery(event_type, delivery_id(headers, payload), data_json=text)


def check_fresh(sent_ms, now: float) -> None:
    """Refuse a delivery signed more than 60 s away from now (a replayed capture)."""
    if not isinstance(sent_ms, int | float) or isinstance(sent_ms, bool):
        raise Refusal(401, "missing-timestamp", "payload has no numeric webhookTimestamp")
    if abs(now - sent_ms / 1000) > MAX_SKEW_SECONDS:
        raise Refusal(401, "stale-timestamp", "webhookTimestamp is more than 60 s away")


def delivery_id(headers: Mapping[str, str], payload: dict) -> str:
    """`Linear-Delivery`, or the webhook id plus its timestamp when the header is absent."""
    if header := headers.get("linear-delivery"):
        return header
    webhook_id, sent_ms = payload.get("webhookId"), payload.get("webhookTimestamp")
    if not isinstance(webhook_id, str) or not webhook_id or sent_ms is None:
        raise Refusal(400, "missing-delivery", "no Linear-Delivery and no webhookId+timestamp")
    return f"{webhook_id}:{sent_ms}"[:200]


def snake_case(name: str) -> str:
    """`IssueLabel` → `issue_label`, `IssueSLA` → `issue_sla`, `create` → `create`."""
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", spaced)
    return spaced.lower()
