"""Legacy-layer fixtures: the example app registered, signed webhooks, a real worker."""

import pytest

from tests.integrations.webhooks import webhook_secrets  # noqa: F401 - a shared fixture


@pytest.fixture
def example_registered(transactional_db):
    from extensions.legacy import registry
    from tests.legacy.example_app import app

    return registry.register(app.handlers(), app_name=app.name)
