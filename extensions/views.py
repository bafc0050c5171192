"""REST for extensions (SPEC §8): list, detail, enable, disable, upgrade, uninstall."""

from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from extensions import lifecycle, registry
from extensions.models import Extension as Row


def describe(name: str) -> dict:
    """What the API shows for one extension: versions, actions and health."""
    row = Row.objects.filter(name=name, removed=False).prefetch_related("versions").first()
    item = registry.installed().get(name)
    if row is None or item is None:
        raise lifecycle.LifecycleError(f"unknown extension {name!r}", status=404)
    manifest = item.manifest
    checks = {}
    if item.enabled:
        checks = {
            k: v for k, v in registry.run_health_checks().items() if k in manifest.health_checks
        }
    return {
        "name": name,
        "description": manifest.description,
        "active_version": item.version,
        "enabled": item.enabled,
        "installed_versions": sorted(v.version for v in row.versions.all()),
        "actions": sorted(registry.actions_of(manifest)),
        "webhook": manifest.webhook is not None,
        "health": checks,
    }


def described_all() -> list[dict]:
    names = Row.objects.filter(removed=False).values_list("name", flat=True)
    return [describe(name) for name in names if name in registry.installed()]


class UpgradeSerializer(serializers.Serializer):
    version = serializers.CharField(max_length=64)


class ExtensionSerializer(serializers.Serializer):
    """The shape `describe` answers (documentation for the OpenAPI schema)."""

    name = serializers.CharField()
    description = serializers.CharField()
    active_version = serializers.CharField()
    enabled = serializers.BooleanField()
    installed_versions = serializers.ListField(child=serializers.CharField())
    actions = serializers.ListField(child=serializers.CharField())
    webhook = serializers.BooleanField()
    health = serializers.DictField()


class ChangeSerializer(serializers.Serializer):
    name = serializers.CharField()
    change = serializers.CharField()
    version = serializers.CharField()
    message = serializers.CharField()
    dry_run = serializers.BooleanField()


CHANGED = {200: ChangeSerializer, 400: dict, 404: dict, 409: dict}


def refused(exc: lifecycle.LifecycleError) -> Response:
    return Response({"error": str(exc)}, status=exc.status)


class ExtensionViewSet(viewsets.ViewSet):
    """Installed extensions; `POST …/upgrade/ {"version"}` hot-swaps with runs in flight."""

    lookup_field = "name"
    lookup_value_regex = "[a-z][a-z0-9_]*"
    serializer_class = ExtensionSerializer

    @extend_schema(operation_id="extensions_list", responses=ExtensionSerializer(many=True))
    def list(self, request):
        lifecycle.sync_discovered()
        return Response(described_all())

    @extend_schema(responses={200: ExtensionSerializer, 404: dict})
    def retrieve(self, request, name=None):
        try:
            return Response(describe(name))
        except lifecycle.LifecycleError as exc:
            return refused(exc)

    @extend_schema(responses=CHANGED)
    def destroy(self, request, name=None):
        return self._change(lambda: lifecycle.uninstall(name, actor=str(request.user)))

    @extend_schema(request=None, responses=CHANGED)
    @action(detail=True, methods=["post"])
    def enable(self, request, name=None):
        return self._change(lambda: lifecycle.set_enabled(name, True, actor=str(request.user)))

    @extend_schema(request=None, responses=CHANGED)
    @action(detail=True, methods=["post"])
    def disable(self, request, name=None):
        return self._change(lambda: lifecycle.set_enabled(name, False, actor=str(request.user)))

    @extend_schema(request=UpgradeSerializer, responses=CHANGED)
    @action(detail=True, methods=["post"])
    def upgrade(self, request, name=None):
        body = UpgradeSerializer(data=request.data)
        if not body.is_valid():
            field, errors = next(iter(body.errors.items()))
            return Response({"error": f"{field}: {errors[0]}"}, status=400)
        version = body.validated_data["version"]
        return self._change(lambda: lifecycle.upgrade(name, version, actor=str(request.user)))

    def _change(self, change) -> Response:
        try:
            result = change()
        except lifecycle.LifecycleError as exc:
            return refused(exc)
        return Response(asdict(result), status=status.HTTP_200_OK)


def api_routes(router) -> None:
    router.register("extensions", ExtensionViewSet, basename="extension")
