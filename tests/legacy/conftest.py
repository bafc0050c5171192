"""Legacy-layer fixtures: the example app registered, signed webhooks, a real worker."""

import pytest

from orchestrator.workflows import engine, triggers
from tests.integrations.webhooks import webhook_secrets  # noqa: F401 - a shared fixture


@pytest.fixture(autouse=True)
def _fresh_engine_caches():
    """Ids are reused between tests: forget compiled triggers and plans."""
    engine.plan_for.cache_clear()
    triggers.CACHE.invalidate()
    yield
    engine.plan_for.cache_clear()
    triggers.CACHE.invalidate()


@pytest.fixture
def example_registered(transactional_db):
    from extensions.legacy import registry
    from tests.legacy.example_app import app

    return registry.register(app.handlers(), app_name=app.name)
