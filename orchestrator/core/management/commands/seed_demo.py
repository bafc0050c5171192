"""`manage.py seed_demo`: the admin user, example workflows, flags and extensions."""

import json

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
            summary = seed_demo()
        if options["json"]:
            self.stdout.write(json.dumps({"seeded": summary, "dry_run": options["dry_run"]}))
            return
        for line in summary:
            self.stdout.write(f"  {line}")
