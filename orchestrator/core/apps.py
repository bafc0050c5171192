"""Shared plumbing: API errors, system checks, the supervisor and demo data."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "orchestrator.core"
    label = "core"
    verbose_name = "Core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from orchestrator.core import (
            checks,  # noqa: F401 - registers the system checks
            forksafe,
            lifeline,
            lookups,
            tokens,
        )

        # Postgres: integer `__in` lists go as one array parameter (lookups.py says why).
        lookups.install()

        # django-q2 forks its workers; every process must drop inherited pool connections.
        forksafe.install()
        # Under `manage.py serve`, every descendant dies with its parent (even on kill -9).
        lifeline.install()
        # A revoked API token is announced to every process's token cache.
        tokens.connect()
        # Schedules follow their settings when a worker cluster starts, not only at migrate.
        from django_q.signals import post_spawn

        from orchestrator.core.schedules import follow_once_per_process

        post_spawn.connect(follow_once_per_process, dispatch_uid="contexten.schedules")
