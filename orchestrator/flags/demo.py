"""Demo flags for `make run`: the SPEC §7 shapes, and the guard's schedule."""

from orchestrator.flags.guard import ensure_schedule
from orchestrator.flags.models import Flag
from orchestrator.flags.services import Actor, save_flag


def demo_flags() -> list[dict]:
    return [
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
