"""System checks that refuse unsafe or unusable settings before anything starts."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

MIN_SECRET_KEY_LENGTH = 32


@register(Tags.security, deploy=False)
def check_secret_key(app_configs, **kwargs):
    """Refuse production (DEBUG off) with the built-in or a short SECRET_KEY."""
    if settings.DEBUG:
        return []
    if settings.SECRET_KEY == settings.INSECURE_DEFAULT_SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is the built-in development key while DEBUG is off.",
                hint="Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value.",
                id="contexten.E001",
            )
        ]
    if len(settings.SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
        return [
            Error(
                f"SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters with DEBUG off.",
                hint="Generate one: python -c 'import secrets; print(secrets.token_urlsafe(50))'",
                id="contexten.E002",
            )
        ]
    return []


@register(Tags.security)
def check_debug_on_production_database(app_configs, **kwargs):
    """Warn when DEBUG is on against a production database."""
    if settings.DEBUG and settings.DATABASE_URL.startswith(("postgres", "pgsql")):
        return [
            Warning(
                "DEBUG is on while DATABASE_URL points at Postgres.",
                hint="Set DEBUG=false in production; DEBUG leaks settings in error pages.",
                id="contexten.W001",
            )
        ]
    return []


@register()
def check_webhook_secrets(app_configs, **kwargs):
    """Warn about platforms whose webhooks will be refused for want of a secret."""
    from extensions import registry

    missing = [
        setting
        for platform, setting in registry.secret_settings()
        if not getattr(settings, setting, "") and platform not in settings.WEBHOOK_ALLOW_UNSIGNED
    ]
    if not missing:
        return []
    return [
        Warning(
            f"{', '.join(missing)} not set: those webhooks answer 503.",
            hint="Set the secret, or list the platform in WEBHOOK_ALLOW_UNSIGNED for testing.",
            id="contexten.W002",
        )
    ]
