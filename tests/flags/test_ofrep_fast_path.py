"""The OFREP and liveness fast paths: warm evaluations and probes answered on the event loop,
with the same answers Django gives; anything that needs a query still goes through Django."""

import asyncio
import json
import time

import pytest

from contexten_site.asgi import application
from tests.flags.conftest import FULL_FLAG

pytestmark = pytest.mark.django_db(transaction=True)
SINGLE = "/ofrep/v1/evaluate/flags/new-checkout"
BULK = "/ofrep/v1/evaluate/flags"
# Django's SecurityMiddleware adds this to every answer; the fast paths do not run it.
DJANGO_ONLY = "x-content-type-options"


async def call(method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """Drive the ASGI application once; answer (status, headers, body)."""
    messages = []
    raw = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    raw.append((b"content-length", str(len(body)).encode()))
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if not pending:
            await asyncio.Event().wait()
        return pending.pop(0)

    async def send(message):
        messages.append(message)

    scope = {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(),
        "query_string": b"", "headers": raw, "http_version": "1.1", "scheme": "http",
        "server": ("testserver", 80), "client": ("127.0.0.1", 1234), "root_path": "",
    }  # fmt: skip
    await application(scope, receive, send)
    start = messages[0]
    header_map = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], header_map, b"".join(m.get("body", b"") for m in messages[1:])


def post(path: str, token: str, context: dict | bytes, **extra):
    body = context if isinstance(context, bytes) else json.dumps({"context": context}).encode()
    headers = {"authorization": f"Bearer {token}", **extra}
    return asyncio.run(call("POST", path, body, headers))


@pytest.fixture
def flag(make_flag):
    return make_flag(FULL_FLAG)


def test_first_evaluation_goes_through_django_then_the_loop_answers_the_same(flag, api_token):
    context = {"targetingKey": "u1", "email": "bo@acme.io"}
    cold_status, cold_headers, cold_body = post(SINGLE, api_token, context)
    warm_status, warm_headers, warm_body = post(SINGLE, api_token, context)
    assert cold_status == warm_status == 200
    assert json.loads(cold_body) == json.loads(warm_body)
    assert json.loads(warm_body)["reason"] == "TARGETING_MATCH"
    assert DJANGO_ONLY in cold_headers  # a cold token needed the view's query
    assert DJANGO_ONLY not in warm_headers  # warm: answered on the loop


def test_bulk_on_the_loop_keeps_the_etag_and_answers_304(flag, api_token):
    post(BULK, api_token, {"targetingKey": "u1"})  # warms the token
    status, headers, body = post(BULK, api_token, {"targetingKey": "u1"})
    assert status == 200 and DJANGO_ONLY not in headers
    assert [item["key"] for item in json.loads(body)["flags"]] == ["new-checkout"]
    again = post(BULK, api_token, {"targetingKey": "u1"}, **{"if-none-match": headers["etag"]})
    assert again[0] == 304 and again[2] == b""


def test_errors_on_the_loop_match_the_views(flag, api_token):
    post(SINGLE, api_token, {"targetingKey": "u1"})
    status, headers, body = post(SINGLE, api_token, b"{not json")
    assert (status, json.loads(body)["errorCode"]) == (400, "PARSE_ERROR")
    assert DJANGO_ONLY not in headers
    missing = post("/ofrep/v1/evaluate/flags/nope", api_token, {"targetingKey": "u1"})
    assert (missing[0], json.loads(missing[2])["errorCode"]) == (404, "FLAG_NOT_FOUND")


def test_an_unknown_token_is_looked_up_by_django_then_refused_on_the_loop(flag, api_token):
    post(SINGLE, api_token, {"targetingKey": "u1"})  # loads the compiled flags
    status, headers, _ = post(SINGLE, "made-up", {"targetingKey": "u1"})
    assert status == 401 and DJANGO_ONLY in headers
    status, headers, _ = post(SINGLE, "made-up", {"targetingKey": "u1"})
    assert status == 401 and DJANGO_ONLY not in headers  # cached as unknown, like a good one


def test_liveness_is_answered_on_the_loop_with_health_json():
    status, headers, body = asyncio.run(call("GET", "/health/live"))
    assert status == 200
    assert headers["content-type"] == "application/health+json"
    assert "no-store" in headers["cache-control"]
    assert DJANGO_ONLY not in headers
    assert json.loads(body)["status"] == "pass"
    status, headers, _ = asyncio.run(call("POST", "/health/live"))
    assert status in (403, 405) and DJANGO_ONLY in headers  # other methods: Django's answer


def test_due_flags_are_served_stale_and_refreshed_off_the_loop(flag, api_token, settings):
    from orchestrator.flags.cache import store

    post(SINGLE, api_token, {"targetingKey": "u1"})  # Django fills both caches
    store.next_check = 0.0  # the flags are due for their generation check

    async def evaluate_then_wait():
        body = json.dumps({"context": {"targetingKey": "u1"}}).encode()
        answer = await call("POST", SINGLE, body, {"authorization": f"Bearer {api_token}"})
        for _ in range(200):  # the refresh runs on a worker thread
            if not store.due():
                break
            await asyncio.sleep(0.02)
        return answer

    status, headers, _ = asyncio.run(evaluate_then_wait())
    assert status == 200 and DJANGO_ONLY not in headers
    assert not store.due()


def test_a_due_token_check_is_awaited_so_a_revoked_token_fails_at_once(flag, api_token):
    from rest_framework.authtoken.models import Token

    from orchestrator.core import tokens

    assert post(SINGLE, api_token, {"targetingKey": "u1"})[0] == 200  # Django fills the caches
    status, headers, _ = post(SINGLE, api_token, {"targetingKey": "u1"})
    assert status == 200 and DJANGO_ONLY not in headers  # warm: the loop answers
    # Revoked as another process would: the generation moves, this process is not told.
    Token.objects.filter(key=api_token).delete()
    tokens.cache.loaded = True  # the delete's signal invalidated the local cache; undo that
    tokens.cache.value = {api_token: True}
    tokens.cache.next_check = time.monotonic() + 60
    assert post(SINGLE, api_token, {"targetingKey": "u1"})[0] == 200  # not due yet: cached
    tokens.cache.next_check = 0.0  # the poll interval has passed
    status, headers, _ = post(SINGLE, api_token, {"targetingKey": "u1"})
    assert status == 401
