"""The scheduled checks (SPEC §9 level 1): backlogs, sweeper lag, step error rate and each
enabled platform's API (every extension's own checks come through checks.run_checks).

They run in the detection job (detect.py), never in a `/health/` request: a probe must not
wait on a platform. Each answers health+json results like the checks in checks.py, with its
status decided against `limits()`; the same limits feed the forecasts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from orchestrator.health import breakers, queues, watch
from orchestrator.health.checks import FAIL, PASS, WARN, now_iso, one_line

PLATFORM_CHECK = "integrations.{platform}.health.check_api"  # each integration's cheap call
SWEEP_SCHEDULE = "workflows.sweep"


def limits() -> dict[str, tuple[float, float]]:
    """(warn, fail) thresholds per check, from settings; higher is worse for all of them."""
    return {
        "events:backlog": (settings.HEALTH_BACKLOG_WARN, settings.HEALTH_BACKLOG_FAIL),
        "steps:backlog": (settings.HEALTH_BACKLOG_WARN, settings.HEALTH_BACKLOG_FAIL),
        "events:oldestAge": (settings.HEALTH_AGE_WARN_SECONDS, settings.HEALTH_AGE_FAIL_SECONDS),
        "steps:oldestAge": (settings.HEALTH_AGE_WARN_SECONDS, settings.HEALTH_AGE_FAIL_SECONDS),
        "sweeper:lag": (120.0, 600.0),
        "steps:errorRate": (settings.HEALTH_ERROR_RATE_WARN, settings.HEALTH_ERROR_RATE_FAIL),
        "database:responseTime": (100.0, 1000.0),
        "redis:responseTime": (50.0, 500.0),
        **{f"{p}:responseTime": (2000.0, 10000.0) for p in breakers.platforms()},
    }


def graded(name: str, value: float, unit: str, component_type: str, **extra) -> list[dict]:
    """One result whose status compares `value` with the check's (warn, fail) limits."""
    warn, fail = limits()[name]
    status = FAIL if value >= fail else WARN if value >= warn else PASS
    result = {"componentType": component_type, "observedValue": round(value, 4),
              "observedUnit": unit, "status": status, "time": now_iso(), **extra}  # fmt: skip
    if status != PASS:
        result.setdefault("output", f"{value:g} {unit} is over the {status} limit")
    return [result]


def check_event_backlog() -> dict[str, list[dict]]:
    backlog = queues.event_backlog()
    return {
        "events:backlog": graded("events:backlog", backlog["depth"], "events", "component"),
        "events:oldestAge": graded(
            "events:oldestAge", backlog["oldest_age_seconds"], "s", "component"
        ),
    }


def check_step_backlog() -> dict[str, list[dict]]:
    backlog = queues.step_backlog()
    return {
        "steps:backlog": graded("steps:backlog", backlog["depth"], "steps", "component"),
        "steps:oldestAge": graded(
            "steps:oldestAge", backlog["oldest_age_seconds"], "s", "component"
        ),
    }


def check_sweeper_lag() -> dict[str, list[dict]]:
    """How late the sweeper's schedule is: django-q2 moves next_run on after each run."""
    from django_q.models import Schedule

    next_run = Schedule.objects.filter(name=SWEEP_SCHEDULE).values_list("next_run", flat=True)
    due = next_run.first()
    if due is None:
        result = {"componentType": "system", "status": WARN, "time": now_iso(),
                  "output": "the sweeper has no schedule (run migrate)"}  # fmt: skip
        return {"sweeper:lag": [result]}
    lag = max((timezone.now() - due).total_seconds(), 0.0)
    return {"sweeper:lag": graded("sweeper:lag", lag, "s", "system")}


def check_step_error_rate() -> dict[str, list[dict]]:
    """Failed / finished steps over the last HEALTH_ERROR_RATE_WINDOW_SECONDS."""
    since = timezone.now() - timedelta(seconds=settings.HEALTH_ERROR_RATE_WINDOW_SECONDS)
    total, failed = watch.step_error_rate(since=since)
    rate = failed / total if total >= settings.HEALTH_ERROR_RATE_MIN_STEPS else 0.0
    return {"steps:errorRate": graded("steps:errorRate", rate, "ratio", "component",
                                      observedSamples=total)}  # fmt: skip


LOCAL_DETECTORS: list[Callable[[], dict[str, list[dict]]]] = [
    check_event_backlog,
    check_step_backlog,
    check_sweeper_lag,
    check_step_error_rate,
]


def run_local_detectors() -> dict[str, list[dict]]:
    results: dict[str, list[dict]] = {}
    for detector in LOCAL_DETECTORS:
        try:
            results.update(detector())
        except Exception as exc:  # one broken detector must not hide the others
            name = f"{detector.__name__.removeprefix('check_')}:error"
            results[name] = [{"status": FAIL, "time": now_iso(), "output": one_line(exc)}]
    return results


# --- platform APIs (network calls, concurrently, each under a deadline) ---------------------
def platform_probes() -> dict[str, Callable]:
    """Each platform's `check_api` coroutine function, for the platforms whose integration
    provides one; the integration answers None when it is not configured (no token)."""
    probes = {}
    for platform in breakers.platforms():
        with contextlib.suppress(ImportError):
            probes[platform] = import_string(PLATFORM_CHECK.format(platform=platform))
    return probes


async def _probe(name: str, probe: Callable, deadline_s: float) -> tuple[str, list[dict] | None]:
    started = time.perf_counter()
    try:
        answer = await asyncio.wait_for(probe(), deadline_s)
    except TimeoutError:
        return name, [{"componentType": "component", "status": FAIL, "time": now_iso(),
                       "output": f"no answer within {deadline_s:g}s"}]  # fmt: skip
    except Exception as exc:
        return name, [{"componentType": "component", "status": FAIL, "time": now_iso(),
                       "output": one_line(exc)}]  # fmt: skip
    if answer is None:
        return name, None
    if isinstance(answer, dict):
        elapsed = (time.perf_counter() - started) * 1000
        answer = graded(name, elapsed, "ms", "component", **answer) if name in limits() else [
            {"status": PASS, "time": now_iso(), **answer}
        ]  # fmt: skip
    return name, answer


async def _run_remote(probes: dict[str, Callable], deadline_s: float) -> dict[str, list[dict]]:
    from orchestrator.core.http import close_sessions  # the loop ends here: close its sessions

    breakers.bypass.set(True)  # see the platform itself, whatever its breaker says
    try:
        found = await asyncio.gather(*(_probe(n, p, deadline_s) for n, p in probes.items()))
    finally:
        await close_sessions()
    return {name: result for name, result in found if result}


def run_remote_detectors() -> dict[str, list[dict]]:
    """Platform APIs (as "<platform>:responseTime"), concurrently. Extensions' own checks
    run with the local ones: `checks.run_checks` includes the registry's group."""
    probes = {f"{p}:responseTime": probe for p, probe in platform_probes().items()}
    if not probes:
        return {}
    return asyncio.run(_run_remote(probes, settings.HEALTH_PROBE_TIMEOUT_SECONDS))


def probe_platform(platform: str) -> str | None:
    """Call one platform's health probe now; answer the problem in one line, or None."""
    probe = platform_probes().get(platform)
    if probe is None:
        return f"{platform} has no health probe"
    name = f"{platform}:responseTime"
    found = asyncio.run(_run_remote({name: probe}, settings.HEALTH_PROBE_TIMEOUT_SECONDS))
    result = (found.get(name) or [{"status": FAIL, "output": "not configured"}])[0]
    return None if result["status"] != FAIL else result.get("output", "failed")
