"""What `/health/` reports: the cheap local checks, run now, plus the latest stored verdict
of every scheduled check (so a probe never waits on a platform), and whether the detection
job itself is alive (the newest stored result's age)."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from orchestrator.health.checks import FAIL, PASS, WARN, now_iso, run_checks
from orchestrator.health.models import CheckResult, CheckState

__all__ = ["FAIL", "health_results"]


def health_results(*, ready_only: bool = False) -> dict[str, list[dict]]:
    results = run_checks(ready_only=ready_only)
    if ready_only:
        return results
    for row in CheckState.objects.exclude(name__in=list(results)):
        results[row.name] = [stored_result(row)]
    results["workers:heartbeat"] = [detection_heartbeat()]
    return results


def stored_result(row: CheckState) -> dict:
    result = {"componentType": row.component_type or "component", "status": row.status,
              "time": row.updated_at.isoformat().replace("+00:00", "Z")}  # fmt: skip
    if row.observed_value is not None:
        result["observedValue"] = row.observed_value
        result["observedUnit"] = row.observed_unit
    if row.output:
        result["output"] = row.output
    return result


def detection_heartbeat() -> dict:
    """The detection job runs on the workers: results older than a few intervals mean the
    workers (or their scheduler) stopped."""
    newest = CheckResult.objects.order_by("-time").values_list("time", flat=True).first()
    result = {"componentType": "system", "observedUnit": "s", "time": now_iso()}
    if newest is None:
        why = "no detection results yet: are the workers (qcluster) running?"
        return {**result, "status": WARN, "output": why}
    age = (timezone.now() - newest).total_seconds()
    interval = max(settings.HEALTH_CHECK_INTERVAL_SECONDS, 30)  # django-q2 looks every 30 s
    status = FAIL if age > 10 * interval else WARN if age > 3 * interval else PASS
    result.update(observedValue=round(age, 1), status=status)
    if status != PASS:
        result["output"] = f"the last detection run was {age:.0f}s ago"
    return result
