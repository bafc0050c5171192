"""Demo events for `make run`: a few real fixture payloads, stored as if they had arrived."""

import json
import time
from pathlib import Path

from django.conf import settings

from orchestrator.events.store import store_event
from orchestrator.events.webhooks import receiver_for

# (platform, fixture name, headers the platform would have sent)
DEMO_DELIVERIES = [
    ("github", "pull_request__opened", {"x-github-event": "pull_request"}),
    ("github", "push__main", {"x-github-event": "push"}),
    ("linear", "issue__create", {}),
    ("slack", "app_mention__default", {"content-type": "application/json"}),
]


def seed_events() -> str:
    """Store the demo deliveries through each platform's own parser (idempotent: deduped)."""
    new = 0
    for platform, name, headers in DEMO_DELIVERIES:
        path = Path(settings.BASE_DIR) / "integrations" / platform / "fixtures" / f"{name}.json"
        body = json.dumps(json.loads(path.read_text())).encode()
        delivery_headers = {**headers, "x-github-delivery": f"demo-{name}"}
        delivery = receiver_for(platform).parse(
            delivery_headers, body, verified=False, now=time.time()
        )
        stored = store_event(platform, delivery.type, f"demo-{name}", delivery.data_json)
        new += not stored.duplicate
    return f"demo events: {new} stored, {len(DEMO_DELIVERIES) - new} already there"
