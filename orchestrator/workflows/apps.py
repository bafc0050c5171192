"""Workflow definitions, triggers, runs and the step engine."""

from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "orchestrator.workflows"
    label = "workflows"
    verbose_name = "Workflows"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The runner lives in forked django-q2 workers; see forksafe.py for why.
        from orchestrator.workflows import forksafe

        forksafe.install()
