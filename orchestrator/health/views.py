"""health+json endpoints: /health/ (everything), /health/live and /health/ready (probes)."""

import json

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from orchestrator.health.checks import FAIL, PASS, now_iso, overall_status, run_checks
from orchestrator.health.report import health_results

HEALTH_JSON = "application/health+json"
HEALTH_DESCRIPTION = "Contexten control plane health"
READY_DESCRIPTION = "Contexten readiness probe"


def health_body(results: dict[str, list[dict]], description: str) -> dict:
    """The health+json document (`manage.py healthcheck --json` prints the same)."""
    return {
        "status": overall_status(results),
        "version": "1",
        "releaseId": settings.SPECTACULAR_SETTINGS["VERSION"],
        "serviceId": "contexten",
        "description": description,
        "checks": results,
    }


def health_answer(results: dict[str, list[dict]], description: str) -> tuple[int, bytes]:
    """The health+json status code and body for these check results."""
    body = health_body(results, description)
    return 503 if body["status"] == FAIL else 200, json.dumps(body).encode()


def health_response(results: dict[str, list[dict]], description: str) -> HttpResponse:
    status, body = health_answer(results, description)
    return HttpResponse(body, content_type=HEALTH_JSON, status=status)


def liveness() -> tuple[int, bytes]:
    """Liveness: the process answers; no dependency is consulted (the view and the ASGI
    fast path in health/asgi.py both answer this)."""
    results = {"process:uptime": [{"componentType": "system", "status": PASS, "time": now_iso()}]}
    return health_answer(results, "Contexten liveness probe")


@never_cache
@require_GET
def health(request):
    """The cheap local checks, run now, plus the latest stored result of every scheduled
    check (platforms included, so this never waits on one): pass and warn answer 200, fail
    answers 503."""
    return health_response(health_results(), HEALTH_DESCRIPTION)


@never_cache
@require_GET
def live(request):
    """Liveness: the process answers; no dependency is consulted."""
    status, body = liveness()
    return HttpResponse(body, content_type=HEALTH_JSON, status=status)


@never_cache
@require_GET
def ready(request):
    """Readiness: the dependencies a request needs (database, Redis) answer."""
    return health_response(run_checks(ready_only=True), READY_DESCRIPTION)
