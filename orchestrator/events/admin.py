"""Events in the admin: what arrived, where it is, why it failed, and "Replay selected"."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from extensions.registry import webhook_platforms
from orchestrator.core.pagination import BoundedCountPaginator
from orchestrator.events.dispatch import replay
from orchestrator.events.models import Event

# Beyond this the pretty view shows the start of the payload; the API has all of it.
PRETTY_PAYLOAD_CHARS = 200_000


class SourceFilter(admin.SimpleListFilter):
    """Sources from the platform registry: the default filter would run `SELECT DISTINCT
    source` over the whole history on every page."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return [(platform, platform) for platform in webhook_platforms()]

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "source", "status", "attempts", "received_at", "delivery_id"]
    list_filter = ["status", SourceFilter, "received_at"]
    search_fields = ["=delivery_id", "type"]
    list_select_related = True  # no relations today; keeps the list at one query if added
    # No date_hierarchy: its year and month links are `SELECT DISTINCT date_trunc(…)` over the
    # whole history on every page; the received_at filter offers today / 7 days / month / year.
    ordering = ["-received_at", "-id"]
    actions = ["replay_selected"]
    # COUNT(*) over a large history is the slow part: count at most 10,000, then estimate.
    show_full_result_count = False
    paginator = BoundedCountPaginator
    readonly_fields = [
        "id", "source", "type", "delivery_id", "received_at", "status", "attempts",
        "last_error", "status_changed_at", "next_attempt_at", "finished_at", "pretty_payload",
    ]  # fmt: skip
    exclude = ["data"]

    @admin.display(description="Payload")
    def pretty_payload(self, event: Event) -> str:
        text = json.dumps(event.data, indent=2, sort_keys=True, ensure_ascii=False)
        if len(text) > PRETTY_PAYLOAD_CHARS:
            text = text[:PRETTY_PAYLOAD_CHARS] + "\n… (truncated; GET /api/events/{id}/ has it all)"
        return format_html('<pre style="white-space: pre-wrap; margin: 0">{}</pre>', text)

    @admin.action(description="Replay selected events")
    def replay_selected(self, request, queryset):
        count = replay(queryset)
        self.message_user(request, f"Replaying {count} event(s).", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False  # events arrive through webhooks only

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # history is read-only; replay is the one way to act on it
