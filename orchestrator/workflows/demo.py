"""Demo workflows for `make run`: each extension's demo hands its own YAML documents here."""

from orchestrator.workflows import definitions, dsl
from orchestrator.workflows.models import Workflow


def seed_workflow_texts(texts: list[str]) -> str:
    """Create the workflows that do not exist yet (idempotent; never overwrites edits)."""
    created = []
    for text in texts:
        document = dsl.parse_text(text)
        if not Workflow.objects.filter(name=document["name"]).exists():
            definitions.create_workflow(document, source=text)
            created.append(document["name"])
    return f"workflows: {len(created)} created, {len(texts) - len(created)} kept"
