"""The admin: each namespace's document, its read-only history, diffs and rollbacks.

Every change goes through `store` (validated, versioned, announced); secrets are masked on
every page, in the diffs too.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from extensions.config import schemas, store
from extensions.config.models import ConfigDocument, ConfigVersion


def pretty(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


def render_patch(patch: list[dict]):
    """A JSON Patch as one line per operation: `replace /team: "a" → "b"` reads as a change."""
    if not patch:
        return "no change"
    rows = (
        (
            op["op"],
            op.get("from", "") + " " + op["path"] if "from" in op else op["path"],
            json.dumps(op["value"], ensure_ascii=False) if "value" in op else "",
        )
        for op in patch
    )
    return format_html(
        '<table class="config-patch">{}</table>',
        format_html_join("", "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>", rows),
    )


class ConfigEditForm(forms.Form):
    data = forms.JSONField(
        widget=forms.Textarea(attrs={"rows": 18, "cols": 90, "style": "font-family: monospace"}),
        help_text="The whole document. Secrets show as ********; leave them so to keep them.",
    )
    reason = forms.CharField(required=False, help_text="Why: recorded in the history.")


class VersionInline(admin.TabularInline):
    """The namespace's history, newest first; each older version can be rolled back to."""

    model = ConfigVersion
    fk_name = "document"
    extra = 0
    can_delete = False
    fields = ["version", "action", "author", "reason", "created_at", "compare", "roll_back"]
    readonly_fields = fields
    ordering = ["-version"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="diff")
    def compare(self, row: ConfigVersion):
        url = reverse("admin:config_configdocument_diff", args=[row.document_id])
        return format_html(
            '<a href="{}?from={}&to={}">vs. previous</a>', url, row.version - 1, row.version
        )

    @admin.display(description="")
    def roll_back(self, row: ConfigVersion):
        if row.pk == row.document.current_id:
            return "current"
        url = reverse("admin:config_configdocument_rollback", args=[row.document_id, row.version])
        return format_html('<a class="button" href="{}">Roll back to this version</a>', url)


@admin.register(ConfigDocument)
class ConfigDocumentAdmin(admin.ModelAdmin):
    list_display = ["namespace", "current_version", "last_author", "last_reason", "updated_at"]
    list_filter = ["updated_at"]
    search_fields = ["namespace", "current__reason", "current__author"]
    list_select_related = ["current"]
    fields = ["namespace", "current_version", "effective_masked", "stored_masked"]
    readonly_fields = fields
    inlines = [VersionInline]
    change_form_template = "admin/config/change_form.html"

    def has_add_permission(self, request):
        return False  # every known namespace is listed already

    def changelist_view(self, request, extra_context=None):
        """List every known namespace, changed or not, so each can be opened and changed."""
        known = [ConfigDocument(namespace=name) for name in schemas.all_schemas()]
        ConfigDocument.objects.bulk_create(known, ignore_conflicts=True)
        return super().changelist_view(request, extra_context)

    def has_delete_permission(self, request, obj=None):
        return False  # deleting would erase the history: roll back instead

    @admin.display(description="version", ordering="current__version")
    def current_version(self, doc: ConfigDocument):
        return doc.current.version if doc.current else 0

    @admin.display(description="last changed by")
    def last_author(self, doc: ConfigDocument):
        return doc.current.author if doc.current else ""

    @admin.display(description="why")
    def last_reason(self, doc: ConfigDocument):
        return doc.current.reason if doc.current else ""

    @admin.display(description="effective (defaults, then stored; secrets masked)")
    def effective_masked(self, doc: ConfigDocument):
        schema = schemas.schema_for(doc.namespace)
        if schema is None:
            return "no schema: the extension is not installed"
        data = doc.current.data if doc.current else {}
        return pretty(schemas.mask(schema, schemas.with_defaults(schema, data)))

    @admin.display(description="stored (secrets masked)")
    def stored_masked(self, doc: ConfigDocument):
        return pretty(store.masked(doc.namespace, doc.current.data if doc.current else {}))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/diff/", wrap(self.diff_view), name="config_configdocument_diff"),
            path("<int:pk>/edit/", wrap(self.edit_view), name="config_configdocument_edit"),
            path(
                "<int:pk>/rollback/<int:version>/",
                wrap(self.rollback_view),
                name="config_configdocument_rollback",
            ),
            *super().get_urls(),
        ]

    def page(self, request, template: str, doc: ConfigDocument, **context):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "doc": doc,
            "change_url": reverse("admin:config_configdocument_change", args=[doc.pk]),
            **context,
        }
        return render(request, f"admin/config/{template}", context)

    def diff_view(self, request, pk: int):
        """Any two versions side by side as a JSON Patch (secrets masked)."""
        doc = get_object_or_404(ConfigDocument.objects.select_related("current"), pk=pk)
        numbers = list(doc.versions.order_by("-version").values_list("version", flat=True))
        latest = numbers[0] if numbers else 0
        chosen = [
            _int(request.GET.get("from"), max(latest - 1, 0)),
            _int(request.GET.get("to"), latest),
        ]
        try:
            patch = render_patch(store.diff(doc.namespace, *chosen))
        except store.ConfigError as exc:
            patch = str(exc)
        title = f"{doc.namespace}: version {chosen[0]} → {chosen[1]}"
        return self.page(
            request,
            "diff.html",
            doc,
            title=title,
            numbers=[*numbers, 0],
            chosen=chosen,
            patch=patch,
        )

    def rollback_view(self, request, pk: int, version: int):
        """Confirm with the patch it would apply, then roll back (a new version)."""
        doc = get_object_or_404(ConfigDocument.objects.select_related("current"), pk=pk)
        row = get_object_or_404(ConfigVersion, document=doc, version=version)
        if request.method == "POST" and self.has_change_permission(request, doc):
            reason = request.POST.get("reason") or f"rolled back to version {version} in the admin"
            act(self, request, store.rollback, doc.namespace, version, reason)
            return HttpResponseRedirect(reverse("admin:config_configdocument_change", args=[pk]))
        current = doc.current.data if doc.current else {}
        patch = render_patch(store.masked_patch(doc.namespace, current, row.data))
        title = f"Roll back {doc.namespace} to version {version}?"
        return self.page(request, "rollback.html", doc, title=title, row=row, patch=patch)

    def edit_view(self, request, pk: int):
        """Change the document: validated against its schema, stored as a new version."""
        doc = get_object_or_404(ConfigDocument.objects.select_related("current"), pk=pk)
        current = doc.current.data if doc.current else {}
        form = ConfigEditForm(
            request.POST or None, initial={"data": store.masked(doc.namespace, current)}
        )
        if request.method == "POST" and form.is_valid():
            try:
                saved = store.save(
                    doc.namespace,
                    form.cleaned_data["data"],
                    author=request.user.get_username(),
                    user=request.user,
                    reason=form.cleaned_data["reason"] or "changed in the admin",
                )
            except store.ConfigError as exc:
                form.add_error("data", str(exc))
            else:
                report(self, request, saved)
                return HttpResponseRedirect(
                    reverse("admin:config_configdocument_change", args=[pk])
                )
        return self.page(request, "edit.html", doc, title=f"Change {doc.namespace}", form=form)


def _int(raw, default: int) -> int:
    return int(raw) if raw is not None and raw.isdigit() else default


def act(model_admin, request, change, namespace: str, version: int, reason: str) -> None:
    try:
        saved = change(
            namespace, version, author=request.user.get_username(), user=request.user, reason=reason
        )
    except store.ConfigError as exc:
        model_admin.message_user(request, f"{namespace}: {exc}", messages.ERROR)
        return
    report(model_admin, request, saved)


def report(model_admin, request, saved: store.Saved) -> None:
    model_admin.message_user(request, f"{saved.namespace}: now version {saved.version}")
    for warning in saved.warnings:
        model_admin.message_user(request, warning, messages.WARNING)


@admin.register(ConfigVersion)
class ConfigVersionAdmin(admin.ModelAdmin):
    """Every version of every namespace: read-only, with "Roll back to this version"."""

    list_display = ["document", "version", "action", "author", "reason", "created_at"]
    list_filter = ["action", "document__namespace", "created_at"]
    search_fields = ["document__namespace", "author", "reason"]
    list_select_related = ["document"]
    fields = ["document", "version", "action", "restored_from", "author", "reason", "created_at"]
    fields += ["changes", "data_masked"]
    readonly_fields = fields
    actions = ["roll_back"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_roll_back_permission(self, request) -> bool:
        return request.user.has_perm("config.change_configdocument")

    @admin.display(description="what changed (vs. the previous version)")
    def changes(self, row: ConfigVersion):
        before = row.document.versions.filter(version=row.version - 1).first()
        patch = store.masked_patch(row.document.namespace, before.data if before else {}, row.data)
        return render_patch(patch)

    @admin.display(description="document (secrets masked)")
    def data_masked(self, row: ConfigVersion):
        return pretty(store.masked(row.document.namespace, row.data))

    @admin.action(description="Roll back to this version", permissions=["roll_back"])
    def roll_back(self, request, queryset):
        rows = list(queryset.select_related("document"))
        if len({row.document_id for row in rows}) != len(rows):
            self.message_user(request, "choose one version per namespace", messages.ERROR)
            return
        for row in rows:
            reason = f"rolled back to version {row.version} in the admin"
            act(self, request, store.rollback, row.document.namespace, row.version, reason)
