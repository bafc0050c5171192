"""`make run` shows real-looking events in the admin from the first minute."""

import pytest

from orchestrator.events.demo import DEMO_DELIVERIES, seed_events
from orchestrator.events.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_events_are_stored_once_with_platform_types():
    assert seed_events().startswith(f"demo events: {len(DEMO_DELIVERIES)} stored")
    assert seed_events().endswith(f"{len(DEMO_DELIVERIES)} already there")
    types = set(Event.objects.values_list("type", flat=True))
    assert {"github.pull_request.opened", "github.push", "linear.issue.create"} <= types
    assert "slack.app_mention" in types
