"""Jira webhooks: `X-Hub-Signature: sha256=<hex>`, deduped on `X-Atlassian-Webhook-Identifier`.

Jira Cloud signs admin webhooks that have a secret with HMAC-SHA256 over the raw body (the
WebSub `method=signature` format). It puts no timestamp in a header; the signed body carries
`timestamp` (epoch milliseconds), so the age window is checked right after parsing, before
anything is stored. Jira retries a failed delivery for up to about 30 minutes with the same
identifier, so the window is an hour: long enough for every retry, short enough that a
captured delivery cannot be replayed once its dedupe row has been pruned.

The type is `jira.<entity>.<action>` from `webhookEvent`: `jira:issue_created` becomes
`jira.issue.created`, `comment_created` becomes `jira.comment.created`,
`issue_property_set` becomes `jira.issue.property_set`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from extensions.api import (
    ConfigError,
    Delivery,
    Refusal,
    config,
    decode_utf8,
    digest_matches,
    parse_json_object,
    typed,
)
from pydantic import BaseModel, ConfigDict, Field

# Named in the pipeline's 503 when no secret is configured.
SECRET_SETTING = "config.jira.webhook_secret"  # noqa: S105 - where the secret lives, not it
MAX_AGE_SECONDS = 3600
MAX_AHEAD_SECONDS = 300  # clock skew between Jira and us
DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
WEBHOOK_EVENT = re.compile(r"^(jira:)?([a-z]+)_([a-z_]+)$")


class JiraEnvelope(BaseModel):
    """The fields every Jira webhook body has; the rest is stored as it came."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    webhook_event: str = Field(alias="webhookEvent", min_length=1, max_length=100)
    timestamp: int | None = None


def secret() -> str:
    """The webhook secret from the configuration (default `env:JIRA_WEBHOOK_SECRET`)."""
    try:
        value = config("jira").get("webhook_secret")
    except ConfigError as exc:  # e.g. an env: reference to a variable this process lacks
        raise Refusal(503, "config-error", f"config.jira cannot be used: {exc}") from None
    return value if isinstance(value, str) else ""


def check_headers(headers: Mapping[str, str]) -> None:
    """Require the delivery identifier Jira sends with every delivery (and its retries)."""
    identifier = headers.get("x-atlassian-webhook-identifier", "")
    if not identifier:
        raise Refusal(400, "missing-delivery", "X-Atlassian-Webhook-Identifier header is required")
    if not DELIVERY_ID.match(identifier):
        raise Refusal(400, "bad-delivery", "X-Atlassian-Webhook-Identifier is not a delivery id")


def verify(headers: Mapping[str, str], body: bytes, secret: str, now: float) -> None:
    """Accept only `sha256=<hex>` computed with the webhook's secret over the raw body."""
    signature = headers.get("x-hub-signature", "")
    if not signature:
        raise Refusal(401, "missing-signature", "X-Hub-Signature header is required")
    method, _, digest = signature.partition("=")
    if method != "sha256":
        raise Refusal(401, "unsupported-signature", "only sha256= signatures are accepted")
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not digest_matches(expected, digest):
        raise Refusal(401, "invalid-signature", "signature does not match the body")


def parse(headers: Mapping[str, str], body: bytes, *, verified: bool, now: float) -> Delivery:
    """Parse the JSON body, check its age when signed, and name the event."""
    text = decode_utf8(body)
    envelope = typed(JiraEnvelope, parse_json_object(text), "bad-envelope")
    if verified:
        check_fresh(envelope.timestamp, now)
    identifier = headers["x-atlassian-webhook-identifier"]
    return Delivery(event_type(envelope.webhook_event), identifier, data_json=text)


def check_fresh(sent_ms: int | None, now: float) -> None:
    """Refuse a signed delivery older than an hour or from the future (a replayed capture)."""
    if sent_ms is None:
        raise Refusal(401, "missing-timestamp", "payload has no numeric timestamp")
    age = now - sent_ms / 1000
    if age > MAX_AGE_SECONDS or age < -MAX_AHEAD_SECONDS:
        raise Refusal(401, "stale-timestamp", f"timestamp is {age:.0f} s away from now")


def event_type(webhook_event: str) -> str:
    """`jira:issue_created` -> `jira.issue.created`; an unknown shape is a 400."""
    match = WEBHOOK_EVENT.match(webhook_event)
    if match is None:
        raise Refusal(400, "bad-event", "webhookEvent is not a Jira event name")
    return f"jira.{match[2]}.{match[3]}"
