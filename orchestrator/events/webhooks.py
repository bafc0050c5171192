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
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from extensions import registry
from orchestrator.events.receiving import (  # noqa: F401 - re-exported for receivers
    CONTAINERS,
    MAX_JSON_DEPTH,
    Delivery,
    Refusal,
    decode_utf8,
    depth_exceeds,
    digest_matches,
    dumps,
    form_fields,
    parse_json_object,
    reject_constant,
    typed,
)

logger = logging.getLogger("contexten.webhooks")

# Every path a platform's webhook answers on; the first is the canonical one. The Django routes
# (`events/urls.py`) and the ASGI fast path (`events/asgi.py`) are both derived from these.
ROUTE_TEMPLATES = (
    "webhooks/{platform}/",
    "webhooks/{platform}",
    "{platform}/events",
    "{platform}/events/",
)
PLATFORM_NAME = re.compile(r"[-a-zA-Z0-9_]+")


def route_paths(platform: str) -> list[str]:
    """Every path the platform's webhook answers on; the first is the canonical one."""
    return ["/" + template.format(platform=platform) for template in ROUTE_TEMPLATES]


def platform_in(path: str) -> str | None:
    """The platform named by a webhook path (installed or not), or None for other paths."""
    for template in ROUTE_TEMPLATES:
        prefix, _, suffix = ("/" + template).partition("{platform}")
        if path.startswith(prefix) and path.endswith(suffix):
            name = path[len(prefix) : len(path) - len(suffix)]
            if name and PLATFORM_NAME.fullmatch(name):
                return name
    return None


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


def verify_and_parse(
    platform: str, headers: Mapping[str, str], body: bytes, *, secret: str | None = None
) -> Delivery:
    """Run the platform's steps in the fixed order; raise Refusal on the first failure.
    Async callers pass `secret` from `webhook_secret_async`; None reads it here."""
    receiver = registry.receiver(platform, refresh=False)  # callers refresh first
    if receiver is None:
        raise Refusal(404, "unknown-platform", f"no installed extension receives {platform!r}")
    if secret is None:
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


async def webhook_secret_async(platform: str) -> str | None:
    """For async callers: the secret of a receiver that reads it with `secret()` (from its
    configuration, whose cache may query the database), looked up on a worker thread, never on
    the event loop. None for receivers whose secret is a setting: `verify_and_parse` reads
    those itself, with no thread hop. A Refusal raised by `secret()` reaches the caller."""
    receiver = registry.receiver(platform, refresh=False)
    if receiver is None or not callable(getattr(receiver, "secret", None)):
        return None
    return await sync_to_async(secret_in_thread, thread_sensitive=False)(receiver)


def secret_in_thread(receiver) -> str:
    try:
        return receiver.secret() or ""
    finally:
        close_old_connections()


def secret_name(receiver) -> str:
    return getattr(receiver, "SECRET_SETTING", "") or "the webhook secret"
