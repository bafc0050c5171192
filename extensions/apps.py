"""Extension registry, lifecycle, configuration store and the legacy adapter."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def record_discovered(sender, **kwargs) -> None:
    """After `migrate`: a registry row (and a history entry) for each new entry point, and a
    breaker row for each platform, so the admin lists them before their first call. This
    replaces seed migrations, which would have to name every platform."""
    from extensions import lifecycle, registry
    from orchestrator.health.models import BreakerState

    lifecycle.sync_discovered(actor="migrate")
    for platform in registry.platforms():
        BreakerState.objects.get_or_create(platform=platform)


class ExtensionsConfig(AppConfig):
    name = "extensions"
    label = "extensions"
    verbose_name = "Extensions and configuration"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(record_discovered, sender=self)
        from extensions import checks  # noqa: F401 - registers the system checks
