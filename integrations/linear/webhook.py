"""Linear webhooks: `Linear-Signature` (hex HMAC-SHA256 of the raw body) and a 60 s window.

Linear puts its timestamp inside the signed body (`webhookTimestamp`, milliseconds), so the
window is checked right after parsing, before anything is stored. The type is
`linear.<snake_case(type)>.<action>`, e.g. `linear.issue_label.create`.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping

from integrations.linear.payloads import LinearEnvelope
from orchestrator.events.webhooks import (
    Delivery,
    Refusal,
    decode_utf8,
    digest_matches,
    parse_json_object,
    typed,
)

SECRET_SETTING = "LINEAR_WEBHOOK_SECRET"  # noqa: S105 - the setting's name, not a secret
MAX_SKEW_SECONDS = 60
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
    if not digest_matches(expected, signature):
        raise Refusal(401, "invalid-signature", "signature does not match the body")


def parse(headers: Mapping[str, str], body: bytes, *, verified: bool, now: float) -> Delivery:
    text = decode_utf8(body)
    envelope = typed(LinearEnvelope, parse_json_object(text), "bad-envelope")
    if verified:
        check_fresh(envelope.webhook_timestamp, now)
    event_type = f"linear.{snake_case(envelope.type)}.{snake_case(envelope.action)}"
    return Delivery(event_type, delivery_id(headers, envelope), data_json=text)


def check_fresh(sent_ms: int | None, now: float) -> None:
    """Refuse a delivery signed more than 60 s away from now (a replayed capture)."""
    if sent_ms is None:
        raise Refusal(401, "missing-timestamp", "payload has no numeric webhookTimestamp")
    if abs(now - sent_ms / 1000) > MAX_SKEW_SECONDS:
        raise Refusal(401, "stale-timestamp", "webhookTimestamp is more than 60 s away")


def delivery_id(headers: Mapping[str, str], envelope: LinearEnvelope) -> str:
    """`Linear-Delivery`, or the webhook id plus its timestamp when the header is absent."""
    if header := headers.get("linear-delivery"):
        return header
    if envelope.webhook_id is None or envelope.webhook_timestamp is None:
        raise Refusal(400, "missing-delivery", "no Linear-Delivery and no webhookId+timestamp")
    return f"{envelope.webhook_id}:{envelope.webhook_timestamp}"[:200]


def snake_case(name: str) -> str:
    """`IssueLabel` → `issue_label`, `IssueSLA` → `issue_sla`, `create` → `create`."""
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", spaced)
    return spaced.lower()
