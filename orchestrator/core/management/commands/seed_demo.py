"""`manage.py seed_demo`: the admin user, example workflows, flags and extensions."""

import json
import logging

from django.core.management.base import BaseCommand

from orchestrator.core.demo import seed_demo, seeders


class Command(BaseCommand):
    help = "Seed the demo data (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="list the seeders only")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args, **options):
        if options["dry_run"]:
            summary = [f"would run {name}" for name, _ in seeders()]
        else:
            with quiet_below_warning("django-q", "contexten.config"):
                summary = seed_demo()
        if options["json"]:
            self.stdout.write(json.dumps({"seeded": summary, "dry_run": options["dry_run"]}))
            return
        for line in summary:
            self.stdout.write(f"  {line}")


class quiet_below_warning:
    """The summary below says what the seed did; its per-item INFO lines (tasks enqueued,
    each configuration change with its patch) would bury it on `make run`'s console."""

    def __init__(self, *names: str):
        self.loggers = [logging.getLogger(name) for name in names]

    def __enter__(self):
        self.levels = [logger.level for logger in self.loggers]
        for logger in self.loggers:
            logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))

    def __exit__(self, *exc):
        for logger, level in zip(self.loggers, self.levels, strict=True):
            logger.setLevel(level)
