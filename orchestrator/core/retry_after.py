"""When may we call again? The one reading of `Retry-After` and rate-limit reset headers.

Used by the platform clients and by `core.http_request`. `Retry-After` comes in two forms
(RFC 9110 §10.2.3): delay-seconds ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT").
Without it, `X-RateLimit-Reset` (epoch seconds) counts when `X-RateLimit-Remaining` is 0.
"""

import email.utils
import math
import time
from collections.abc import Mapping


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or X-RateLimit-Reset (epoch)."""
    now = time.time() if now is None else now
    value = header(headers, "Retry-After")
    if value:
        seconds = _seconds(value)
        if seconds is not None:
            return seconds
        moment = _http_date(value)
        return max(moment - now, 0.0) if moment is not None else None
    if remaining(headers) == 0:
        reset = header(headers, "X-RateLimit-Reset")
        if reset and reset.isdigit():
            return max(float(reset) - now, 0.0)
    return None


def remaining(headers: Mapping[str, str]) -> int | None:
    value = header(headers, "X-RateLimit-Remaining")
    return int(value) if value and value.isdigit() else None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, case-insensitively, from a plain dict or a multidict."""
    if name in headers:
        return headers[name]
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _seconds(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _http_date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed.timestamp() if parsed is not None else None
