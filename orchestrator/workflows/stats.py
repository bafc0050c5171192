"""Step outcome counts, for guards that watch error rates (flags roll back on them)."""

from datetime import datetime

from orchestrator.workflows.models import StepRun, StepStatus


def step_error_rate(
    *, workflow: str | None = None, integration: str | None = None, since: datetime
) -> tuple[int, int]:
    """Answer (finished, failed) step counts since `since`, optionally for one workflow or
    one integration (the action's extension prefix, e.g. "core")."""
    steps = StepRun.objects.filter(
        finished_at__gte=since, status__in=[StepStatus.SUCCEEDED, StepStatus.FAILED]
    )
    if workflow:
        steps = steps.filter(run__workflow__name=workflow)
    if integration:
        steps = steps.filter(action__startswith=f"{integration}.")
    total = steps.count()
    failed = steps.filter(status=StepStatus.FAILED).count() if total else 0
    return total, failed
