"""REST: `/api/events/` list/filter/detail, replay one, replay by filter (SPEC §4)."""

import re
from datetime import UTC

from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from orchestrator.events.dispatch import replay
from orchestrator.events.models import Event, Status

FILTERS = [
    OpenApiParameter("source", str, description="the extension that received it"),
    OpenApiParameter("type", str, description="exact type, or a glob: <source>.pull_request.*"),
    OpenApiParameter("status", str, enum=Status.values, description="dead lists dead letters"),
    OpenApiParameter("delivery_id", str),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="received at or after"),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="received before"),
]


class EventSerializer(serializers.ModelSerializer):
    """CloudEvents attributes (specversion, id, source, type, time, data) plus our state."""

    specversion = serializers.SerializerMethodField()
    id = serializers.CharField(read_only=True)
    time = serializers.DateTimeField(source="received_at", read_only=True)

    class Meta:
        model = Event
        fields = [
            "specversion", "id", "source", "type", "time", "data", "delivery_id", "status",
            "attempts", "last_error", "status_changed_at", "next_attempt_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_specversion(self, event: Event) -> str:
        return "1.0"


class ReplayResultSerializer(serializers.Serializer):
    replayed = serializers.IntegerField()


def filter_events(events: QuerySet[Event], params) -> QuerySet[Event]:
    """Apply the query-string filters; a malformed value is a 400, never ignored."""
    if source := params.get("source"):
        events = events.filter(source=source)
    if kind := params.get("type"):
        if "*" in kind or "?" in kind:
            events = events.filter(type__regex=glob_to_regex(kind))
        else:
            events = events.filter(type=kind)
    if state := params.get("status"):
        if state not in Status.values:
            raise ValidationError({"status": f"must be one of {', '.join(Status.values)}"})
        events = events.filter(status=state)
    if delivery := params.get("delivery_id"):
        events = events.filter(delivery_id=delivery)
    for name, lookup in (("since", "received_at__gte"), ("until", "received_at__lt")):
        if value := params.get(name):
            events = events.filter(**{lookup: parse_time(name, value)})
    return events


def glob_to_regex(glob: str) -> str:
    """`src.pull_request.*` → `^src\\.pull_request\\..*$`, valid in Postgres and Python."""
    return "^" + re.escape(glob).replace(r"\*", ".*").replace(r"\?", ".") + "$"


def parse_time(name: str, value: str):
    """An ISO 8601 time as UTC: databases refuse odd offsets (+17:47), and `parse_datetime`
    raises on well-formed but impossible dates (month 13)."""
    try:
        parsed = parse_datetime(value.replace(" ", "+"))  # a bare "+" arrives as a space
        if parsed is not None and parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise ValidationError({name: "must be an ISO 8601 date-time, e.g. 2026-01-31T09:00:00Z"})
    return parsed


@extend_schema_view(list=extend_schema(parameters=FILTERS))
class EventViewSet(viewsets.ReadOnlyModelViewSet):
    """Stored webhook events, newest first. Filter by source, type (glob), status, time."""

    serializer_class = EventSerializer
    queryset = Event.objects.all()

    def get_queryset(self):
        if self.action in {"list", "replay_matching"}:
            return filter_events(Event.objects.all(), self.request.query_params)
        return Event.objects.all()

    @extend_schema(operation_id="events_replay_one", request=None, responses=ReplayResultSerializer)
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        """Reset this event to `received` with a fresh attempt budget and dispatch it again."""
        event = self.get_object()
        return Response({"replayed": replay(Event.objects.filter(pk=event.pk))})

    @extend_schema(
        operation_id="events_replay_matching",
        parameters=FILTERS,
        request=None,
        responses=ReplayResultSerializer,
    )
    @action(detail=False, methods=["post"], url_path="replay")
    def replay_matching(self, request):
        """Replay every event matching the filters (query string or JSON body); at least one
        filter is required, so an empty request cannot replay the whole history."""
        params = {**request.query_params.dict(), **body_filters(request.data)}
        if not any(params.get(name) for name in ("source", "type", "status", "since", "until")):
            raise ValidationError("give at least one filter: source, type, status, since, until")
        count = replay(filter_events(Event.objects.all(), params))
        return Response({"replayed": count}, status=status.HTTP_200_OK)


def body_filters(data) -> dict:
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object of filters")
    return {key: str(value) for key, value in data.items() if value not in (None, "")}


def api_routes(router) -> None:
    router.register("events", EventViewSet, basename="event")
