"""Checks, breakers, healing, alerts, metrics and the dashboard."""

from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "orchestrator.health"
    label = "health"
    verbose_name = "Health"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orchestrator.health import breakers, metrics

        breakers.register_checks()
        metrics.flush_from_workers()
