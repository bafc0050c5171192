"""Checks, breakers, healing, alerts, metrics and the dashboard."""

from django.apps import AppConfig
from django.conf import settings


class HealthConfig(AppConfig):
    name = "orchestrator.health"
    label = "health"
    verbose_name = "Health"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orchestrator.health import breakers, metrics, state

        breakers.register_checks()
        state.announce_changes()
        if settings.METRICS_ENABLED:
            metrics.flush_from_workers()
        else:
            metrics.disable()
