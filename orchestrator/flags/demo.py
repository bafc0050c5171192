"""Demo flags for `make run`: the SPEC §7 shapes, and the guard's schedule."""

from datetime import timedelta

from django.utils import timezone

from orchestrator.flags.guard import ensure_schedule
from orchestrator.flags.models import Flag
from orchestrator.flags.services import Actor, save_flag


def demo_flags() -> list[dict]:
    soon = (timezone.now() + timedelta(hours=1)).isoformat()
    later = (timezone.now() + timedelta(hours=4)).isoformat()
    return [
        {
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
        },
        {
            "key": "banner-text",
            "description": "A string flag: the dashboard's greeting.",
            "enabled": True,
            "variants": {"plain": "Welcome", "festive": "Happy shipping!"},
            "default_variant": "plain",
            "rules": [
                {
                    "variant": "festive",
                    "when": {"attribute": "app_version", "op": "semver_gte", "value": "2.0.0"},
                }
            ],
        },
        {"key": "dark-launch", "description": "Off: the kill switch in action.", "enabled": False},
    ]


def seed_flags() -> str:
    """Create the demo flags that do not exist yet (never overwrites an operator's edits)."""
    created = [
        save_flag(doc, actor=Actor("demo"), reason="demo seed").key
        for doc in demo_flags()
        if not Flag.objects.filter(key=doc["key"]).exists()
    ]
    schedule = ensure_schedule()
    return f"flags: {len(created)} created ({', '.join(created) or 'all kept'}); {schedule}"
