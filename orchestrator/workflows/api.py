"""REST: `/api/workflows/` (documents in YAML or JSON, versions, manual trigger) and
`/api/runs/` (filtered, steps inline, retry and cancel). SPEC §6."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.response import Response

from orchestrator.core.pagination import BoundedLimitOffsetPagination
from orchestrator.workflows import definitions, dsl, engine
from orchestrator.workflows.models import Run, RunStatus, StepRun, Workflow, WorkflowVersion


class YAMLParser(BaseParser):
    """Workflow documents sent as YAML (application/yaml, text/yaml)."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return dsl.parse_text(stream.read())
        except dsl.InvalidWorkflow as exc:
            raise ParseError(str(exc)) from None


class TextYAMLParser(YAMLParser):
    media_type = "text/yaml"


class WorkflowVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = WorkflowVersion
        fields = ["number", "document", "created_by", "created_at"]
        read_only_fields = fields


class WorkflowSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="current_version.number", default=None)
    document = serializers.JSONField(source="current_version.document", default=None)

    class Meta:
        model = Workflow
        fields = ["name", "enabled", "version", "document", "created_at", "updated_at"]
        read_only_fields = fields


def iso_time(value, zone=None) -> str | None:
    """A datetime as DRF writes it (ISO 8601 in the current time zone, UTC as `Z`); a page
    passes the zone it looked up once."""
    if value is None:
        return None
    text = value.astimezone(zone or timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class StepRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = StepRun
        fields = [
            "step_id", "action", "extension", "extension_version", "status", "attempts",
            "output", "error", "next_attempt_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields

    def to_representation(self, step: StepRun) -> dict:
        """The same fields as the generic path, built directly: a page of runs holds hundreds
        of steps, and per-field serialisation was most of `/api/runs/`'s time at 1M steps."""
        return {
            "step_id": step.step_id, "action": step.action, "extension": step.extension,
            "extension_version": step.extension_version, "status": step.status,
            "attempts": step.attempts, "output": step.output, "error": step.error,
            "next_attempt_at": iso_time(step.next_attempt_at),
            "started_at": iso_time(step.started_at), "finished_at": iso_time(step.finished_at),
        }  # fmt: skip


class RunSerializer(serializers.ModelSerializer):
    workflow = serializers.CharField(source="workflow.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    steps = StepRunSerializer(many=True, read_only=True)

    class Meta:
        model = Run
        fields = [
            "id", "workflow", "version", "event", "trigger", "status", "error",
            "created_at", "started_at", "finished_at", "steps",
        ]  # fmt: skip
        read_only_fields = fields


def document_from(request) -> tuple[dict, str]:
    """The request body as a document, and its text when it was YAML (kept as the source)."""
    raw = request._request.body  # read first: Django keeps it, so DRF can still parse
    document = request.data
    if not isinstance(document, dict) or not document:
        raise ValidationError("send the workflow document itself: a mapping (JSON or YAML)")
    is_yaml = "yaml" in (request.content_type or "")
    return dict(document), raw.decode("utf-8", errors="replace") if is_yaml else ""


def invalid(exc: dsl.InvalidWorkflow) -> ValidationError:
    return ValidationError(str(exc))


class WorkflowViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Workflow documents; every PUT stores a new immutable version."""

    serializer_class = WorkflowSerializer
    lookup_field = "name"
    lookup_value_regex = "[a-z0-9][a-z0-9_-]*"
    parser_classes = [JSONParser, YAMLParser, TextYAMLParser]
    queryset = Workflow.objects.select_related("current_version")

    @extend_schema(request={"application/json": dict, "application/yaml": str})
    def create(self, request, *args, **kwargs):
        document, source = document_from(request)
        try:
            workflow = definitions.create_workflow(document, source=source, user=request.user)
        except dsl.InvalidWorkflow as exc:
            raise invalid(exc) from None
        return Response(WorkflowSerializer(workflow).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"application/json": dict, "application/yaml": str})
    def update(self, request, *args, **kwargs):
        workflow = self.get_object()
        document, source = document_from(request)
        try:
            workflow = definitions.update_workflow(
                workflow, document, source=source, user=request.user
            )
        except dsl.InvalidWorkflow as exc:
            raise invalid(exc) from None
        return Response(WorkflowSerializer(workflow).data)

    @extend_schema(responses=WorkflowVersionSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def versions(self, request, name=None):
        workflow = self.get_object()
        versions = workflow.versions.select_related("created_by").order_by("-number")
        return Response(WorkflowVersionSerializer(versions, many=True).data)

    @extend_schema(request=dict, responses={201: RunSerializer})
    @action(detail=True, methods=["post"], parser_classes=[JSONParser])
    def trigger(self, request, name=None):
        """Start a run by hand; the optional body {"event": {...}} is what templates see."""
        workflow = self.get_object()
        if not workflow.enabled:
            return Response(
                {"error": f"workflow {workflow.name!r} is disabled"},
                status=status.HTTP_409_CONFLICT,
            )
        body = request.data if isinstance(request.data, dict) else {}
        event = body.get("event", {"type": "manual", "data": {}})
        if not isinstance(event, dict):
            raise ValidationError("event: must be a JSON object")
        run = engine.create_run(workflow, trigger="manual", input=event)
        return Response(RunSerializer(_with_steps(run.pk)).data, status=status.HTTP_201_CREATED)


def _with_steps(run_id: int) -> Run:
    return RUNS.get(pk=run_id)


# `input` is not in the API's answer; it can be large, so it is not read for a page of runs.
RUNS = Run.objects.select_related("workflow", "version").prefetch_related("steps").defer("input")


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("workflow", str, description="workflow name"),
            OpenApiParameter("status", str, enum=RunStatus.values),
        ]
    )
)
class RunViewSet(viewsets.ReadOnlyModelViewSet):
    """Runs with their steps inline; retry a failed run, cancel an unfinished one."""

    serializer_class = RunSerializer
    pagination_class = BoundedLimitOffsetPagination  # `count` is estimated above 10,000

    def get_queryset(self):
        return self.filtered(RUNS.all())

    def filtered(self, runs):
        params = self.request.query_params
        if name := params.get("workflow"):
            runs = runs.filter(workflow__name=name)
        if state := params.get("status"):
            if state not in RunStatus.values:
                raise ValidationError(
                    f"status: unknown {state!r}; use one of {', '.join(RunStatus.values)}"
                )
            runs = runs.filter(status=state)
        return runs

    def list(self, request, *args, **kwargs):
        """A page of runs read as plain rows (no model instances), with the page's steps in
        one more query: building ~250 model objects and their caches per page was most of the
        request at 1M step rows. The answer is RunSerializer's (a test compares them)."""
        page = self.paginate_queryset(self.filtered(Run.objects.values(*RUN_ROW)))
        return self.get_paginated_response(run_rows(page))

    @extend_schema(request=None, responses=RunSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        run = self.get_object()
        if not engine.retry_run(run):
            return _conflict(f"run {run.pk} is {run.status}; only failed or cancelled runs retry")
        return Response(RunSerializer(_with_steps(run.pk)).data)

    @extend_schema(request=None, responses=RunSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        run = self.get_object()
        if not engine.cancel_run(run):
            return _conflict(f"run {run.pk} is {run.status}; only unfinished runs cancel")
        return Response(RunSerializer(_with_steps(run.pk)).data)


RUN_ROW = [
    "id", "workflow__name", "version__number", "event_id", "trigger", "status", "error",
    "created_at", "started_at", "finished_at",
]  # fmt: skip
STEP_ROW = ["run_id", *StepRunSerializer.Meta.fields]
STEP_TIMES = ("next_attempt_at", "started_at", "finished_at")


def run_rows(page: list[dict]) -> list[dict]:
    """RunSerializer's representation of a page of `RUN_ROW` rows, steps inline in order."""
    zone = timezone.get_current_timezone()
    steps: dict[int, list[dict]] = {row["id"]: [] for row in page}
    for step in (
        StepRun.objects.filter(run_id__in=steps).order_by("run_id", "position").values(*STEP_ROW)
    ):
        run_id = step.pop("run_id")
        steps[run_id].append(step | {key: iso_time(step[key], zone) for key in STEP_TIMES})
    return [run_row(row, steps[row["id"]], zone) for row in page]


def run_row(row: dict, steps: list[dict], zone) -> dict:
    return {
        "id": row["id"], "workflow": row["workflow__name"], "version": row["version__number"],
        "event": row["event_id"], "trigger": row["trigger"], "status": row["status"],
        "error": row["error"], "created_at": iso_time(row["created_at"], zone),
        "started_at": iso_time(row["started_at"], zone),
        "finished_at": iso_time(row["finished_at"], zone), "steps": steps,
    }  # fmt: skip


def _conflict(message: str) -> Response:
    return Response({"error": message}, status=status.HTTP_409_CONFLICT)


def api_routes(router) -> None:
    router.register("workflows", WorkflowViewSet, basename="workflow")
    router.register("runs", RunViewSet, basename="run")
