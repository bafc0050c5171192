"""The configuration store is its own app, so the admin groups it under its own heading."""

from django.apps import AppConfig


class ConfigStoreConfig(AppConfig):
    name = "extensions.config"
    label = "config"
    verbose_name = "Configuration"
    default_auto_field = "django.db.models.BigAutoField"
