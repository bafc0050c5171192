"""One document per namespace; every change an immutable version (who, when, why).

`ConfigDocument.current` points at the version in force. The service in `store.py` writes a
new `ConfigVersion` and moves the pointer in one transaction; nothing else writes these rows.
"""

from django.conf import settings
from django.db import models


class ConfigDocument(models.Model):
    """A namespace (`core`, or an extension's name) and the version in force."""

    namespace = models.CharField(max_length=64, unique=True)
    current = models.OneToOneField(
        "ConfigVersion", null=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace"]
        verbose_name = "configuration"
        verbose_name_plural = "configuration"

    def __str__(self) -> str:
        return self.namespace


class ConfigVersion(models.Model):
    """One immutable version of a namespace's document."""

    class Action(models.TextChoices):
        SET = "set", "set"
        ROLLBACK = "rollback", "rollback"

    document = models.ForeignKey(ConfigDocument, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    data = models.JSONField()
    action = models.CharField(max_length=16, choices=Action.choices, default=Action.SET)
    # For a rollback: the version whose data this one restores.
    restored_from = models.PositiveIntegerField(null=True, blank=True)
    author = models.CharField(max_length=150)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["document", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "version"], name="config_one_row_per_version"
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="config_version_created")]

    def __str__(self) -> str:
        return f"{self.document.namespace} v{self.version}"
