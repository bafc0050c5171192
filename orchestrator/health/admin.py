"""Admin for health data: circuit breakers, with the operator's one action, a reset."""

from django.contrib import admin, messages

from orchestrator.core import backends
from orchestrator.health import breakers
from orchestrator.health.models import (
    Alert,
    BreakerState,
    CheckResult,
    CheckState,
    Escalation,
    Incident,
    RecoveryAction,
    RecoveryExecution,
)


@admin.register(BreakerState)
class BreakerStateAdmin(admin.ModelAdmin):
    list_display = ["platform", "live_state", "calls_in_window", "failure_rate", "updated_at"]
    list_filter = ["state"]
    search_fields = ["platform"]
    readonly_fields = [f.name for f in BreakerState._meta.fields]
    actions = ["reset_breakers"]

    def get_queryset(self, request):
        return super().get_queryset(request).only(*self.readonly_fields)

    def changelist_view(self, request, extra_context=None):
        if backends.redis_configured():
            self.message_user(
                request,
                "Breaker state lives in Redis (in these rows while Redis is down); the live"
                f" state column reads it from {backends.in_use(backends.BREAKERS)} now.",
                messages.INFO,
            )
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False  # rows appear when a platform is first called

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="state now")
    def live_state(self, row: BreakerState) -> str:
        return breakers.breaker_state(row.platform)

    @admin.display(description="calls in window")
    def calls_in_window(self, row: BreakerState) -> int:
        return breakers.breaker_snapshot(row.platform)["calls"]

    @admin.display(description="failure rate %")
    def failure_rate(self, row: BreakerState) -> float:
        return breakers.breaker_snapshot(row.platform)["failure_rate"]

    @admin.action(description="Reset selected breakers (close them everywhere)")
    def reset_breakers(self, request, queryset):
        platforms = list(queryset.values_list("platform", flat=True))
        for platform in platforms:
            breakers.reset(platform)
        self.message_user(request, f"Closed: {', '.join(platforms)}.", messages.SUCCESS)


class ReadOnlyAdmin(admin.ModelAdmin):
    """History is written by the health jobs, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CheckState)
class CheckStateAdmin(ReadOnlyAdmin):
    list_display = ["name", "status", "raw_status", "observed_value", "observed_unit", "mean",
                    "deviation", "samples", "since", "updated_at"]  # fmt: skip
    list_filter = ["status", "component_type"]
    search_fields = ["name", "output"]


@admin.register(CheckResult)
class CheckResultAdmin(ReadOnlyAdmin):
    list_display = ["time", "name", "status", "observed_value", "observed_unit", "output"]
    list_filter = ["status", "name"]
    search_fields = ["name", "output"]
    date_hierarchy = "time"


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    list_display = ["key", "severity", "state", "title", "cause", "opened_at", "resolved_at"]
    list_filter = ["state", "severity"]
    search_fields = ["key", "title", "cause"]


@admin.register(RecoveryAction)
class RecoveryActionAdmin(admin.ModelAdmin):
    """The recovery catalog is operator data: add, tune and switch entries off here."""

    list_display = ["name", "enabled", "trigger_check", "trigger_status", "action",
                    "cooldown_seconds", "max_attempts"]  # fmt: skip
    list_filter = ["enabled", "action", "trigger_status"]
    search_fields = ["name", "trigger_check", "description"]
    actions = ["enable", "disable"]

    @admin.action(description="Enable selected recovery actions")
    def enable(self, request, queryset):
        self.message_user(request, f"Enabled {queryset.update(enabled=True)}.", messages.SUCCESS)

    @admin.action(description="Disable selected recovery actions")
    def disable(self, request, queryset):
        self.message_user(request, f"Disabled {queryset.update(enabled=False)}.", messages.SUCCESS)


@admin.register(RecoveryExecution)
class RecoveryExecutionAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "recovery", "check_name", "outcome", "detail", "incident"]
    list_filter = ["outcome", "recovery"]
    search_fields = ["detail", "check_name", "recovery__name"]
    list_select_related = ["recovery", "incident"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["key", "group", "severity", "state", "summary", "starts_at",
                    "notifications", "resolved_at"]  # fmt: skip
    list_filter = ["state", "severity", "group"]
    search_fields = ["key", "summary"]


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "channel", "subject", "outcome", "run_id", "error"]
    list_filter = ["channel", "outcome", "kind"]
    search_fields = ["subject", "text", "error"]
    list_select_related = ["alert"]
