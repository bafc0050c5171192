"""Admin: the migration phase now (with its flags) and the read-only history of changes.

Phases change through `manage.py migration_phase` (or the guard), which takes a backup and
checks the gates first; the admin shows, it does not bypass that.
"""

from django.contrib import admin
from django.utils.html import format_html_join

from orchestrator.operations import phases
from orchestrator.operations.models import PhaseChange, PhaseState


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PhaseState)
class PhaseStateAdmin(ReadOnly):
    list_display = ["phase", "name", "description", "flags", "changed_at"]
    list_filter = ["phase"]
    search_fields = ["phase"]
    readonly_fields = ["phase", "name", "description", "flags", "changed_at"]

    @admin.display(description="name")
    def name(self, state: PhaseState) -> str:
        return phases.phase(state.phase).name

    @admin.display(description="what it means")
    def description(self, state: PhaseState) -> str:
        return phases.phase(state.phase).description

    @admin.display(description="phase flags (each phase up to this one is on)")
    def flags(self, state: PhaseState):
        views = phases.summary(history=0)["phases"]
        rows = [
            (view["number"], flag["key"], f"{flag['percentage']:g}%" if flag["enabled"] else "off")
            for view in views
            for flag in view["flags"]
        ]
        return format_html_join("", "<div>{} · {}: {}</div>", rows)


@admin.register(PhaseChange)
class PhaseChangeAdmin(ReadOnly):
    list_display = ["created_at", "kind", "from_phase", "to_phase", "actor", "reason", "backup"]
    list_filter = ["kind", "actor", "created_at"]
    search_fields = ["reason", "actor", "backup"]
    readonly_fields = [field.name for field in PhaseChange._meta.fields]
