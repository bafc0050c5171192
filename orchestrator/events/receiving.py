"""What a webhook receiver works with: the refusal, the delivery, and parsing helpers.

Pure Python, no Django: extension authors reach these through `extensions.api`, and the
pipeline (`orchestrator.events.webhooks`) runs the receiver's steps in its fixed order.
"""

import hmac
import json
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ValidationError

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
    # Answered with 200 as-is and not stored (a URL verification or ssl check handshake).
    reply: dict | None = None
    # Answer 200 with an empty body: some platforms show any body of a command to the user.
    bare_ack: bool = False


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


def digest_matches(expected_hex: str, presented: str) -> bool:
    """Compare a computed hex digest with a presented one in constant time. Bytes, because
    `hmac.compare_digest` raises TypeError on a str with non-ASCII characters, which a forged
    header may hold (found by tests/reliability/test_fuzz.py): a mismatch, never a 500."""
    given = presented.strip().lower().encode("utf-8", errors="replace")
    return hmac.compare_digest(expected_hex.encode(), given)
