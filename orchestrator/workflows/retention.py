"""Retention for run history, so months of runs cannot fill the disk (the event store's
prune covers events; this covers runs and their steps).

`prune_runs` is the `workflows.prune` schedule (hourly, migration 0003): finished runs whose
`finished_at` is older than WORKFLOW_RETENTION_DAYS go, with their steps, BATCH runs per
transaction. Like the event prune it walks the primary key, so dead index entries left by
earlier batches are never read again, and each batch commits on its own.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orchestrator.workflows.models import RUN_FINISHED, Run

logger = logging.getLogger("contexten.workflows")
SCHEDULE_NAME = "workflows.prune"
BATCH = 1000


def prune_runs() -> dict[str, int]:
    """Delete finished runs past retention and their steps; answer how many of each."""
    cutoff = timezone.now() - timedelta(days=settings.WORKFLOW_RETENTION_DAYS)
    finished = Run.objects.filter(status__in=RUN_FINISHED, finished_at__lt=cutoff)
    counts, last = {"runs": 0, "steps": 0}, 0
    while ids := list(
        finished.filter(id__gt=last).order_by("id").values_list("id", flat=True)[:BATCH]
    ):
        with transaction.atomic():
            _, deleted = Run.objects.filter(id__in=ids).only("id").delete()
        counts["runs"] += deleted.get("workflows.Run", 0)
        counts["steps"] += deleted.get("workflows.StepRun", 0)
        last = ids[-1]
    if counts["runs"]:
        logger.info("workflows.pruned", extra={**counts, "cutoff": cutoff.isoformat()})
    return counts
