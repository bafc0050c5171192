"""What every platform client shares: pooled sessions, breakers, error classes.

One aiohttp ClientSession per platform per running event loop: a session is bound to the
loop that made it, so sharing one across loops breaks, and the django-q2 runner starts a
fresh loop (`asyncio.run`) per task. Sessions close themselves when their loop shuts down
(an async-generator finaliser, which `asyncio.run` drives). Each session's connector caps the
connections to its platform at `<PLATFORM>_POOL_MAX` (SPEC §6).

Every call passes the platform's circuit breaker first (`before_call`, which raises
BreakerOpen) and reports its outcome after (`record`). Only outages count against the
breaker: transport errors, timeouts and 5xx. A 4xx or a rate limit means the platform is up.

Errors become one `PlatformError` (an ActionError): transient (retry, after `retry_after`
when the platform said so) or `permanent=True` (a bad request will not get better by
repeating it).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from django.conf import settings

from extensions.api import ActionError
from orchestrator.health import breakers

logger = logging.getLogger("contexten.integrations")

TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class PlatformError(ActionError):
    """An ActionError that also says whether it counts against the platform's breaker."""

    def __init__(self, message: str, *, outage: bool = False, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.outage = outage


@dataclass
class Answer:
    """A platform's HTTP answer, body already decoded."""

    status: int
    headers: dict[str, str]
    data: Any = None
    etag: str | None = field(default=None)


class PlatformClient:
    """Base for a platform client: subclasses set `platform` and override `check`."""

    platform = ""

    def __init__(self, session: aiohttp.ClientSession, base_url: str):
        self.session = session
        self.base_url = base_url

    async def call(self, method: str, path: str, **kwargs: Any) -> Answer:
        """Send one request through the breaker; raise ActionError unless it succeeded."""
        await breakers.before_call(self.platform)
        try:
            answer = await self._send(method, path, **kwargs)
        except aiohttp.InvalidURL as exc:
            message = f"{self.platform}: bad API URL {exc} (check {self.platform.upper()}_API_URL)"
            raise PlatformError(message, permanent=True) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            await breakers.record(self.platform, success=False)
            raise PlatformError(
                f"{self.platform} {method} {path}: {describe(exc)}", outage=True
            ) from None
        error = self.check(answer)
        await breakers.record(self.platform, success=not (error and error.outage))
        if error is not None:
            raise error
        return answer

    async def _send(self, method: str, path: str, **kwargs: Any) -> Answer:
        timeout = aiohttp.ClientTimeout(total=settings.PLATFORM_HTTP_TIMEOUT)
        url = self.base_url + path
        async with self.session.request(method, url, timeout=timeout, **kwargs) as response:
            body = await response.read()
            etag = response.headers.get("ETag")
            return Answer(response.status, dict(response.headers), decode(body), etag)

    def check(self, answer: Answer) -> PlatformError | None:
        """Classify the HTTP status; platforms extend this for errors inside 200 bodies."""
        return status_error(self.platform, answer)


def decode(body: bytes) -> Any:
    """JSON when it parses; otherwise the start of the text (a proxy's HTML error page)."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body[:200].decode(errors="replace")


def status_error(platform: str, answer: Answer) -> PlatformError | None:
    """Map an HTTP status to an error, or None for success (2xx, 304); 5xx are outages."""
    status = answer.status
    if status < 400 and status != 429:
        return None
    message = f"{platform} answered HTTP {status}: {error_message(answer.data)}"
    retry_after = retry_after_seconds(answer.headers)
    rate_limited = status == 429 or (
        status == 403 and (retry_after is not None or remaining(answer.headers) == 0)
    )
    if status in TRANSIENT_STATUSES or rate_limited:
        return PlatformError(message, retry_after=retry_after, status=status, outage=status >= 500)
    return PlatformError(message, permanent=True, status=status)


def retry_after_seconds(headers: dict[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date) or X-RateLimit-Reset (epoch)."""
    now = time.time() if now is None else now
    value = _header(headers, "Retry-After")
    if value:
        try:
            return max(float(value), 0.0)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if _is_date(value) else None
            return max(parsed.timestamp() - now, 0.0) if parsed else None
    if remaining(headers) == 0:
        reset = _header(headers, "X-RateLimit-Reset")
        if reset and reset.isdigit():
            return max(float(reset) - now, 0.0)
    return None


def remaining(headers: dict[str, str]) -> int | None:
    value = _header(headers, "X-RateLimit-Remaining")
    return int(value) if value and value.isdigit() else None


def _header(headers: dict[str, str], name: str) -> str | None:
    if name in headers:
        return headers[name]
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _is_date(value: str) -> bool:
    try:
        return email.utils.parsedate_to_datetime(value) is not None
    except (TypeError, ValueError):
        return False


def error_message(data: Any) -> str:
    """The platform's own words, in one line: a `message` or `error` field, GraphQL errors."""
    if isinstance(data, dict):
        if data.get("errors") and isinstance(data["errors"], list):
            first = data["errors"][0]
            return str(first.get("message", first) if isinstance(first, dict) else first)
        for key in ("message", "error"):
            if data.get(key):
                return str(data[key])
    return "no details" if data is None else str(data)[:200]


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {settings.PLATFORM_HTTP_TIMEOUT:g}s"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# --- sessions: one per platform per running loop ---------------------------------------
_sessions: dict[int, tuple[asyncio.AbstractEventLoop, dict[tuple, aiohttp.ClientSession]]] = {}
_keepers: dict[int, list] = {}


async def session_for(platform: str, base_url: str, headers: dict[str, str]):
    """The running loop's session for this platform and configuration, made on first use."""
    loop = asyncio.get_running_loop()
    entry = _sessions.get(id(loop))
    if entry is None or entry[0] is not loop:
        _forget_closed_loops()
        entry = _sessions[id(loop)] = (loop, {})
    key = (platform, base_url, tuple(sorted(headers.items())), pool_max(platform))
    session = entry[1].get(key)
    if session is None or session.closed:
        session = entry[1][key] = _new_session(key[3], headers)
        await _close_with_loop(loop, session)
    return session


def pool_max(platform: str) -> int:
    return int(getattr(settings, f"{platform.upper()}_POOL_MAX", 10))


def _new_session(limit: int, headers: dict[str, str]) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, ttl_dns_cache=300, keepalive_timeout=30)
    return aiohttp.ClientSession(
        connector=connector, headers={"User-Agent": "contexten/0.1", **headers}
    )


async def _close_with_loop(loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession):
    """Close `session` when the loop shuts down its async generators (asyncio.run does)."""

    async def keeper():
        try:
            yield
        finally:
            await session.close()

    generator = keeper()
    await generator.__anext__()
    _keepers.setdefault(id(loop), []).append(generator)


def _forget_closed_loops() -> None:
    for loop_id, (loop, _) in list(_sessions.items()):
        if loop.is_closed():
            del _sessions[loop_id]
            _keepers.pop(loop_id, None)


async def close_sessions() -> None:
    """Close this loop's sessions now (tests, shutdown hooks)."""
    entry = _sessions.pop(id(asyncio.get_running_loop()), None)
    _keepers.pop(id(asyncio.get_running_loop()), None)
    for session in entry[1].values() if entry else ():
        await session.close()
