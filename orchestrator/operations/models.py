"""The migration phase the installation is in, and every change to it (who, when, why)."""

from django.db import models
from django.utils import timezone


class PhaseState(models.Model):
    """One row: the current phase (1-4). Changed only through `phases`, never `save()`."""

    phase = models.PositiveSmallIntegerField(default=1)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "migration phase"

    def __str__(self) -> str:
        return f"phase {self.phase}"


class PhaseChange(models.Model):
    """One advance or rollback, manual or automatic. Never edited."""

    class Kind(models.TextChoices):
        ADVANCE = "advance"
        ROLLBACK = "rollback"
        AUTO_ROLLBACK = "auto-rollback"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    from_phase = models.PositiveSmallIntegerField()
    to_phase = models.PositiveSmallIntegerField()
    actor = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    backup = models.CharField(max_length=500, blank=True, help_text="The backup taken first.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_phase} -> {self.to_phase}"
