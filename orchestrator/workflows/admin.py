"""Admin: edit workflow documents (each save a new version), read runs as step timelines."""

import yaml
from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from orchestrator.workflows import definitions, dsl, engine
from orchestrator.workflows.models import Run, StepRun, Workflow, WorkflowVersion


class WorkflowForm(forms.ModelForm):
    document_text = forms.CharField(
        label="Document (YAML or JSON)",
        widget=forms.Textarea(attrs={"rows": 28, "cols": 100, "style": "font-family: monospace"}),
        help_text="Validated on save; every save stores a new version.",
    )

    class Meta:
        model = Workflow
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.current_version_id:
            self.fields["document_text"].initial = yaml.safe_dump(
                self.instance.document, sort_keys=False, allow_unicode=True
            )

    def clean_document_text(self) -> str:
        text = self.cleaned_data["document_text"]
        try:
            document = dsl.parse_text(text)
            dsl.validate(document)
        except dsl.InvalidWorkflow as exc:
            raise forms.ValidationError(str(exc)) from None
        if self.instance.pk and document["name"] != self.instance.name:
            raise forms.ValidationError(
                f"name: the document says {document['name']!r} but this is workflow "
                f"{self.instance.name!r}; names cannot change"
            )
        self.document = document
        return text


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    form = WorkflowForm
    list_display = ["name", "enabled", "version_number", "trigger_summary", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["name"]
    list_select_related = ["current_version"]
    readonly_fields = ["version_history"]
    actions = ["enable", "disable"]

    def get_fields(self, request, obj=None):
        return ["document_text", "version_history"] if obj else ["document_text"]

    @admin.display(description="versions")
    def version_history(self, workflow: Workflow):
        """Read-only history; open a version to restore it."""
        rows = workflow.versions.select_related("created_by").order_by("-number")
        return format_html_join(
            "",
            '<div><a href="/admin/workflows/workflowversion/{}/change/">v{}</a> {} by {}</div>',
            (
                (v.pk, v.number, f"{v.created_at:%Y-%m-%d %H:%M}", v.created_by or "api")
                for v in rows
            ),
        )

    @admin.display(description="version")
    def version_number(self, workflow: Workflow):
        return workflow.current_version.number if workflow.current_version else "-"

    @admin.display(description="trigger")
    def trigger_summary(self, workflow: Workflow) -> str:
        trigger = workflow.document.get("trigger", {})
        return trigger.get("event") or trigger.get("schedule") or "manual"

    def save_model(self, request, obj, form, change):
        text = form.cleaned_data["document_text"]
        if change:
            saved = definitions.update_workflow(obj, form.document, source=text, user=request.user)
        else:
            saved = definitions.create_workflow(form.document, source=text, user=request.user)
        obj.pk, obj.name, obj.enabled = saved.pk, saved.name, saved.enabled
        obj.current_version = saved.current_version

    @admin.action(description="Enable selected workflows")
    def enable(self, request, queryset):
        for workflow in queryset:
            definitions.set_enabled(workflow, True)

    @admin.action(description="Disable selected workflows")
    def disable(self, request, queryset):
        for workflow in queryset:
            definitions.set_enabled(workflow, False)


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    list_display = ["workflow", "number", "created_by", "created_at"]
    list_filter = ["workflow"]
    search_fields = ["workflow__name"]
    list_select_related = ["workflow", "created_by"]
    readonly_fields = ["workflow", "number", "document_yaml", "created_by", "created_at"]
    fields = readonly_fields
    actions = ["restore"]

    @admin.display(description="document")
    def document_yaml(self, version: WorkflowVersion):
        text = yaml.safe_dump(version.document, sort_keys=False, allow_unicode=True)
        return format_html("<pre>{}</pre>", text)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return request.method == "GET" and super().has_view_permission(request, obj)

    @admin.action(description="Restore this version")
    def restore(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to restore.", messages.ERROR)
            return
        version = queryset.select_related("workflow").get()
        workflow = definitions.restore_version(version, user=request.user)
        self.message_user(
            request,
            f"{workflow.name}: v{version.number} restored as v{workflow.current_version.number}.",
        )


class StepTimeline(admin.TabularInline):
    model = StepRun
    fields = ["step_id", "action", "extension", "extension_version", "status", "attempts",
              "started_at", "finished_at", "error", "output"]  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["position"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "workflow", "version", "status", "trigger", "event", "created_at",
                    "finished_at"]  # fmt: skip
    list_filter = ["status", "trigger", "workflow"]
    search_fields = ["workflow__name", "error"]
    list_select_related = ["workflow", "version__workflow", "event"]
    readonly_fields = ["workflow", "version", "event", "trigger", "input", "status", "error",
                       "created_at", "started_at", "finished_at"]  # fmt: skip
    fields = readonly_fields
    inlines = [StepTimeline]
    actions = ["retry_runs", "cancel_runs"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Retry selected runs")
    def retry_runs(self, request, queryset):
        retried = sum(engine.retry_run(run) for run in queryset)
        self.message_user(request, f"{retried} run(s) retried; only failed or cancelled ones.")

    @admin.action(description="Cancel selected runs")
    def cancel_runs(self, request, queryset):
        cancelled = sum(engine.cancel_run(run) for run in queryset)
        self.message_user(request, f"{cancelled} run(s) cancelled; finished runs are kept.")
