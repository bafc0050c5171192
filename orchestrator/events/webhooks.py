"""The webhook pipeline every platform goes through, in a fixed order (STYLE rule 2).

secret configured → headers → signature over the raw bytes → timestamp window → parse →
normalise → store. Each extension's receiver (its manifest's `webhook`, found through
`extensions.registry.receiver`) supplies the platform-specific steps:

    SECRET_SETTING: str                                         name of the Django setting
    secret() -> str                                             optional: the secret itself
    check_headers(headers) -> None                              400 on a missing event header
    verify(headers, body, secret, now) -> None                  401: signature, then timestamp
    parse(headers, body, *, verified, now) -> Delivery          400 on a malformed body

`headers` is any case-insensitive-enough mapping keyed by lower-case names. A step refuses by
raising `Refusal`; nothing is stored until every step has passed. A disabled extension's
webhooks are still verified and stored; its events wait to be dispatched until it is enabled.
"""

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DataError, close_old_connections

from extensions import registry
from orchestrator.events.receiving import (  # noqa: F401 - re-exported for receivers
    CONTAINERS,
    MAX_JSON_DEPTH,
    Delivery,
    Refusal,
    decode_utf8,
    depth_exceeds,
    dumps,
    form_fields,
    parse_json_object,
    reject_constant,
    typed,
)
from orchestrator.events.store import Stored, store_event

logger = logging.getLogger("contexten.webhooks")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict | None
    headers: dict = field(default_factory=dict)


def refuse(platform: str, refusal: Refusal) -> Answer:
    """Log the refusal as a slug event and answer it as one JSON line."""
    logger.warning(
        "%s.webhook.%s",
        platform,
        refusal.slug,
        extra={"platform": platform, "status": refusal.status, "reason": refusal.message},
    )
    return Answer(refusal.status, {"error": refusal.message})


def check_size(platform: str, content_length: str | None) -> None:
    """Refuse a declared body over WEBHOOK_MAX_BYTES before reading any of it."""
    try:
        declared = int(content_length or 0)
    except ValueError:
        raise Refusal(400, "bad-content-length", "Content-Length is not a number") from None
    if declared > settings.WEBHOOK_MAX_BYTES:
        raise Refusal(413, "too-large", too_large_message())


def too_large_message() -> str:
    return f"body is larger than WEBHOOK_MAX_BYTES ({settings.WEBHOOK_MAX_BYTES} bytes)"


def verify_and_parse(platform: str, headers: Mapping[str, str], body: bytes) -> Delivery:
    """Run the platform's steps in the fixed order; raise Refusal on the first failure."""
    receiver = registry.receiver(platform, refresh=False)  # callers refresh first
    if receiver is None:
        raise Refusal(404, "unknown-platform", f"no installed extension receives {platform!r}")
    secret = webhook_secret(receiver)
    unsigned_allowed = platform in settings.WEBHOOK_ALLOW_UNSIGNED
    if not secret and not unsigned_allowed:
        raise Refusal(
            503,
            "no-secret",
            f"{secret_name(receiver)} is not configured; this webhook refuses everything",
        )
    receiver.check_headers(headers)
    now = time.time()
    if secret:
        receiver.verify(headers, body, secret, now)
    return receiver.parse(headers, body, verified=bool(secret), now=now)


def webhook_secret(receiver) -> str:
    """The receiver's own `secret()` (e.g. from its configuration), else its setting."""
    if callable(getattr(receiver, "secret", None)):
        return receiver.secret() or ""
    return getattr(settings, receiver.SECRET_SETTING, "") or ""


def secret_name(receiver) -> str:
    return getattr(receiver, "SECRET_SETTING", "") or "the webhook secret"


def store_delivery(platform: str, delivery: Delivery) -> Answer:
    """Store the delivery once; answer 202 for a new event, 200 for a duplicate."""
    if delivery.reply is not None:
        return Answer(200, delivery.reply)
    try:
        stored = store_event(platform, delivery.type, delivery.delivery_id, delivery.data_json)
    except DataError as exc:  # e.g. Postgres refuses \u0000 in jsonb
        return unstorable(platform, exc)
    return stored_answer(delivery, stored)


def stored_answer(delivery: Delivery, stored: Stored) -> Answer:
    if delivery.bare_ack:
        return Answer(200, None)
    body = {"id": stored.id, "duplicate": stored.duplicate}
    return Answer(200 if stored.duplicate else 202, body)


def unstorable(platform: str, exc: Exception) -> Answer:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return refuse(platform, Refusal(400, "unstorable-payload", f"payload refused: {reason}"))


def store_in_thread(platform: str, delivery: Delivery) -> Answer:
    """Store from a worker thread (sync_to_async, not thread-sensitive), then return that
    thread's connection to the pool: Django only closes connections on the thread that
    finishes the request, so nothing else would."""
    try:
        return store_delivery(platform, delivery)
    finally:
        close_old_connections()
