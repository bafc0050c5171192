"""The legacy layer as a built-in extension: its action and its backup section."""

from django.apps import AppConfig


class LegacyConfig(AppConfig):
    name = "extensions.legacy"
    label = "legacy"
    verbose_name = "Legacy CodegenApp handlers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from orchestrator.operations import sections
        from orchestrator.workflows import actions

        actions.register("legacy.handler", "extensions.legacy.action.run_handler")
        sections.register("legacy_handlers", "extensions.legacy.registry.BACKUP_SECTION")
