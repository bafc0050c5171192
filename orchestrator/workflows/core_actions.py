"""Core actions: log a line, wait, call any HTTP endpoint (guarded: see outbound.py)."""

import asyncio
import json
import logging
from typing import Any, Literal

import aiohttp
import yarl
from pydantic import BaseModel, Field

from extensions.api import ActionContext, ActionError, action
from orchestrator.core.http import session_for
from orchestrator.core.retry_after import retry_after_seconds
from orchestrator.health import breakers
from orchestrator.workflows import outbound

logger = logging.getLogger("contexten.workflows.core")
TIMEOUT = aiohttp.ClientTimeout(total=30.0)


class LogInput(BaseModel):
    message: str
    level: Literal["debug", "info", "warning", "error"] = "info"


@action("core.log", input_model=LogInput)
async def log(params: LogInput, context: ActionContext) -> dict[str, Any]:
    """Write a line to the workflow log."""
    logger.log(
        logging.getLevelName(params.level.upper()),
        "run=%s step=%s %s",
        context.run_id,
        context.step_id,
        params.message,
    )
    return {"message": params.message}


class DelayInput(BaseModel):
    seconds: float = Field(ge=0, le=55)


@action("core.delay", input_model=DelayInput)
async def delay(params: DelayInput, context: ActionContext) -> dict[str, Any]:
    """Wait without holding a worker (the step's timeout still applies)."""
    await asyncio.sleep(params.seconds)
    return {"waited": params.seconds}


class HttpRequestInput(BaseModel):
    url: str = Field(pattern=r"^https?://")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    expect_status: list[int] | None = None


@action("core.http_request", input_model=HttpRequestInput, platform=outbound.POOL)
async def http_request(params: HttpRequestInput, context: ActionContext) -> dict[str, Any]:
    """Call an HTTP endpoint; 5xx and 429 are retried, other 4xx fail at once."""
    url = _parse_url(params.url)
    breaker = outbound.breaker_key(url.host, url.port)
    await breakers.before_call(breaker)
    headers = {"Idempotency-Key": context.idempotency_key, **params.headers}
    session = await session_for(outbound.POOL, "", {}, outbound.GuardedConnector)
    try:
        async with session.request(
            params.method, url, headers=headers, json=params.json_body, timeout=TIMEOUT
        ) as response:
            body = await _body(response)
    except outbound.AddressRefused as exc:
        raise ActionError(f"{params.method} {params.url}: {exc}", permanent=True) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        await breakers.record(breaker, success=False)
        raise ActionError(f"{params.method} {params.url}: {type(exc).__name__}") from None
    await breakers.record(breaker, success=response.status < 500)
    expected = params.expect_status or list(range(200, 300))
    if response.status not in expected:
        raise _status_error(params, response)
    return {"status": response.status, "body": body}


def _parse_url(text: str) -> yarl.URL:
    try:
        url = yarl.URL(text)
    except ValueError as exc:
        raise ActionError(f"core.http_request: bad URL {text!r}: {exc}", permanent=True) from None
    if not url.host:
        raise ActionError(f"core.http_request: bad URL {text!r}: no host", permanent=True)
    return url


def _status_error(params: HttpRequestInput, response: aiohttp.ClientResponse) -> ActionError:
    status = response.status
    return ActionError(
        f"{params.method} {params.url} answered {status}",
        permanent=400 <= status < 500 and status not in (408, 425, 429),
        retry_after=retry_after_seconds(response.headers),
        status=status,
    )


async def _body(response: aiohttp.ClientResponse) -> Any:
    text = await response.text(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text[:10_000]
