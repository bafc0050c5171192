"""What other packages may ask health about (the flags guard, the detectors): error rates,
breaker states and failing checks, behind one small interface health owns.

The flags guard imports this module instead of reaching into the workflow engine.
"""

from __future__ import annotations

from datetime import datetime

from orchestrator.health import breakers


def step_error_rate(
    *, workflow: str | None = None, integration: str | None = None, since: datetime
) -> tuple[int, int]:
    """(finished, failed) workflow steps since `since`, optionally of one workflow or of one
    integration's actions."""
    from orchestrator.workflows.stats import step_error_rate as count

    return count(workflow=workflow, integration=integration, since=since)


def breaker_state(platform: str) -> str:
    """ "closed", "open" or "half_open", as every process sees it."""
    return breakers.breaker_state(platform)


def failing_checks() -> list[str]:
    """Names of the checks that fail now: the cheap local checks and the latest stored
    results (what `/health/` reports)."""
    from orchestrator.health.report import FAIL, health_results

    results = health_results()
    return sorted(
        name for name, items in results.items() if any(i["status"] == FAIL for i in items)
    )
