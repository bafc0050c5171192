"""Flags, the pure evaluation engine, rollouts, guards and OFREP."""

from django.apps import AppConfig


class FlagsConfig(AppConfig):
    name = "orchestrator.flags"
    label = "flags"
    verbose_name = "Feature flags"
    default_auto_field = "django.db.models.BigAutoField"
