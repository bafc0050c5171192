"""The extensions admin: what is installed, at which version, and its read-only history.
Every change goes through `extensions.lifecycle`, the same service as the API and commands."""

from django.contrib import admin, messages

from extensions import lifecycle
from extensions.models import Extension, ExtensionHistory, ExtensionVersion


class VersionInline(admin.TabularInline):
    model = ExtensionVersion
    fields = ["version", "origin", "path", "installed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Extension)
class ExtensionAdmin(admin.ModelAdmin):
    list_display = ["name", "active_version", "enabled", "description", "updated_at"]
    list_filter = ["enabled", "removed"]
    search_fields = ["name", "description"]
    readonly_fields = ["name", "active_version", "enabled", "description", "removed",
                       "installed_at", "updated_at"]  # fmt: skip
    fields = readonly_fields
    inlines = [VersionInline]
    actions = ["enable_selected", "disable_selected", "switch_to_newest_version"]

    def get_queryset(self, request):
        lifecycle.sync_discovered(actor=str(request.user))
        return super().get_queryset(request)

    def has_add_permission(self, request):
        return False  # install with `manage.py extensions install PATH` or the API

    def has_delete_permission(self, request, obj=None):
        return False  # uninstall goes through the lifecycle, which refuses while in use

    def _each(self, request, queryset, change):
        for row in queryset:
            try:
                result = change(row)
            except lifecycle.LifecycleError as exc:
                self.message_user(request, f"{row.name}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{result.name} {result.version}: {result.message}")

    @admin.action(description="Enable selected extensions")
    def enable_selected(self, request, queryset):
        actor = str(request.user)
        self._each(request, queryset, lambda r: lifecycle.set_enabled(r.name, True, actor=actor))

    @admin.action(description="Disable selected extensions (webhooks still stored)")
    def disable_selected(self, request, queryset):
        actor = str(request.user)
        self._each(request, queryset, lambda r: lifecycle.set_enabled(r.name, False, actor=actor))

    @admin.action(description="Hot-swap to the newest installed version")
    def switch_to_newest_version(self, request, queryset):
        actor = str(request.user)
        self._each(request, queryset, lambda r: lifecycle.upgrade(r.name, newest(r), actor=actor))


def newest(row: Extension) -> str:
    from packaging.version import Version

    return max(row.versions.values_list("version", flat=True), key=Version)


@admin.register(ExtensionHistory)
class ExtensionHistoryAdmin(admin.ModelAdmin):
    list_display = ["at", "extension", "change", "from_version", "to_version", "ok", "actor",
                    "reason"]  # fmt: skip
    list_filter = ["change", "ok", "extension"]
    search_fields = ["extension", "reason", "actor"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
