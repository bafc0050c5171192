"""The legacy layer's Django app: its registrations model and their backup section (its
action comes from its extension manifest, `extension.py`)."""

from django.apps import AppConfig


class LegacyConfig(AppConfig):
    name = "extensions.legacy"
    label = "legacy"
    verbose_name = "Legacy CodegenApp handlers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from orchestrator.operations import sections

        sections.register("legacy_handlers", "extensions.legacy.registry.BACKUP_SECTION")
