"""Slack's demo data for `make run`: a mention, its reply workflow, a guarded flag."""

from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from orchestrator.events.demo import seed_fixture_events
from orchestrator.flags.models import Flag
from orchestrator.flags.services import Actor, save_flag
from orchestrator.workflows.demo import seed_workflow_texts

FIXTURES = Path(__file__).parent / "fixtures"

SLACK_MENTION_REPLY = """\
name: slack-mention-reply
trigger:
  event: slack.app_mention
steps:
  - id: reply
    action: slack.post_message
    with:
      channel: "{{ event.data.event.channel }}"
      thread_ts: "{{ event.data.event.ts }}"
      text: "Hi <@{{ event.data.event.user }}>, I saw: {{ event.data.event.text }}"
    # Outlasts `make run`'s 45 s Slack drill: the reply is late, never lost.
    retry: {max_attempts: 8, backoff: exponential, initial: 1s, max: 30s}
"""


def guarded_flag() -> dict:
    soon = (timezone.now() + timedelta(hours=1)).isoformat()
    later = (timezone.now() + timedelta(hours=4)).isoformat()
    return {
        "key": "new-checkout",
        "description": "The new checkout flow, ramping under a guard on Slack's error rate.",
        "enabled": True,
        "variants": {"on": True, "off": False},
        "default_variant": "off",
        "rules": [
            {
                "variant": "on",
                "when": {"attribute": "email", "op": "ends_with", "value": "@acme.io"},
            }
        ],
        "rollout": {
            "variant": "on",
            "percentage": 25.0,
            "plan": [{"percentage": 50, "at": soon}, {"percentage": 100, "at": later}],
        },
        "guard": {"max_error_rate": 0.05, "source": "slack", "breaker": True},
    }


def in_sandbox_channel(payload: dict) -> None:
    """The documented fixture's channel is not in the sandbox; the demo speaks in #eng."""
    from integrations.sandbox_state import PlatformState

    payload["event"]["channel"] = PlatformState().channel_id("#eng")


def seed() -> str:
    mention = [("app_mention__default", {"content-type": "application/json"})]
    events = seed_fixture_events("slack", FIXTURES, mention, in_sandbox_channel)
    flag = guarded_flag()
    made = not Flag.objects.filter(key=flag["key"]).exists()
    if made:
        save_flag(flag, actor=Actor("demo"), reason="demo seed")
    flags = f"flag {flag['key']} {'created' if made else 'kept'}"
    return f"{events}; {seed_workflow_texts([SLACK_MENTION_REPLY])}; {flags}"
