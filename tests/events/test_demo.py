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


def test_the_seeded_slack_mention_names_a_channel_the_sandbox_holds():
    """Its reply run posts there; the documented fixture's own channel would fail the run."""
    from integrations.sandbox_state import PlatformState

    seed_demo()
    mention = Event.objects.get(type="slack.app_mention")
    assert PlatformState().channel_id(mention.data["event"]["channel"]) is not None


def test_the_drill_takes_the_platform_down_and_brings_it_back():
    from integrations.sandbox import PlatformSandbox, parse_drill, run_drills

    assert parse_drill("demo")[0] == "slack"
    with pytest.raises(ValueError):
        parse_drill("nowhere:1:1")
    fake = PlatformSandbox(port=0)
    seen = []
    fake.set_down = lambda platform, down=True: seen.append((platform, down))
    run_drills(fake, "linear", every_s=0.01, for_s=0.01, cycles=2)
    assert seen == [("linear", True), ("linear", False)] * 2
