"""The demo seeder: valid flags of every shape, idempotent, and the guard's schedule."""

import pytest

from orchestrator.flags.demo import seed_flags
from orchestrator.flags.models import Flag

pytestmark = pytest.mark.django_db


def test_seed_creates_the_demo_flags_once_and_keeps_edits():
    assert "2 created" in seed_flags()
    Flag.objects.filter(key="dark-launch").update(description="edited by an operator")
    assert "0 created (all kept)" in seed_flags()
    assert Flag.objects.get(key="dark-launch").description == "edited by an operator"
    assert Flag.objects.filter(key="dark-launch").exists()


def test_slack_demo_adds_the_guarded_flag_on_its_error_rate():
    from integrations.slack.demo import guarded_flag
    from orchestrator.flags.services import Actor, save_flag

    save_flag(guarded_flag(), actor=Actor("demo"), reason="demo seed")
    assert Flag.objects.get(key="new-checkout").guard["source"] == "slack"
