"""REST: /api/flags/ looked up by key, with rollout, rollback and history actions (SPEC §7)."""

from django.db import IntegrityError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from orchestrator.flags import services
from orchestrator.flags.models import Flag, FlagVersion
from orchestrator.flags.schema import FlagDocumentError


class FlagSerializer(serializers.Serializer):
    """The SPEC §7 document, plus its version; an optional `reason` goes into the history."""

    key = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    variants = serializers.JSONField(required=False)
    default_variant = serializers.CharField(required=False)
    rules = serializers.JSONField(required=False)
    rollout = serializers.JSONField(required=False)
    guard = serializers.JSONField(required=False, allow_null=True)
    reason = serializers.CharField(required=False, write_only=True)
    version = serializers.IntegerField(read_only=True)
    last_good_version = serializers.IntegerField(read_only=True, allow_null=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, flag: Flag) -> dict:
        extra = {"version": flag.version, "last_good_version": flag.last_good_version}
        return {**flag.document(), **extra, "updated_at": flag.updated_at.isoformat()}


class VersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = FlagVersion
        fields = ["version", "action", "actor", "reason", "created_at", "diff", "snapshot"]


class RolloutSerializer(serializers.Serializer):
    percentage = serializers.FloatField(min_value=0, max_value=100)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class RollbackSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, min_value=1)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


def document_from(request, key: str | None = None) -> tuple[dict, str]:
    """The request body as a flag document and the change's reason; 400 if not an object."""
    if not isinstance(request.data, dict):
        raise ValidationError("a flag must be a JSON object")
    data = dict(request.data)
    reason = str(data.pop("reason", "") or "")
    if key is not None and data.setdefault("key", key) != key:
        raise ValidationError(f"key {data['key']!r} does not match the URL's {key!r}")
    return data, reason


class FlagViewSet(viewsets.GenericViewSet):
    """Feature flags. Every change is a new version with who, when, what and why."""

    queryset = Flag.objects.all()
    serializer_class = FlagSerializer
    lookup_field = "key"
    lookup_value_regex = r"[A-Za-z0-9][A-Za-z0-9._-]*"

    def get_flag(self, key: str) -> Flag:
        flag = Flag.objects.filter(key=key).first()
        if flag is None:
            raise NotFound(f"no flag {key!r}")
        return flag

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(FlagSerializer(page, many=True).data)

    def retrieve(self, request, key=None):
        return Response(FlagSerializer(self.get_flag(key)).data)

    def create(self, request):
        data, reason = document_from(request)
        if Flag.objects.filter(key=data.get("key")).exists():
            raise ValidationError(
                f"flag {data['key']!r} already exists; PUT /api/flags/{data['key']}/ to change it"
            )
        flag = self.save(data, reason)
        return Response(FlagSerializer(flag).data, status=status.HTTP_201_CREATED)

    def update(self, request, key=None):
        self.get_flag(key)
        data, reason = document_from(request, key)
        return Response(FlagSerializer(self.save(data, reason)).data)

    def partial_update(self, request, key=None):
        current = self.get_flag(key).document()
        data, reason = document_from(request, key)
        if isinstance(data.get("rollout"), dict):
            data["rollout"] = {**current["rollout"], **data["rollout"]}
        return Response(FlagSerializer(self.save({**current, **data}, reason)).data)

    def save(self, data: dict, reason: str) -> Flag:
        try:
            return services.save_flag(
                data, actor=services.Actor.of(self.request.user), reason=reason
            )
        except FlagDocumentError as exc:
            raise ValidationError(str(exc)) from None
        except IntegrityError:  # a concurrent create of the same key won the race
            raise ValidationError(f"flag {data.get('key')!r} already exists") from None

    @extend_schema(request=RolloutSerializer, responses=FlagSerializer)
    @action(detail=True, methods=["post"])
    def rollout(self, request, key=None):
        """Ramp the rollout to `percentage` (0..100, to 0.001)."""
        params = RolloutSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        return self.act(services.ramp, key, params.validated_data["percentage"], params)

    @extend_schema(request=RollbackSerializer, responses=FlagSerializer)
    @action(detail=True, methods=["post"])
    def rollback(self, request, key=None):
        """Restore the previous version, or `version` N, as a new version."""
        params = RollbackSerializer(data=request.data or {})
        params.is_valid(raise_exception=True)
        return self.act(services.rollback, key, params.validated_data.get("version"), params)

    def act(self, change, key, argument, params) -> Response:
        self.get_flag(key)
        actor = services.Actor.of(self.request.user)
        try:
            flag = change(key, argument, actor=actor, reason=params.validated_data["reason"])
        except services.FlagNotFound as exc:
            raise NotFound(str(exc)) from None
        except FlagDocumentError as exc:
            raise ValidationError(str(exc)) from None
        return Response(FlagSerializer(flag).data)

    @extend_schema(responses=VersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, key=None):
        """Every version, newest first: who, when, what (snapshot and diff) and why."""
        versions = self.get_flag(key).versions.all()
        page = self.paginate_queryset(versions)
        return self.get_paginated_response(VersionSerializer(page, many=True).data)


def api_routes(router) -> None:
    router.register("flags", FlagViewSet, basename="flag")
