"""OFREP v0.3 (OpenFeature Remote Evaluation Protocol): single and bulk flag evaluation.

The hot path does no database query once warm: flags come from the per-process compiled
store, and API tokens are looked up once and then trusted for `OFREP_TOKEN_CACHE_SECONDS`
(so a revoked token keeps working in a process for at most that long). A success body is
serialised when the flag is compiled, so answering is a dict lookup and a hash.
"""

import hashlib
import json
import math
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authtoken.models import Token

from orchestrator.flags.cache import store
from orchestrator.flags.engine import TARGETING_KEY
from orchestrator.health import metrics

JSON = "application/json"
# token -> (expires at (monotonic), user is active); a missing token is cached as None too.
token_cache: dict[str, tuple[float, bool | None]] = {}
# (token, minute) -> requests so far, for the optional per-process rate limit.
rate_windows: dict[tuple[str, int], int] = {}


class OfrepError(Exception):
    def __init__(self, status: int, code: str | None, details: str, headers: dict | None = None):
        super().__init__(details)
        self.status, self.code, self.details, self.headers = status, code, details, headers or {}

    def response(self, key: str | None = None) -> JsonResponse:
        body = {"errorDetails": self.details}
        if self.code:
            body = {"errorCode": self.code, **body}
        if key is not None:
            body = {"key": key, **body}
        response = JsonResponse(body, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def presented_token(request: HttpRequest) -> str | None:
    """`Authorization: Bearer <token>` (or DRF's `Token <token>`), else `X-API-Key`."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    return request.headers.get("X-API-Key", "").strip() or None


def token_is_active(token: str) -> bool | None:
    """True for an active user's token, False for an inactive one, None for no such token."""
    now = time.monotonic()
    cached = token_cache.get(token)
    if cached and cached[0] > now:
        return cached[1]
    row = Token.objects.select_related("user").filter(key=token).first()
    active = None if row is None else row.user.is_active
    if len(token_cache) > 10_000:  # bound memory against floods of made-up tokens
        token_cache.clear()
    token_cache[token] = (now + settings.OFREP_TOKEN_CACHE_SECONDS, active)
    return active


def authenticate(request: HttpRequest) -> str:
    token = presented_token(request)
    if token is None:
        raise OfrepError(
            401, None, "send an API token as 'Authorization: Bearer <token>' or 'X-API-Key'"
        )
    active = token_is_active(token)
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


def read_context(request: HttpRequest) -> dict:
    """The request's `context` object; 400 PARSE_ERROR or INVALID_CONTEXT when malformed."""
    if not request.body:
        return {}
    try:
        payload = json.loads(request.body)
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


@csrf_exempt
@require_POST
def evaluate_flag(request: HttpRequest, key: str) -> HttpResponse:
    """POST /ofrep/v1/evaluate/flags/{key}: one flag for one context."""
    try:
        authenticate(request)
        context = read_context(request)
    except OfrepError as error:
        return error.response(key)
    flag = store.get(key)
    if flag is None:
        return OfrepError(404, "FLAG_NOT_FOUND", f"flag {key!r} does not exist").response(key)
    resolution = flag.evaluate(context)
    metrics.record_flag_evaluation(key, resolution.reason)
    if resolution.error_code:
        return OfrepError(400, resolution.error_code, resolution.error_details).response(key)
    return HttpResponse(resolution.body, content_type=JSON)


@csrf_exempt
@require_POST
def evaluate_flags(request: HttpRequest) -> HttpResponse:
    """POST /ofrep/v1/evaluate/flags: every flag, with an ETag; If-None-Match answers 304."""
    try:
        authenticate(request)
        context = read_context(request)
    except OfrepError as error:
        return error.response()
    resolutions = [(key, flag.evaluate(context)) for key, flag in sorted(store.all().items())]
    for key, resolution in resolutions:
        metrics.record_flag_evaluation(key, resolution.reason)
    parts = [bulk_item(key, resolution) for key, resolution in resolutions]
    body = b'{"flags":[' + b",".join(parts) + b"]}"
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    if etag_matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type=JSON)
    response["ETag"] = etag
    return response


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
        authenticate(request)
    except OfrepError as error:
        return error.response()
    polling = {"enabled": True, "minPollingIntervalMs": 1000}
    types = ["boolean", "string", "int", "float", "object"]
    capabilities = {
        "cacheInvalidation": {"polling": polling},
        "flagEvaluation": {"supportedTypes": types},
    }
    return JsonResponse({"name": "contexten", "capabilities": capabilities})
