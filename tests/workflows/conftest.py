"""Workflow test helpers: save documents, store events, drive the runner in-process."""

import pytest

from orchestrator.workflows import definitions, dsl, runner


@pytest.fixture
def save_workflow(db):
    """Create (or update) a workflow from a YAML/JSON text or a dict."""

    def save(document):
        if isinstance(document, str):
            document = dsl.parse_text(document)
        from orchestrator.workflows.models import Workflow

        existing = Workflow.objects.filter(name=document["name"]).first()
        if existing:
            return definitions.update_workflow(existing, document)
        return definitions.create_workflow(document)

    return save


@pytest.fixture
def drive(transactional_db, settings, monkeypatch):
    """Run the real runner in this process until nothing is due within a few seconds."""
    monkeypatch.setattr(runner, "LINGER_S", 0.0)
    settings.WORKFLOW_RUNNER_MAX_WAIT = 5
    return runner.run_ready_steps


def store_event(type_: str, data: dict, delivery_id: str = "d-1"):
    """Store an event the way the webhook does, then dispatch it to its subscribers."""
    from orchestrator.events.dispatch import dispatch_event
    from orchestrator.events.store import store_payload

    stored = store_payload(type_.split(".", 1)[0], type_, delivery_id, data)
    dispatch_event(stored.id)
    return stored.id
