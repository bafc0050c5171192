"""pytest fixtures for the fake platform server (tests/fakes/platforms.py).

`fake_platforms` gives a FakePlatforms with a clean slate (no calls, faults or delays, the
seeded data only), points GITHUB_API_URL, LINEAR_API_URL, SLACK_API_URL and the three tokens
at it through pytest-django's `settings`, and resets the in-process circuit breakers and
platform caches so no test inherits another's open breaker. `fake_platforms.env()` gives the
same settings as environment variables for child processes.
"""

import asyncio
import contextlib

import pytest

from tests.fakes.platforms import FakePlatforms


@pytest.fixture(scope="session")
def _fake_platforms_server():
    fake = FakePlatforms().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_platforms(_fake_platforms_server, settings):
    fake = _fake_platforms_server
    fake.reset()
    settings.GITHUB_API_URL = fake.github_url
    settings.LINEAR_API_URL = fake.linear_url
    settings.SLACK_API_URL = fake.slack_url
    settings.GITHUB_TOKEN = fake.GITHUB_TOKEN
    settings.LINEAR_API_KEY = fake.LINEAR_KEY
    settings.SLACK_BOT_TOKEN = fake.SLACK_TOKEN
    _reset_platform_process_state()
    yield fake
    fake.reset()
    _reset_platform_process_state()
    _close_connections_of_sync_to_async_thread()


def _close_connections_of_sync_to_async_thread() -> None:
    """Breaker bookkeeping on the database backend runs on asgiref's sync thread; close its
    connections (and Postgres pool) so the test database can be dropped at the end."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    def close_all() -> None:
        for connection in connections.all(initialized_only=True):
            connection.close()
            if hasattr(connection, "close_pool"):
                connection.close_pool()

    with contextlib.suppress(RuntimeError):  # a loop is still running: nothing to do
        asyncio.run(sync_to_async(close_all)())


def _reset_platform_process_state() -> None:
    """Forget in-process breaker windows and cached lookups (they outlive a test otherwise)."""
    with contextlib.suppress(ImportError):
        from orchestrator.health import breakers

        breakers.reset_local()
    with contextlib.suppress(ImportError):
        from orchestrator.core import cache

        cache.clear_local()


@pytest.fixture
def run_action(fake_platforms, transactional_db):
    """Run a registered action the way the engine does: `await run_action(name, params,
    attempt=1, key="run-1-step")`. Transactional, because breaker bookkeeping on the database
    backend happens on another thread."""
    from orchestrator.workflows.actions import ActionContext, execute

    async def run(name, params, *, attempt=1, key="run-1-step", run_id=1, step_id="step"):
        context = ActionContext(run_id=run_id, step_id=step_id, attempt=attempt,
                                idempotency_key=key)  # fmt: skip
        return await execute(name, params, context)

    return run
