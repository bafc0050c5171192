"""Operations: backup and restore, the phased migration rollout, and the ops commands."""

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "orchestrator.operations"
    label = "operations"
    verbose_name = "Operations (backups, migration phases)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from orchestrator.flags import guard

        # A guarded rollback of a phase's flag rolls the whole phase back (phases.py).
        guard.register_rollback_listener("orchestrator.operations.phases.on_flag_rolled_back")
