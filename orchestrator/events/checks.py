"""System checks for the event store's settings: refuse values that cannot work."""

from django.conf import settings
from django.core.checks import Error, Warning, register

from extensions import registry

POSITIVE = (
    "EVENT_MAX_ATTEMPTS",
    "EVENT_RETRY_BASE_SECONDS",
    "EVENT_RETRY_MAX_SECONDS",
    "EVENT_STUCK_AFTER_SECONDS",
    "EVENT_SWEEP_INTERVAL_MINUTES",
    "EVENT_SWEEP_SECONDS",
    "EVENT_RETENTION_DAYS",
    "WEBHOOK_MAX_BYTES",
    "WEBHOOK_POOL_MAX",
    "WEBHOOK_INSERT_CONCURRENCY",
)


@register()
def check_event_settings(app_configs, **kwargs):
    """Every count, interval and size must be at least 1."""
    return [
        Error(
            f"{name} must be at least 1, got {getattr(settings, name)}.",
            hint=f"Unset {name} for the default, or give a positive whole number.",
            id="events.E001",
        )
        for name in POSITIVE
        if getattr(settings, name) < 1
    ]


@register()
def check_unsigned_platforms(app_configs, **kwargs):
    """Warn about names in WEBHOOK_ALLOW_UNSIGNED that are no platform, and about the rest."""
    platforms = registry.webhook_platforms()
    unknown = [name for name in settings.WEBHOOK_ALLOW_UNSIGNED if name not in platforms]
    problems = []
    if unknown:
        problems.append(
            Error(
                f"WEBHOOK_ALLOW_UNSIGNED names unknown platforms: {', '.join(unknown)}.",
                hint=f"Known platforms: {', '.join(platforms)}.",
                id="events.E002",
            )
        )
    if not settings.DEBUG and settings.WEBHOOK_ALLOW_UNSIGNED:
        problems.append(
            Warning(
                "WEBHOOK_ALLOW_UNSIGNED accepts unsigned webhooks with DEBUG off.",
                hint="Anyone can post events; set the platform secrets instead.",
                id="events.W001",
            )
        )
    return problems
