"""`manage.py healthcheck`: the checks `/health/` runs; exit 0 pass, 1 warn, 2 fail."""

import json
import sys

from django.core.management.base import BaseCommand

from orchestrator.health.checks import FAIL, PASS, WARN, run_checks
from orchestrator.health.report import health_results
from orchestrator.health.views import HEALTH_DESCRIPTION, READY_DESCRIPTION, health_body

EXIT_CODES = {PASS: 0, WARN: 1, FAIL: 2}


class Command(BaseCommand):
    requires_system_checks = []  # a probe: quiet, and fast
    help = "Run the health checks /health/ runs; exit 0 (pass), 1 (warn) or 2 (fail)."

    def add_arguments(self, parser):
        parser.add_argument("--ready", action="store_true", help="only the readiness checks")
        parser.add_argument("--json", action="store_true", help="print the health+json body")

    def handle(self, *args, **options):
        ready = options["ready"]
        # The same results /health/ (stored scheduled checks plus the cheap local ones) and
        # /health/ready answer, so a container probe and the HTTP probes agree.
        results = run_checks(ready_only=True) if ready else health_results()
        body = health_body(results, READY_DESCRIPTION if ready else HEALTH_DESCRIPTION)
        if options["json"]:
            self.stdout.write(json.dumps(body))
        else:
            self.stdout.write(f"health: {body['status']}")
            for name, items in results.items():
                for item in items:
                    self.stdout.write(f"  {name}: {item['status']}{detail(item)}")
        self.stdout.flush()
        if EXIT_CODES[body["status"]]:
            sys.exit(EXIT_CODES[body["status"]])


def detail(item: dict) -> str:
    if item.get("output"):
        return f" ({item['output']})"
    if "observedValue" in item:
        return f" ({item['observedValue']} {item.get('observedUnit', '')})".rstrip(" )") + ")"
    return ""
