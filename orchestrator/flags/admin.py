"""The admin is the operators' main surface: edit, ramp, schedule, kill, and restore flags.

Every save and action goes through `services`, so the admin writes the same versioned history
as the API and the management commands, and an invalid flag is refused with a clear message.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from orchestrator.flags import services
from orchestrator.flags.models import Flag, FlagVersion
from orchestrator.flags.schema import FlagDocumentError, parse_flag, to_document
from orchestrator.operations import backup

# Where a document field lives on the form, for pinning an error to the right input.
FIELD_OF = {"rollout.plan": "rollout_plan", "rollout.percentage": "rollout_percentage"}
FIELD_OF |= {"rollout.variant": "rollout_variant", "rollout.paused": "rollout_paused"}
PLAN_HELP = 'Ramp steps, e.g. [{"percentage": 50, "at": "2026-12-01T09:00:00Z"}]'
RULES_HELP = (
    'First match wins, e.g. [{"variant": "on", "when": {"attribute": "email", '
    '"op": "ends_with", "value": "@acme.io"}}]'
)


class PrettyJSONField(forms.JSONField):
    """JSON indented for people: rules and plans are read far more often than written."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class FlagForm(forms.ModelForm):
    reason = forms.CharField(required=False, help_text="Why: recorded in the history.")

    class Meta:
        model = Flag
        fields = [
            "key",
            "description",
            "enabled",
            "variants",
            "default_variant",
            "rules",
            "rollout_variant",
            "rollout_percentage",
            "rollout_plan",
            "rollout_paused",
            "guard",
        ]
        help_texts = {
            "rules": RULES_HELP,
            "rollout_plan": PLAN_HELP,
            "variants": 'e.g. {"on": true, "off": false}; empty for a plain boolean flag',
            "guard": 'e.g. {"max_error_rate": 0.05, "source": "<extension>", "breaker": true}',
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        data = document_of({"key": self.instance.key, **cleaned})
        try:
            self.document = to_document(parse_flag(data))
        except FlagDocumentError as exc:
            self.add_error(field_for(str(exc)), str(exc))
        return cleaned


def document_of(cleaned: dict) -> dict:
    """The SPEC §7 document from the form's cleaned fields."""
    return {
        "key": cleaned.get("key"),
        "description": cleaned.get("description", ""),
        "enabled": cleaned.get("enabled", False),
        "variants": cleaned.get("variants") or None,
        "default_variant": cleaned.get("default_variant") or None,
        "rules": cleaned.get("rules") or [],
        "rollout": {
            "variant": cleaned.get("rollout_variant") or None,
            "percentage": float(cleaned.get("rollout_percentage") or 0),
            "plan": cleaned.get("rollout_plan") or [],
            "paused": cleaned.get("rollout_paused", False),
        },
        "guard": cleaned.get("guard") or None,
    }


def field_for(message: str) -> str | None:
    """The form field a one-line schema error is about, or None for the whole form."""
    where = message.split(":", 1)[0].strip()
    for prefix, field in FIELD_OF.items():
        if where.startswith(prefix):
            return field
    head = where.split(".", 1)[0].split("[", 1)[0]
    return head if head in FlagForm.Meta.fields else None


class RampForm(forms.Form):
    percentage = forms.DecimalField(min_value=0, max_value=100, decimal_places=3)
    reason = forms.CharField(required=False)


class VersionInline(admin.TabularInline):
    model = FlagVersion
    extra = 0
    can_delete = False
    fields = ["version", "action", "actor", "reason", "created_at", "changes", "restore"]
    readonly_fields = fields
    ordering = ["-version"]
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="what changed")
    def changes(self, version: FlagVersion):
        return render_diff(version.diff)

    @admin.display(description="")
    def restore(self, version: FlagVersion):
        if version.version == version.flag.version:
            return "current"
        url = reverse("admin:flags_flag_restore", args=[version.flag_id, version.version])
        return format_html('<a class="button" href="{}">Restore this version</a>', url)


def render_diff(diff: dict):
    if not diff:
        return "-"
    rows = ((path, short(old), short(new)) for path, (old, new) in diff.items())
    line_break = mark_safe("<br>")  # a constant tag, no input in it
    return format_html_join(line_break, "<code>{}</code>: {} → {}", rows)


def short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    form = FlagForm
    formfield_overrides = {models.JSONField: {"form_class": PrettyJSONField}}
    list_display = [
        "key",
        "enabled",
        "rollout_percentage",
        "plan_steps",
        "rollout_paused",
        "version",
        "last_change",
        "updated_at",
    ]
    list_filter = ["enabled", "rollout_paused"]
    search_fields = ["key", "description"]
    readonly_fields = ["version", "last_good_version", "salt"]
    inlines = [VersionInline]
    actions = ["disable_flags", "enable_flags", "ramp_flags", "pause_plans", "resume_plans"]
    fieldsets = [
        (None, {"fields": ["key", "description", "enabled", "reason"]}),
        ("Variants and rules", {"fields": ["variants", "default_variant", "rules"]}),
        (
            "Rollout",
            {"fields": ["rollout_variant", "rollout_percentage", "rollout_plan", "rollout_paused"]},
        ),
        ("Guard", {"fields": ["guard"]}),
        ("Version", {"fields": ["version", "last_good_version", "salt"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        """The key is fixed once created: clients evaluate it by name."""
        return [*self.readonly_fields, "key"] if obj else self.readonly_fields

    def get_queryset(self, request):
        """Annotate the latest version's action and reason (one query for the whole page)."""
        latest = FlagVersion.objects.filter(flag=OuterRef("pk")).order_by("-version")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_action=Subquery(latest.values("action")[:1]),
                last_reason=Subquery(latest.values("reason")[:1]),
            )
        )

    @admin.display(description="last change")
    def last_change(self, flag: Flag):
        """What happened last; a guard rollback stands out, so operators see it at once."""
        action, reason = getattr(flag, "last_action", ""), getattr(flag, "last_reason", "")
        if action == "guard-rollback":
            return format_html(
                '<strong style="color:#ba2121">rolled back by guard</strong>: {}', reason
            )
        return f"{action}: {reason}" if reason else action

    @admin.display(description="plan steps")
    def plan_steps(self, flag: Flag) -> int:
        return len(flag.rollout_plan or [])

    def save_model(self, request, obj, form, change):
        """Save through the service (versioned), then point the admin at the saved row."""
        actor = services.Actor.of(request.user)
        saved = services.save_flag(form.document, actor=actor, reason=form.cleaned_data["reason"])
        obj.pk, obj.version = saved.pk, saved.version

    def save_related(self, request, form, formsets, change):
        """Versions are written by the service only; the inline is read-only."""
        for formset in formsets:  # what the admin's change message reads after a save
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def has_delete_permission(self, request, obj=None):
        """Deleting would erase the audit history: the kill switch is the way to retire."""
        return False

    def get_urls(self):
        restore = self.admin_site.admin_view(self.restore_view)
        route = path("<int:flag_id>/restore/<int:version>/", restore, name="flags_flag_restore")
        return [route, *super().get_urls()]

    def restore_view(self, request, flag_id: int, version: int):
        """Confirm, then restore a version (as a new version, so nothing is lost)."""
        flag = get_object_or_404(Flag, pk=flag_id)
        if not self.has_change_permission(request, flag):
            return HttpResponseRedirect(reverse("admin:flags_flag_change", args=[flag_id]))
        row = get_object_or_404(FlagVersion, flag=flag, version=version)
        if request.method == "POST":
            reason = request.POST.get("reason", "") or f"restored version {version} in the admin"
            self.act(request, services.rollback, flag.key, version, reason)
            return HttpResponseRedirect(reverse("admin:flags_flag_change", args=[flag_id]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Restore {flag.key} to version {version}?",
            "flag": flag,
            "row": row,
            "diff": render_diff(services.diff(flag.document(), row.snapshot)),
            "opts": self.model._meta,
        }
        return render(request, "admin/flags/restore.html", context)

    def act(self, request, change, key: str, argument, reason: str) -> bool:
        actor = services.Actor.of(request.user)
        try:
            flag = change(key, argument, actor=actor, reason=reason)
        except (FlagDocumentError, services.FlagNotFound) as exc:
            self.message_user(request, f"{key}: {exc}", messages.ERROR)
            return False
        self.message_user(request, f"{key}: now version {flag.version} ({reason})")
        return True

    @admin.action(description="Disable selected flags (kill switch)")
    def disable_flags(self, request, queryset):
        for flag in queryset:
            self.act(request, services.set_enabled, flag.key, False, "kill switch in the admin")

    @admin.action(description="Enable selected flags")
    def enable_flags(self, request, queryset):
        for flag in queryset:
            self.act(request, services.set_enabled, flag.key, True, "enabled in the admin")

    @admin.action(description="Pause ramp plans of selected flags")
    def pause_plans(self, request, queryset):
        for flag in queryset:
            self.act(request, services.set_paused, flag.key, True, "plan paused in the admin")

    @admin.action(description="Resume ramp plans of selected flags")
    def resume_plans(self, request, queryset):
        for flag in queryset:
            self.act(request, services.set_paused, flag.key, False, "plan resumed in the admin")

    @admin.action(description="Ramp selected flags to…")
    def ramp_flags(self, request, queryset):
        """An intermediate page asks for the percentage, then ramps each flag."""
        form = RampForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            percentage = float(form.cleaned_data["percentage"])
            reason = form.cleaned_data["reason"] or f"ramp to {percentage}% in the admin"
            for flag in queryset:
                self.act(request, services.ramp, flag.key, percentage, reason)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Ramp flags to a percentage",
            "flags": queryset,
            "form": form,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return render(request, "admin/flags/ramp.html", context)


@admin.register(FlagVersion)
class FlagVersionAdmin(admin.ModelAdmin):
    """The audit history: read-only, with one action to restore a chosen version."""

    list_display = ["flag", "version", "action", "actor", "reason", "created_at"]
    list_filter = ["action", "actor", "created_at"]
    search_fields = ["flag__key", "reason", "actor"]
    list_select_related = ["flag"]
    readonly_fields = ["flag", "version", "action", "actor", "changed_by", "reason", "created_at"]
    readonly_fields += ["changes", "snapshot_json"]
    exclude = ["snapshot", "diff"]
    actions = ["restore_versions"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="what changed")
    def changes(self, version: FlagVersion):
        return render_diff(version.diff)

    @admin.display(description="snapshot")
    def snapshot_json(self, version: FlagVersion):
        return format_html("<pre>{}</pre>", json.dumps(version.snapshot, indent=2))

    def has_restore_permission(self, request) -> bool:
        return request.user.has_perm("flags.change_flag")

    @admin.action(description="Roll back to this version", permissions=["restore"])
    def restore_versions(self, request, queryset):
        rows = list(queryset.select_related("flag"))
        if len(rows) > 1:  # a bulk rollback: keep a way back first
            path = backup.auto_backup(f"before rolling back {len(rows)} flags")
            self.message_user(request, f"Backup taken first: {path}", messages.INFO)
        for row in rows:
            reason = f"restored version {row.version} in the admin"
            FlagAdmin.act(self, request, services.rollback, row.flag.key, row.version, reason)
