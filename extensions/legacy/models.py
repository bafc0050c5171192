"""Legacy handler registrations: which old-style function handles which key. Backed up."""

from django.db import models
from django.utils import timezone


class LegacyHandler(models.Model):
    """One decorated function registered for one key (several per key are allowed)."""

    class Provider(models.TextChoices):
        GITHUB = "github"
        LINEAR = "linear"
        SLACK = "slack"

    provider = models.CharField(max_length=16, choices=Provider.choices)
    key = models.CharField(max_length=200, help_text="The old key, e.g. pull_request:labeled.")
    handler = models.CharField(max_length=300, help_text="module:qualname of the function.")
    app_name = models.CharField(max_length=200, blank=True)
    workflow = models.CharField(max_length=100, help_text="The generated workflow that runs it.")
    position = models.PositiveIntegerField(default=0)
    registered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider", "key", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "key", "handler"], name="legacy_handler_once_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.key} -> {self.handler}"
