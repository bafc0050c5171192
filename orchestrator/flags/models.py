"""Flags and their immutable version history. Changes go through `services`, never `save()`."""

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


def new_salt() -> str:
    return secrets.token_hex(8)


class Flag(models.Model):
    """The current state of a flag; its columns mirror the SPEC §7 document."""

    key = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(
        default=False, help_text="The kill switch: off serves the default."
    )
    variants = models.JSONField(default=dict, blank=True)
    default_variant = models.CharField(max_length=100, blank=True)
    rules = models.JSONField(default=list, blank=True)
    rollout_variant = models.CharField(max_length=100, blank=True)
    rollout_percentage = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        default=Decimal(0),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    rollout_plan = models.JSONField(default=list, blank=True, help_text="[{percentage, at}]")
    rollout_paused = models.BooleanField(default=False)
    guard = models.JSONField(null=True, blank=True)
    # Per-flag salt: makes bucketing independent between flags; never changes after creation.
    salt = models.CharField(max_length=32, default=new_salt, editable=False)
    version = models.PositiveIntegerField(default=0, editable=False)
    # The latest version under which a guarded ramp step held; the guard rolls back to it.
    last_good_version = models.PositiveIntegerField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key

    def document(self) -> dict:
        """The SPEC §7 document for this flag (what snapshots store and the API answers)."""
        return {
            "key": self.key,
            "description": self.description,
            "enabled": self.enabled,
            "variants": self.variants or None,
            "default_variant": self.default_variant or None,
            "rules": self.rules,
            "rollout": {
                "variant": self.rollout_variant or None,
                "percentage": float(self.rollout_percentage),
                "plan": self.rollout_plan,
                "paused": self.rollout_paused,
            },
            "guard": self.guard,
        }


class FlagVersion(models.Model):
    """One change to a flag: who, when, what (full snapshot + diff) and why. Never edited."""

    flag = models.ForeignKey(Flag, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=32)
    snapshot = models.JSONField()
    diff = models.JSONField(default=dict, blank=True)
    actor = models.CharField(max_length=150)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["flag", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["flag", "version"], name="flags_one_row_per_version")
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.action}"
