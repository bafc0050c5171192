"""Health checks as plain data: a check name mapped to a dotted path, imported lazily.

Each check returns a list of health+json check results (IETF draft-inadarei-api-health-check):
dicts with at least `status` ("pass", "warn" or "fail"). Later components (breakers, queues,
extensions) add themselves with `register`.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.db import connection
from django.utils.module_loading import import_string

PASS, WARN, FAIL = "pass", "warn", "fail"

# name -> (dotted path to a callable, whether the readiness probe needs it)
CHECKS: dict[str, tuple[str, bool]] = {
    "database:responseTime": ("orchestrator.health.checks.check_database", True),
    "redis:responseTime": ("orchestrator.health.checks.check_redis", True),
}


# Dotted paths to callables answering several named checks at once ({name: results}): the
# per-platform breakers and the extensions' own checks, whose names come from the registry.
CHECK_GROUPS: list[str] = ["extensions.registry.run_health_checks"]


def register(name: str, dotted_path: str, *, ready: bool = False) -> None:
    """Add a check; `name` follows health+json's "component:measurement"."""
    CHECKS[name] = (dotted_path, ready)


def register_group(dotted_path: str) -> None:
    if dotted_path not in CHECK_GROUPS:
        CHECK_GROUPS.append(dotted_path)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def timed_result(component_type: str, probe: Callable[[], object]) -> list[dict]:
    """Run `probe`, answering its latency in ms, or `fail` with the error's one line."""
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:
        return [
            {
                "componentType": component_type,
                "status": FAIL,
                "time": now_iso(),
                "output": one_line(exc),
            }
        ]
    elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
    return [
        {
            "componentType": component_type,
            "observedValue": elapsed_ms,
            "observedUnit": "ms",
            "status": PASS,
            "time": now_iso(),
        }
    ]


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def check_database() -> list[dict]:
    def probe():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    result = timed_result("datastore", probe)
    result[0]["componentId"] = connection.vendor
    return result


def check_redis() -> list[dict] | None:
    """Only when REDIS_URL is set; the embedded default has no Redis to check. A failed
    ping is `fail` (the checks runner reports the exception) and marks Redis down, so the
    concerns behind core/backends.py fall back to the database at once."""
    from orchestrator.core import backends

    if not backends.redis_configured():
        return None
    from orchestrator.core.redis import redis_client

    def ping():
        try:
            redis_client().ping()
        except backends.redis_errors() as exc:
            backends.health.failed("health", exc)
            raise
        backends.health.succeeded()

    return timed_result("datastore", ping)


def run_checks(*, ready_only: bool = False) -> dict[str, list[dict]]:
    """Run the registered checks; a check that raises is reported as `fail`, never raised."""
    results = {}
    for name, (dotted_path, needed_for_ready) in CHECKS.items():
        if ready_only and not needed_for_ready:
            continue
        try:
            outcome = import_string(dotted_path)()
        except Exception as exc:
            outcome = [{"status": FAIL, "time": now_iso(), "output": one_line(exc)}]
        if outcome:
            results[name] = outcome
    if not ready_only:
        results.update(run_groups())
    return results


def run_groups() -> dict[str, list[dict]]:
    """Every group's checks; a group that raises is one `fail` result under its path."""
    results = {}
    for dotted_path in CHECK_GROUPS:
        try:
            results.update(import_string(dotted_path)())
        except Exception as exc:
            results[dotted_path] = [{"status": FAIL, "time": now_iso(), "output": one_line(exc)}]
    return results


def overall_status(results: dict[str, list[dict]]) -> str:
    statuses = {item["status"] for items in results.values() for item in items}
    if FAIL in statuses:
        return FAIL
    return WARN if WARN in statuses else PASS
