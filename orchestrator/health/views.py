"""health+json endpoints: /health/ (everything), /health/live and /health/ready (probes)."""

import json

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from orchestrator.health.checks import FAIL, PASS, now_iso, overall_status, run_checks

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


def health_response(results: dict[str, list[dict]], description: str) -> HttpResponse:
    body = health_body(results, description)
    return HttpResponse(
        json.dumps(body),
        content_type=HEALTH_JSON,
        status=503 if body["status"] == FAIL else 200,
    )


@never_cache
@require_GET
def health(request):
    """Every registered check: pass and warn answer 200, fail answers 503."""
    return health_response(run_checks(), HEALTH_DESCRIPTION)


@never_cache
@require_GET
def live(request):
    """Liveness: the process answers; no dependency is consulted."""
    results = {"process:uptime": [{"componentType": "system", "status": PASS, "time": now_iso()}]}
    return health_response(results, "Contexten liveness probe")


@never_cache
@require_GET
def ready(request):
    """Readiness: the dependencies a request needs (database, Redis) answer."""
    return health_response(run_checks(ready_only=True), READY_DESCRIPTION)
