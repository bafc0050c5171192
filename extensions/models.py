"""The registry in the database: each extension, its installed versions, and its history."""

from django.db import models
from django.utils import timezone


class Extension(models.Model):
    """An installed extension: whether it is enabled and which version is active."""

    name = models.SlugField(max_length=32, unique=True)
    enabled = models.BooleanField(default=True)
    active_version = models.CharField(max_length=64)
    description = models.TextField(blank=True, default="")
    # Uninstalled: kept (with its history) so a discovered entry point does not come back.
    removed = models.BooleanField(default=False)
    installed_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} {self.active_version}"


class Origin(models.TextChoices):
    ENTRY_POINT = "entry_point", "entry point (a Python package)"
    FOLDER = "folder", "installed folder"


class ExtensionVersion(models.Model):
    """One installed version; several can sit side by side, each in its own folder."""

    extension = models.ForeignKey(Extension, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=64)
    origin = models.CharField(max_length=16, choices=Origin.choices)
    # The folder under EXTENSIONS_DIR; empty for an entry point.
    path = models.CharField(max_length=500, blank=True, default="")
    # What the manifest declared when it was installed (actions, requires, core, schema).
    manifest = models.JSONField(default=dict)
    installed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["extension", "-installed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["extension", "version"], name="extension_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.extension.name} {self.version}"


class Change(models.TextChoices):
    DISCOVER = "discover"
    INSTALL = "install"
    ENABLE = "enable"
    DISABLE = "disable"
    UPGRADE = "upgrade"
    ROLLBACK = "rollback"
    UNINSTALL = "uninstall"


class ExtensionHistory(models.Model):
    """One lifecycle change, written in the same transaction as the change; never edited."""

    extension = models.CharField(max_length=32, db_index=True)
    change = models.CharField(max_length=16, choices=Change.choices)
    from_version = models.CharField(max_length=64, blank=True, default="")
    to_version = models.CharField(max_length=64, blank=True, default="")
    ok = models.BooleanField(default=True)
    reason = models.TextField(blank=True, default="")
    actor = models.CharField(max_length=150, blank=True, default="")
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "extension history"

    def __str__(self) -> str:
        return f"{self.extension} {self.change} {self.to_version or self.from_version}"
