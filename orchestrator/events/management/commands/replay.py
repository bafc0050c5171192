"""`manage.py replay`: re-dispatch stored events chosen by filter or time range."""

import json

from django.core.management.base import BaseCommand, CommandError
from rest_framework.exceptions import ValidationError

from orchestrator.events.api import filter_events
from orchestrator.events.dispatch import replay
from orchestrator.events.models import Event

FILTERS = ("source", "type", "status", "since", "until", "delivery_id")


class Command(BaseCommand):
    help = "Replay events matching the filters: reset to received and ring their doorbells."

    def add_arguments(self, parser):
        parser.add_argument("--source", help="an extension that receives webhooks")
        parser.add_argument("--type", help="an event type, or a glob: <source>.pull_request.*")
        parser.add_argument("--status", help="received, dispatched, done, failed or dead")
        parser.add_argument("--since", help="received at or after (ISO 8601)")
        parser.add_argument("--until", help="received before (ISO 8601)")
        parser.add_argument("--delivery-id", dest="delivery_id", help="one delivery id")
        parser.add_argument("--dry-run", action="store_true", help="count matches, change none")
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON")

    def handle(self, *args, **options):
        chosen = {name: options[name] for name in FILTERS if options.get(name)}
        if not chosen:
            raise CommandError("give at least one filter, e.g. --status dead")
        events = self.matching(chosen)
        count = events.count()
        if not options["dry_run"]:
            self.stderr.write(f"replaying {count} event(s)…")
            count = replay(events)
        self.report({"filters": chosen, "matched": count, "dry_run": options["dry_run"]}, options)

    def matching(self, chosen: dict):
        try:
            return filter_events(Event.objects.all(), chosen)
        except ValidationError as exc:
            raise CommandError(f"bad filter: {exc.detail}") from None

    def report(self, outcome: dict, options) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(outcome))
        elif outcome["dry_run"]:
            self.stdout.write(f"would replay {outcome['matched']} event(s)")
        else:
            self.stdout.write(f"replayed {outcome['matched']} event(s)")
