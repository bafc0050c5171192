"""Admin for health data: circuit breakers, with the operator's one action, a reset."""

from django.conf import settings
from django.contrib import admin, messages

from orchestrator.health import breakers
from orchestrator.health.models import BreakerState


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
        if settings.REDIS_URL:
            self.message_user(
                request,
                "Breaker state lives in Redis; the live state column reads it from there.",
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
