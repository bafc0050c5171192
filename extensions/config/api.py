"""REST: /api/config/{namespace}/ with versions, diff and rollback (SPEC §8).

Every answer masks `writeOnly` fields; every change goes through `store`, so it is validated,
versioned and announced to every process exactly as from the admin or the commands.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from extensions.config import schemas, store
from extensions.config.models import ConfigVersion
from orchestrator.core.api import Pagination


class ConfigErrorSerializer(serializers.Serializer):
    """The API's error shape (orchestrator/core/api.py)."""

    error = serializers.CharField(help_text="one line naming the problem")
    detail = serializers.JSONField()


class ConfigSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    version = serializers.IntegerField(help_text="0 before the first change")
    data = serializers.JSONField(help_text="the stored document; secrets masked")
    effective = serializers.JSONField(help_text="schema defaults, then the stored document")
    schema = serializers.JSONField()
    warnings = serializers.ListField(child=serializers.CharField(), required=False)


class ConfigWriteSerializer(serializers.Serializer):
    data = serializers.JSONField(
        help_text="the whole document; a secret sent back as ******** keeps its stored value"
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ConfigVersionSerializer(serializers.ModelSerializer):
    data = serializers.SerializerMethodField()

    class Meta:
        model = ConfigVersion
        fields = ["version", "action", "restored_from", "author", "reason", "created_at", "data"]

    def get_data(self, row: ConfigVersion) -> dict:
        return store.masked(row.document.namespace, row.data)


class ConfigDiffSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    patch = serializers.ListField(child=serializers.DictField(), help_text="RFC 6902 JSON Patch")


class ConfigRollbackSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class ConfigChangeSerializer(serializers.Serializer):
    namespace = serializers.CharField()
    version = serializers.IntegerField(help_text="the new version")
    data = serializers.JSONField(help_text="secrets masked")
    patch = serializers.ListField(child=serializers.DictField(), help_text="what changed")
    warnings = serializers.ListField(child=serializers.CharField(), help_text="unset env: refs")


ERRORS = {
    400: OpenApiResponse(ConfigErrorSerializer, description="refused; `error` names the JSON path"),
    404: OpenApiResponse(ConfigErrorSerializer, description="unknown namespace or version"),
}
NOT_FOUND = {404: ERRORS[404]}


def schema_or_404(namespace: str) -> dict:
    try:
        return store.require_schema(namespace)
    except store.UnknownNamespace as exc:
        raise NotFound(str(exc)) from None


def describe(namespace: str) -> dict:
    """The namespace as the API shows it: stored and effective documents, secrets masked."""
    schema = schema_or_404(namespace)
    data = store.stored(namespace)
    return {
        "namespace": namespace,
        "version": store.current_version(namespace),
        "data": store.masked(namespace, data),
        "effective": store.masked(namespace, schemas.with_defaults(schema, data)),
        "schema": schema,
    }


def changed(saved: store.Saved) -> dict:
    return {
        "namespace": saved.namespace,
        "version": saved.version,
        "data": saved.data,
        "patch": saved.patch,
        "warnings": saved.warnings,
    }


def refusal(exc: store.ConfigError):
    """A store refusal as DRF's exception: unknown things are 404, the rest 400."""
    if isinstance(exc, LookupError):
        return NotFound(str(exc))
    return ValidationError(str(exc))


class ConfigVersionPageSerializer(serializers.Serializer):
    """One page of versions, as the API's limit/offset pagination answers it."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ConfigVersionSerializer(many=True)


class ConfigViewSet(viewsets.ViewSet):
    """Configuration: one document per namespace (`core`, each extension), versioned."""

    lookup_field = "namespace"
    lookup_value_regex = r"[a-z][a-z0-9_]{0,63}"
    serializer_class = ConfigSerializer

    @extend_schema(responses=ConfigSerializer(many=True))
    def list(self, request):
        """Every namespace with its current version."""
        return Response([describe(name) for name in sorted(schemas.all_schemas())])

    @extend_schema(responses={200: ConfigSerializer, **NOT_FOUND})
    def retrieve(self, request, namespace=None):
        return Response(describe(namespace))

    @extend_schema(request=ConfigWriteSerializer, responses={200: ConfigChangeSerializer, **ERRORS})
    def update(self, request, namespace=None):
        """Store a new version of the whole document; answers the new `version`."""
        schema_or_404(namespace)  # an unknown namespace is a 404 whatever the body says
        params = ConfigWriteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            saved = store.save(
                namespace,
                params.validated_data["data"],
                author=request.user.get_username(),
                user=request.user,
                reason=params.validated_data["reason"],
            )
        except store.ConfigError as exc:
            raise refusal(exc) from None
        return Response(changed(saved))

    @extend_schema(responses={200: ConfigVersionPageSerializer, **NOT_FOUND})
    @action(detail=True, methods=["get"])
    def versions(self, request, namespace=None):
        """Every version, newest first: who, when, why and the document (secrets masked)."""
        try:
            rows = store.versions(namespace).select_related("document")
        except store.ConfigError as exc:
            raise refusal(exc) from None
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(ConfigVersionSerializer(page, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("from", int, required=True, description="0 is the empty document"),
            OpenApiParameter("to", int, required=True),
        ],
        responses={200: ConfigDiffSerializer, **ERRORS},
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, namespace=None):
        """The RFC 6902 JSON Patch that turns version `from` into version `to`."""
        from_version, to_version = version_param(request, "from"), version_param(request, "to")
        try:
            patch = store.diff(namespace, from_version, to_version)
        except store.ConfigError as exc:
            raise refusal(exc) from None
        body = {"namespace": namespace, "from_version": from_version, "to_version": to_version}
        return Response({**body, "patch": patch})

    @extend_schema(
        request=ConfigRollbackSerializer, responses={200: ConfigChangeSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    def rollback(self, request, namespace=None):
        """Restore version N's document as a new version."""
        params = ConfigRollbackSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            saved = store.rollback(
                namespace,
                params.validated_data["version"],
                author=request.user.get_username(),
                user=request.user,
                reason=params.validated_data["reason"],
            )
        except store.ConfigError as exc:
            raise refusal(exc) from None
        return Response(changed(saved))


def version_param(request, name: str) -> int:
    raw = request.query_params.get(name)
    if raw is None or not raw.isdigit():
        raise ValidationError({name: f"a version number is required, e.g. ?{name}=1"})
    return int(raw)


def api_routes(router) -> None:
    router.register("config", ConfigViewSet, basename="config")
