"""Workflow definitions, triggers, runs and the step engine."""

from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "orchestrator.workflows"
    label = "workflows"
    verbose_name = "Workflows"
    default_auto_field = "django.db.models.BigAutoField"
