"""Core actions: log a line, wait, call any HTTP endpoint."""

import asyncio
import json
import logging
from typing import Any, Literal

import aiohttp
from pydantic import BaseModel, Field

from extensions.api import ActionContext, ActionError, action
from orchestrator.core.http import session_for

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


@action("core.http_request", input_model=HttpRequestInput)
async def http_request(params: HttpRequestInput, context: ActionContext) -> dict[str, Any]:
    """Call an HTTP endpoint; 5xx and 429 are retried, other 4xx fail at once."""
    headers = {"Idempotency-Key": context.idempotency_key, **params.headers}
    # The same per-loop pooled sessions the platform clients use, closed with their loop.
    session = await session_for("core", "", {})
    try:
        async with session.request(
            params.method, params.url, headers=headers, json=params.json_body, timeout=TIMEOUT
        ) as response:
            body = await _body(response)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ActionError(f"{params.method} {params.url}: {type(exc).__name__}") from None
    expected = params.expect_status or list(range(200, 300))
    if response.status not in expected:
        raise _status_error(params, response)
    return {"status": response.status, "body": body}


def _status_error(params: HttpRequestInput, response: aiohttp.ClientResponse) -> ActionError:
    status = response.status
    retry_after = response.headers.get("Retry-After")
    return ActionError(
        f"{params.method} {params.url} answered {status}",
        permanent=400 <= status < 500 and status not in (408, 425, 429),
        retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        status=status,
    )


async def _body(response: aiohttp.ClientResponse) -> Any:
    text = await response.text(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text[:10_000]
