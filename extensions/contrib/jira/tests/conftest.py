"""Fixtures for the Jira extension: the Jira sandbox and a configuration pointing at it.

The repository's own fixtures (database, API clients, served processes) come from
`tests/conftest.py`, imported here because this folder sits outside `tests/`.
"""

import pytest

from contexten_jira.sandbox import JiraSandbox
from tests.conftest import (  # noqa: F401 - fixtures
    _fresh_cache_and_redis,
    api_client,
    api_token,
    django_db_setup,
    served,
    staff_user,
    subprocess_env,
)


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Ids and rows are reused between tests: forget this process's configuration snapshot."""
    from extensions.config import store

    store.cache.invalidate()
    yield
    store.cache.invalidate()


@pytest.fixture
def breakers(transactional_db):
    """A closed `jira` breaker: no test inherits another's failures (the repository's own
    fake-platform fixture, which does the same reset for GitHub, Linear and Slack)."""
    from tests.fakes.fixtures import _close_connections_of_sync_to_async_thread as close_thread
    from tests.fakes.fixtures import _reset_platform_process_state as reset

    reset()
    yield
    reset()
    close_thread()


@pytest.fixture(scope="session")
def _sandbox_server():
    sandbox = JiraSandbox().start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(_sandbox_server) -> JiraSandbox:
    """The Jira sandbox with a clean slate: projects ENG and OPS, no issues, no faults."""
    _sandbox_server.reset()
    yield _sandbox_server
    _sandbox_server.reset()


@pytest.fixture
def jira_config(sandbox) -> dict:
    """A complete `jira` configuration document for the sandbox."""
    return {
        "base_url": sandbox.url,
        "email": sandbox.EMAIL,
        "api_token": sandbox.API_TOKEN,
        "webhook_secret": "unused-here",
        "project_key": "ENG",
        "issue_type": "Task",
    }
