"""The OFREP fast path: warm evaluations are answered on the event loop, before Django.

Why: every request through Django's ASGI handler crosses the process's one sync thread,
because the middleware chain (WhiteNoise's, and Django's own `MiddlewareMixin` hooks) is
sync; OFREP measured about 260 req/s that way at 64 connections. An evaluation needs no
session, cookie, CSRF token or static file: only the API token (cached per process) and the
compiled flags (cached per process). So when `ofrep.answerable_on_loop` says both are cached,
this wrapper answers with the same functions the Django views call (`answer_flag`,
`answer_flags`), reading the caches only. Flags due for their 0.5 s check are still served
while a worker thread refreshes them. The token cache is not: when its generation check is
due (TOKEN_CACHE_POLL_MS), the request awaits that check on a worker thread (one Redis GET
or one indexed row; concurrent requests share it), so a revoked token fails on every process
within a poll. A token never seen, or flags never loaded, go to Django, whose view does the
query and fills the caches. Paths come from the same constants as
`flags/urls.py`.
"""

import asyncio
import logging

from django.conf import settings
from django.db import connections

from orchestrator.core import tokens
from orchestrator.flags import ofrep

logger = logging.getLogger("contexten.flags")
# Refreshes in flight, so a due cache is refreshed once, not once per request.
refreshing: set = set()
# The token generation check in flight on this loop, shared by the requests that wait for it.
token_check: dict[asyncio.AbstractEventLoop, asyncio.Future] = {}

BULK = "/" + ofrep.MOUNT + ofrep.BULK_PATH
SINGLE_PREFIX = BULK + "/"


def flag_key(path: str) -> str | None:
    """The `{key}` of a single-flag path (Django's `<str:key>`: non-empty, no slash)."""
    key = path[len(SINGLE_PREFIX) :] if path.startswith(SINGLE_PREFIX) else ""
    return key if key and "/" not in key else None


class OfrepFastPath:
    """ASGI middleware: answer warm OFREP evaluations directly, pass the rest through."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        path = scope["path"]
        key = flag_key(path)
        if key is None and path != BULK:
            return await self.app(scope, receive, send)
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        await check_tokens()
        if not ofrep.answerable_on_loop(headers):
            return await self.app(scope, receive, send)
        refresh_off_loop(ofrep.revalidations())
        body = await read_body(receive)
        if body is None:
            answer = ofrep.OfrepError(413, "PARSE_ERROR", "request body is too large").answer(key)
        elif key is None:
            answer = ofrep.answer_flags(headers, body, ofrep.CACHED)
        else:
            answer = ofrep.answer_flag(key, headers, body, ofrep.CACHED)
        await send_answer(send, answer)


async def check_tokens() -> None:
    """When the token cache is due for its generation check, wait for it (off the loop)."""
    if not tokens.cache.due():
        return
    loop = asyncio.get_running_loop()
    pending = token_check.get(loop)
    if pending is None or pending.done():
        pending = token_check[loop] = loop.run_in_executor(None, run_and_close, tokens.cache.get)
        pending.add_done_callback(lambda _: token_check.pop(loop, None))
    await asyncio.shield(pending)


def refresh_off_loop(jobs) -> None:
    """Run each refresh on a worker thread unless the same one is already running."""
    loop = asyncio.get_running_loop()
    for job in jobs:
        identity = (getattr(job, "func", job), getattr(job, "args", ()))
        if identity in refreshing:
            continue
        refreshing.add(identity)
        done = loop.run_in_executor(None, run_and_close, job)
        done.add_done_callback(lambda _, identity=identity: refreshing.discard(identity))


def run_and_close(job) -> None:
    """A refresh on an executor thread; that thread's connections go back afterwards."""
    try:
        job()
    except Exception:  # the cache stays as it was; the next due request tries again
        logger.exception("flags.cache.refresh-failed")
    finally:
        connections.close_all()


async def read_body(receive) -> bytes | None:
    """The whole body, or None once it passes DATA_UPLOAD_MAX_MEMORY_SIZE (as Django caps it)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def send_answer(send, answer: ofrep.OfrepAnswer) -> None:
    headers = [(b"content-length", str(len(answer.body)).encode())]
    if answer.body:
        headers.append((b"content-type", ofrep.JSON.encode()))
    headers += [(name.lower().encode(), value.encode()) for name, value in answer.headers.items()]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
