"""Extension registry, lifecycle, configuration store and the legacy adapter."""

from django.apps import AppConfig


class ExtensionsConfig(AppConfig):
    name = "extensions"
    label = "extensions"
    verbose_name = "Extensions and configuration"
    default_auto_field = "django.db.models.BigAutoField"
