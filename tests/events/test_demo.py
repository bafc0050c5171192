"""`make run` shows real-looking events in the admin from the first minute."""

import pytest

from orchestrator.core.demo import seed_demo
from orchestrator.events.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_events_are_stored_once_with_platform_types():
    first = " ".join(seed_demo())
    assert "github demo events: 2 stored" in first
    assert "slack demo events: 1 stored" in first
    assert "github demo events: 0 stored, 2 already there" in " ".join(seed_demo())
    types = set(Event.objects.values_list("type", flat=True))
    assert {"github.pull_request.opened", "github.push", "linear.issue.create"} <= types
    assert "slack.app_mention" in types
