"""OFREP v0.3 (OpenFeature Remote Evaluation Protocol): single and bulk flag evaluation.

The hot path does no database query once warm: flags come from the per-process compiled
store, and API tokens from the per-process token cache (`core/tokens.py`), which every
process empties within TOKEN_CACHE_POLL_MS of a token's revocation. A success body is
serialised when the flag is compiled, so answering is a dict lookup and a hash.

The answers are built from headers and body bytes alone (`answer_flag`, `answer_flags`), so
two doors serve them: the Django views below, and the ASGI fast path (`flags/asgi.py`), which
answers on the event loop from the caches (`CACHED`) whenever `answerable_on_loop` allows.
"""

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from orchestrator.core import tokens
from orchestrator.flags.cache import store
from orchestrator.flags.engine import TARGETING_KEY, CompiledFlag
from orchestrator.health import metrics

JSON = "application/json"
# The routes, under the /ofrep/v1/ mount: urls.py and the ASGI fast path both read these.
MOUNT = "ofrep/v1/"
BULK_PATH = "evaluate/flags"
# (token, minute) -> requests so far, for the optional per-process rate limit.
rate_windows: dict[tuple[str, int], int] = {}


@dataclass(frozen=True)
class OfrepAnswer:
    """An answer either door sends as it is: status, body bytes, extra headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class OfrepError(Exception):
    def __init__(self, status: int, code: str | None, details: str, headers: dict | None = None):
        super().__init__(details)
        self.status, self.code, self.details, self.headers = status, code, details, headers or {}

    def answer(self, key: str | None = None) -> OfrepAnswer:
        body = {"errorDetails": self.details}
        if self.code:
            body = {"errorCode": self.code, **body}
        if key is not None:
            body = {"key": key, **body}
        return OfrepAnswer(self.status, json.dumps(body).encode(), self.headers)

    def response(self, key: str | None = None) -> HttpResponse:
        return to_response(self.answer(key))


def to_response(answer: OfrepAnswer) -> HttpResponse:
    if answer.body:
        response = HttpResponse(answer.body, status=answer.status, content_type=JSON)
    else:
        response = HttpResponse(status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response


def presented_token(headers: Mapping[str, str]) -> str | None:
    """`Authorization: Bearer <token>` (or DRF's `Token <token>`), else `X-API-Key`; the
    headers are looked up by lower-case name (Django's `request.headers` accepts that too)."""
    header = headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return headers.get("x-api-key", "").strip() or None


@dataclass(frozen=True)
class Sources:
    """Where an answer reads a token's state and the compiled flags from."""

    token_state: Callable[[str], bool | None]
    flags: Callable[[], Mapping[str, CompiledFlag]]


# The Django views: may query, refreshing whatever is due. The fast path: caches only; it
# checks the token generation before reading them (`flags/asgi.py`), and serves flags stale
# while refreshing them off the loop (`revalidations`).
QUERYING = Sources(tokens.state, lambda: store.all())
CACHED = Sources(tokens.cached_state, lambda: store.flags)


def answerable_on_loop(headers: Mapping[str, str]) -> bool:
    """True when every input is cached: the compiled flags (perhaps stale), and the state of
    the token (if one is sent). Otherwise the Django view answers, and fills the caches."""
    token = presented_token(headers)
    return store.loaded and (token is None or tokens.known(token))


def revalidations() -> list[Callable[[], object]]:
    """The flags' refresh when due: run it off the loop. Serving the stale flags meanwhile
    keeps a due refresh from sending every request in that moment to Django's one thread
    (measured: OFREP fell from 2,481 to 348 req/s). Tokens are never served stale: a revoked
    one must fail within a poll, so the fast path awaits their (cheap) check instead."""
    return [store.refresh] if store.due() else []


def authenticate(headers: Mapping[str, str], sources: Sources = QUERYING) -> str:
    token = presented_token(headers)
    if token is None:
        raise OfrepError(
            401, None, "send an API token as 'Authorization: Bearer <token>' or 'X-API-Key'"
        )
    active = sources.token_state(token)
    if active is None:
        raise OfrepError(401, None, "invalid API token")
    if not active:
        raise OfrepError(403, None, "the token's user is inactive")
    check_rate(token)
    return token


def check_rate(token: str) -> None:
    """A fixed one-minute window per token and process; 429 says when the window ends."""
    limit = settings.OFREP_RATE_LIMIT_PER_MINUTE
    if not limit:
        return
    now = time.time()
    window = (token, int(now // 60))
    count = rate_windows.get(window, 0) + 1
    if len(rate_windows) > 10_000:
        rate_windows.clear()
    rate_windows[window] = count
    if count > limit:
        retry_after = str(max(1, math.ceil(60 - now % 60)))
        raise OfrepError(429, "GENERAL", "rate limit reached", {"Retry-After": retry_after})


def read_context(body: bytes) -> dict:
    """The request's `context` object; 400 PARSE_ERROR or INVALID_CONTEXT when malformed."""
    if not body:
        return {}
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise OfrepError(400, "PARSE_ERROR", f"request body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise OfrepError(400, "PARSE_ERROR", "request body must be a JSON object")
    context = payload.get("context", {})
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise OfrepError(400, "INVALID_CONTEXT", "context must be a JSON object")
    key = context.get(TARGETING_KEY)
    if key is not None and not isinstance(key, str):
        raise OfrepError(400, "INVALID_CONTEXT", "targetingKey must be a string")
    return context


def answer_flag(
    key: str, headers: Mapping[str, str], body: bytes, sources: Sources = QUERYING
) -> OfrepAnswer:
    """POST /ofrep/v1/evaluate/flags/{key}: one flag for one context."""
    try:
        authenticate(headers, sources)
        context = read_context(body)
    except OfrepError as error:
        return error.answer(key)
    flag = sources.flags().get(key)
    if flag is None:
        return OfrepError(404, "FLAG_NOT_FOUND", f"flag {key!r} does not exist").answer(key)
    resolution = flag.evaluate(context)
    metrics.record_flag_evaluation(key, resolution.reason)
    if resolution.error_code:
        return OfrepError(400, resolution.error_code, resolution.error_details).answer(key)
    return OfrepAnswer(200, resolution.body)


def answer_flags(
    headers: Mapping[str, str], body: bytes, sources: Sources = QUERYING
) -> OfrepAnswer:
    """POST /ofrep/v1/evaluate/flags: every flag, with an ETag; If-None-Match answers 304."""
    try:
        authenticate(headers, sources)
        context = read_context(body)
    except OfrepError as error:
        return error.answer()
    resolutions = [(key, flag.evaluate(context)) for key, flag in sorted(sources.flags().items())]
    for key, resolution in resolutions:
        metrics.record_flag_evaluation(key, resolution.reason)
    parts = [bulk_item(key, resolution) for key, resolution in resolutions]
    answer = b'{"flags":[' + b",".join(parts) + b"]}"
    etag = '"' + hashlib.blake2b(answer, digest_size=12).hexdigest() + '"'
    if etag_matches(headers.get("if-none-match", ""), etag):
        return OfrepAnswer(304, b"", {"ETag": etag})
    return OfrepAnswer(200, answer, {"ETag": etag})


@csrf_exempt
@require_POST
def evaluate_flag(request: HttpRequest, key: str) -> HttpResponse:
    return to_response(answer_flag(key, request.headers, request.body))


@csrf_exempt
@require_POST
def evaluate_flags(request: HttpRequest) -> HttpResponse:
    return to_response(answer_flags(request.headers, request.body))


def bulk_item(key: str, resolution) -> bytes:
    if not resolution.error_code:
        return resolution.body
    failure = {
        "key": key,
        "errorCode": resolution.error_code,
        "errorDetails": resolution.error_details,
    }
    return json.dumps(failure).encode()


def etag_matches(header: str, etag: str) -> bool:
    """RFC 9110 weak comparison against each listed tag, or `*`."""
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()]
    return "*" in tags or etag in tags


@require_GET
def configuration(request: HttpRequest) -> JsonResponse:
    """GET /ofrep/v1/configuration: what providers may rely on (an OFREP extension)."""
    try:
        authenticate(request.headers)
    except OfrepError as error:
        return error.response()
    polling = {"enabled": True, "minPollingIntervalMs": 1000}
    types = ["boolean", "string", "int", "float", "object"]
    capabilities = {
        "cacheInvalidation": {"polling": polling},
        "flagEvaluation": {"supportedTypes": types},
    }
    return JsonResponse({"name": "contexten", "capabilities": capabilities})
