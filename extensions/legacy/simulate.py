"""`await app.simulate_event(provider, event_type, payload)` through the real pipeline.

The app's handlers are registered (idempotently), the payload is stored as an event like a
webhook delivery, and workers dispatch it and run the handlers. The answer is the result of
the key's last registered handler: the one the old app, which kept one per key, would run.
"""

import asyncio
import time
import uuid
from typing import Any

from asgiref.sync import sync_to_async

from extensions.legacy import keys, registry
from orchestrator.events.store import store_payload
from orchestrator.workflows import triggers
from orchestrator.workflows.models import RUN_FINISHED, Run, RunStatus

POLL_S = 0.1
TIMEOUT_S = 90.0
NOT_HANDLED = {"message": "Event type not handled"}


class HandlerFailed(RuntimeError):
    """The handler's step failed for good; the message is its last error."""


async def simulate(app, provider: str, event_type: str, payload: dict) -> Any:
    key, type_, data = as_event(provider, event_type, payload)
    handlers = [ref for ref in app.handlers() if (ref.provider, ref.key) == (provider, key)]
    if not handlers:
        return NOT_HANDLED
    outcome = await sync_to_async(registry.register)(app.handlers(), app_name=app.name)
    if any(what != "kept" for what in outcome.workflows.values()):
        # Workers re-read workflow triggers at most once a second (triggers.CHECK_EVERY_S).
        await asyncio.sleep(triggers.CHECK_EVERY_S + 0.2)
    delivery = f"simulated-{uuid.uuid4()}"
    stored = await sync_to_async(store_payload)(provider, type_, delivery, data)
    run = await sync_to_async(wait_for_run)(stored.id, keys.workflow_name(provider, key))
    return await sync_to_async(result_of)(run, handlers[-1].path)


def as_event(provider: str, event_type: str, payload: dict) -> tuple[str, str, dict]:
    """(handler key, stored event type, stored data) the way the webhook would store it."""
    if provider == "github":
        action = payload.get("action")
        key = event_type if ":" in event_type or not action else f"{event_type}:{action}"
        return key, keys.event_pattern("github", key), payload
    if provider == "linear":
        key = payload.get("type") or event_type
        action = keys.snake_case(payload.get("action") or "create")
        return key, keys.event_pattern("linear", key).replace("*", action), payload
    envelope = (
        payload
        if payload.get("type") == "event_callback"
        else {
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10]}",
            "event": payload,
        }
    )
    key = envelope.get("event", {}).get("type") or event_type
    return key, keys.event_pattern("slack", key), envelope


def wait_for_run(event_id: int, workflow: str) -> Run:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        run = Run.objects.filter(event_id=event_id, workflow__name=workflow).first()
        if run is not None and run.status in RUN_FINISHED:
            return run
        time.sleep(POLL_S)
    raise TimeoutError(
        f"no worker finished the run of {workflow} within {TIMEOUT_S:g}s: "
        "is `manage.py qcluster` (or `make serve`) running?"
    )


def result_of(run: Run, handler: str) -> Any:
    """The output of the step that ran `handler`, found through the run's own version."""
    step_ids = [
        step["id"]
        for step in run.version.document["steps"]
        if step.get("with", {}).get("handler") == handler
    ]
    step = run.steps.filter(step_id__in=step_ids).first()
    if run.status != RunStatus.SUCCEEDED or step is None:
        error = (step.error if step else "") or run.error or f"run {run.pk} {run.status}"
        raise HandlerFailed(error)
    return (step.output or {}).get("result")
