"""The Jira health check: one cheap authenticated call (`GET /rest/api/3/myself`), through
the same pooled, breaker-guarded client as the actions (timeout PLATFORM_HTTP_TIMEOUT)."""

from __future__ import annotations

import asyncio
import concurrent.futures

from extensions.api import FAIL, PASS, WARN, ActionError, ConfigError, HealthResult, config

from .client import Credentials, jira_client


def check_api() -> list[dict]:
    """pass: Jira answers our credentials; warn: not configured; fail: Jira refuses or is down."""
    try:
        document = config("jira")
        Credentials.from_config(document)
    except ActionError as exc:
        return [HealthResult(WARN, str(exc), componentType="component")]
    except ConfigError as exc:  # e.g. an env: reference to a variable this process lacks
        return [HealthResult(WARN, f"config.jira cannot be used: {exc}", componentType="component")]
    try:
        account = run_coroutine(lambda: whoami(document))
    except ActionError as exc:
        return [HealthResult(FAIL, str(exc), componentType="component")]
    return [HealthResult(PASS, componentType="component", observedValue=account)]


async def whoami(config: dict) -> str:
    account = await (await jira_client(config)).myself()
    return str(account.get("displayName") or account.get("accountId") or "?")


def run_coroutine(factory):
    """Run a coroutine to completion from sync code, on its own loop even when the caller's
    thread already runs one (the health runner is called from both kinds of code)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, factory()).result()
