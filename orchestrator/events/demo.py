"""Demo events for `make run`: an extension's fixture payloads, stored as if they had arrived."""

import json
import time
from pathlib import Path

from extensions import registry
from orchestrator.events.store import store_event


def seed_fixture_events(platform: str, fixtures: Path, deliveries: list[tuple[str, dict]]) -> str:
    """Store each (fixture name, headers) through the platform's own parser (deduped)."""
    receiver = registry.receiver(platform)
    new = 0
    for name, headers in deliveries:
        body = json.dumps(json.loads((fixtures / f"{name}.json").read_text())).encode()
        delivery = receiver.parse(headers, body, verified=False, now=time.time())
        stored = store_event(platform, delivery.type, f"demo-{name}", delivery.data_json)
        new += not stored.duplicate
    return f"{platform} demo events: {new} stored, {len(deliveries) - new} already there"
