"""`manage.py runworkflows`: one workflow runner process, until SIGTERM or Ctrl-C."""

from django.conf import settings
from django.core.management.base import BaseCommand

from orchestrator.health import metrics
from orchestrator.workflows import runner_process


class Command(BaseCommand):
    help = (
        "Drive workflow steps in this process (manage.py serve starts WORKFLOW_RUNNERS of "
        "these; on a worker host, run one per core beside qcluster)."
    )

    def handle(self, *args, **options):
        # Steps and runs finish here: without its own flusher their counts never reach the
        # shared store, so /metrics and the dashboard would show no runs at all.
        if settings.METRICS_ENABLED:
            metrics.enable_background_flush()
        recorded = runner_process.run_forever()
        self.stdout.write(f"runner stopped; {recorded} step outcomes recorded")
