"""Demo data for `make run`. Seeders are plain data: each app adds its own dotted path, and
each enabled extension its manifest's `demo`."""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.module_loading import import_string
from rest_framework.authtoken.models import Token

# Run in order; each is idempotent and returns a one-line summary.
DEMO_SEEDERS: list[str] = [
    "orchestrator.core.demo.seed_admin",
    "orchestrator.flags.demo.seed_flags",
    "extensions.config.demo.seed_core_config",
]


def seed_admin() -> str:
    """The demo superuser and an API token for it."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=settings.DEMO_ADMIN_USERNAME,
        defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"},
    )
    if created:
        user.set_password(settings.DEMO_ADMIN_PASSWORD)
        user.save(update_fields=["password"])
    token, _ = Token.objects.get_or_create(user=user)
    state = "created" if created else "kept"
    return f"admin user {user.username!r} {state}; API token {token.key[:6]}…"


def seeders() -> list[tuple[str, Callable[[], str]]]:
    """(name, seeder) for the core seeders, then each enabled extension's demo."""
    from extensions import registry

    core = [(path, import_string(path)) for path in DEMO_SEEDERS]
    return core + [(f"extension {name}", seed) for name, seed in registry.demo_seeders()]


def seed_demo() -> list[str]:
    """Run every seeder in one transaction, so a failure leaves nothing half-seeded."""
    with transaction.atomic():
        return [seed() for _, seed in seeders()]
