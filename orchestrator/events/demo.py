"""Demo events for `make run`: an extension's fixture payloads, stored as if they had arrived."""

import json
import time
from collections.abc import Callable
from pathlib import Path

from extensions import registry
from orchestrator.events.store import store_event


def seed_fixture_events(
    platform: str,
    fixtures: Path,
    deliveries: list[tuple[str, dict]],
    fit_to_sandbox: Callable[[dict], None] | None = None,
) -> str:
    """Store each (fixture name, headers) through the platform's own parser (deduped).

    `fit_to_sandbox` edits a fixture in place so it names things the demo sandbox holds (the
    fixtures quote the platforms' documentation, whose ids the sandbox does not know)."""
    receiver = registry.receiver(platform)
    new = 0
    for name, headers in deliveries:
        payload = json.loads((fixtures / f"{name}.json").read_text())
        if fit_to_sandbox is not None:
            fit_to_sandbox(payload)
        body = json.dumps(payload).encode()
        delivery = receiver.parse(headers, body, verified=False, now=time.time())
        stored = store_event(platform, delivery.type, f"demo-{name}", delivery.data_json)
        new += not stored.duplicate
    return f"{platform} demo events: {new} stored, {len(deliveries) - new} already there"
