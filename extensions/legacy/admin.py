"""Admin: which legacy handler runs for which key, and the workflow that runs it."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from extensions.legacy import registry
from extensions.legacy.models import LegacyHandler
from orchestrator.workflows.models import Workflow


@admin.register(LegacyHandler)
class LegacyHandlerAdmin(admin.ModelAdmin):
    list_display = ["key", "provider", "handler", "workflow_link", "app_name", "registered_at"]
    list_filter = ["provider", "app_name"]
    search_fields = ["key", "handler", "workflow"]
    readonly_fields = [field.name for field in LegacyHandler._meta.fields]
    actions = ["unregister"]

    def has_add_permission(self, request):
        return False  # `manage.py migrate_legacy` registers, after checking the modules

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="workflow")
    def workflow_link(self, row: LegacyHandler):
        workflow = Workflow.objects.filter(name=row.workflow).only("pk").first()
        if workflow is None:
            return row.workflow
        url = reverse("admin:workflows_workflow_change", args=[workflow.pk])
        return format_html('<a href="{}">{}</a>', url, row.workflow)

    @admin.action(description="Stop running the selected handlers (unregister)")
    def unregister(self, request, queryset):
        count = registry.unregister(list(queryset))
        self.message_user(request, f"Unregistered {count} handlers.", messages.SUCCESS)
