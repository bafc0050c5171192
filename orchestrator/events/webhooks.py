"""The webhook pipeline every platform goes through, in a fixed order (STYLE rule 2).

secret configured → headers → signature over the raw bytes → timestamp window → parse →
normalise → store. Each platform's receiver module (`integrations.<key>.webhook`, found
through `integrations.WEBHOOK_RECEIVERS`) supplies the platform-specific steps:

    SECRET_SETTING: str                                         name of the Django setting
    check_headers(headers) -> None                              400 on a missing event header
    verify(headers, body, secret, now) -> None                  401: signature, then timestamp
    parse(headers, body, *, verified, now) -> Delivery          400 on a malformed body

`headers` is any case-insensitive-enough mapping keyed by lower-case names. A step refuses by
raising `Refusal`; nothing is stored until every step has passed.
"""

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from types import ModuleType
from typing import TypeVar
from urllib.parse import parse_qsl

from django.conf import settings
from pydantic import BaseModel, ValidationError

from integrations import WEBHOOK_RECEIVERS

logger = logging.getLogger("contexten.webhooks")
ModelT = TypeVar("ModelT", bound=BaseModel)

# Real payloads nest about 10 deep; anything past this is an attack or a bug.
MAX_JSON_DEPTH = 64
CONTAINERS = (dict, list)


class Refusal(Exception):
    """A request the pipeline refuses: the status, a log slug and a one-line reason."""

    def __init__(self, status: int, slug: str, message: str):
        super().__init__(message)
        self.status = status
        self.slug = slug
        self.message = message


@dataclass(frozen=True)
class Delivery:
    """A verified, normalised delivery, ready to store."""

    type: str
    delivery_id: str
    data_json: str = "{}"
    # Answered with 200 as-is and not stored (Slack url_verification, ssl_check).
    reply: dict | None = None
    # Answer 200 with an empty body: Slack shows any body of a slash command to the user.
    bare_ack: bool = False


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict | None
    headers: dict = field(default_factory=dict)


def webhook_platforms() -> list[str]:
    """The platforms that receive webhooks: the one place routes are derived from."""
    return list(WEBHOOK_RECEIVERS)


def route_paths(platform: str) -> list[str]:
    """Every path the platform's webhook answers on; the first is the canonical one."""
    return [
        f"/webhooks/{platform}/",
        f"/webhooks/{platform}",
        f"/{platform}/events",
        f"/{platform}/events/",
    ]


@cache
def receiver_for(platform: str) -> ModuleType | None:
    """The platform's receiver module, imported on first use; None if unknown."""
    dotted = WEBHOOK_RECEIVERS.get(platform)
    return import_module(dotted) if dotted else None


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
    receiver = receiver_for(platform)
    secret = getattr(settings, receiver.SECRET_SETTING, "")
    unsigned_allowed = platform in settings.WEBHOOK_ALLOW_UNSIGNED
    if not secret and not unsigned_allowed:
        raise Refusal(
            503,
            "no-secret",
            f"{receiver.SECRET_SETTING} is not configured; this webhook refuses everything",
        )
    receiver.check_headers(headers)
    now = time.time()
    if secret:
        receiver.verify(headers, body, secret, now)
    return receiver.parse(headers, body, verified=bool(secret), now=now)


# --- Shared parsing helpers for receivers ------------------------------------------------------


def decode_utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "not-utf8", "body is not valid UTF-8") from None


def reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_json_object(text: str) -> dict:
    """Parse a JSON object; refuse anything else with a 400, never a RecursionError."""
    try:
        payload = json.loads(text, parse_constant=reject_constant)
    except RecursionError:
        raise Refusal(400, "too-deep", "JSON is nested too deeply") from None
    except ValueError as exc:
        raise Refusal(400, "malformed-json", f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise Refusal(400, "not-an-object", "body must be a JSON object")
    if depth_exceeds(payload, MAX_JSON_DEPTH):
        raise Refusal(400, "too-deep", f"JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    return payload


def depth_exceeds(value, limit: int) -> bool:
    """Walk the containers level by level (no recursion) and report nesting past `limit`."""
    level, depth = [value], 1
    while level:
        if depth > limit:
            return True
        below = []
        for item in level:
            children = item.values() if type(item) is dict else item
            below += [child for child in children if type(child) in CONTAINERS]
        level, depth = below, depth + 1
    return False


def typed(model: type[ModelT], payload, slug: str) -> ModelT:
    """Validate the fields a receiver reads into its pydantic model; a mismatch is a 400."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise Refusal(400, slug, f"{where}: {first['msg']}") from None


def form_fields(text: str) -> dict[str, str]:
    """Parse a form-encoded body (the last value of each field wins)."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=200, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise Refusal(400, "malformed-form", "body is not a valid form") from None
    return dict(pairs)


def dumps(payload: dict) -> str:
    """Serialise a payload we built ourselves (form bodies) for storing."""
    return json.dumps(payload, separators=(",", ":"))
