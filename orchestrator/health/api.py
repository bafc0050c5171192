"""REST: `GET /api/health/`, health's current state for operators and tools (staff only).

Answers from stored results and records only (state.py): the current verdict per check,
each check's recent history, breakers, incidents, recovery executions, alerts, escalations,
MTTR and the recovery success rate.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from orchestrator.core.schema import ContextenAutoSchema
from orchestrator.health import state

MAX_HISTORY = 500


class CheckSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="pass, warn or fail")
    raw_status = serializers.CharField(help_text="the latest result before hysteresis")
    componentType = serializers.CharField()
    observedValue = serializers.FloatField(allow_null=True)
    observedUnit = serializers.CharField()
    output = serializers.CharField()
    baseline = serializers.DictField()
    since = serializers.DateTimeField()
    time = serializers.DateTimeField()


class HealthStateSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="pass, warn or fail")
    checks = serializers.DictField(child=CheckSerializer())
    history = serializers.DictField(child=serializers.ListField(child=serializers.DictField()))
    breakers = serializers.ListField(child=serializers.DictField())
    incidents = serializers.ListField(child=serializers.DictField())
    recoveries = serializers.ListField(child=serializers.DictField())
    alerts = serializers.ListField(child=serializers.DictField())
    escalations = serializers.ListField(child=serializers.DictField())
    mttr_seconds = serializers.FloatField(allow_null=True)
    recovery_success_rate = serializers.FloatField(allow_null=True)
    time = serializers.DateTimeField()


HISTORY = OpenApiParameter(
    "history", int, description=f"results per check to include (default 30, at most {MAX_HISTORY})"
)


class OneDocumentSchema(ContextenAutoSchema):
    """The health state is one document, though the router serves it as the viewset's `list`
    (so `/api/health/` has no trailing id); drf-spectacular would call it an array."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


class HealthViewSet(viewsets.ViewSet):
    """Health: checks with history, breakers, incidents, recoveries and alerts."""

    schema = OneDocumentSchema()

    @extend_schema(operation_id="health_state", parameters=[HISTORY],
                   responses=HealthStateSerializer)  # fmt: skip
    def list(self, request):
        raw = request.query_params.get("history", "30")
        if not raw.isdigit() or not 0 <= int(raw) <= MAX_HISTORY:
            raise ValidationError({"history": f"a whole number from 0 to {MAX_HISTORY}"})
        body = state.current_state()
        body["history"] = state.histories(int(raw)) if int(raw) else {}
        return Response(body)


def api_routes(router) -> None:
    router.register("health", HealthViewSet, basename="health")
