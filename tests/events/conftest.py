import pytest

from tests.events import helpers


@pytest.fixture
def subscribers(monkeypatch):
    """Replace EVENT_SUBSCRIBERS with the recording test subscriber; yield the ids heard."""
    from orchestrator.events import subscribers as registry

    helpers.HEARD.clear()
    monkeypatch.setattr(registry, "EVENT_SUBSCRIBERS", ["tests.events.helpers.record"])
    return helpers.HEARD
