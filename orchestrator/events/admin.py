"""Events in the admin: what arrived, where it is, why it failed, and "Replay selected"."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from orchestrator.events.dispatch import replay
from orchestrator.events.models import Event

# Beyond this the pretty view shows the start of the payload; the API has all of it.
PRETTY_PAYLOAD_CHARS = 200_000


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "type", "source", "status", "attempts", "received_at", "delivery_id"]
    list_filter = ["status", "source", "received_at"]
    search_fields = ["=delivery_id", "type"]
    list_select_related = True  # no relations today; keeps the list at one query if added
    date_hierarchy = "received_at"
    ordering = ["-received_at", "-id"]
    actions = ["replay_selected"]
    show_full_result_count = False  # COUNT(*) over a large history is the slow part
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
