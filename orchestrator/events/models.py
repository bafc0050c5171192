"""The event store: one row per verified webhook delivery (SPEC §5)."""

from django.db import models
from django.utils import timezone


class Status(models.TextChoices):
    RECEIVED = "received", "received"
    DISPATCHED = "dispatched", "dispatched"
    DONE = "done", "done"
    FAILED = "failed", "failed"
    DEAD = "dead", "dead"


class Event(models.Model):
    """A platform delivery, stored exactly once per (source, delivery_id).

    Postgres is the source of truth: the doorbell task only says "look at row N", and the
    sweeper re-drives any row whose doorbell was lost.
    """

    id = models.BigAutoField(primary_key=True)
    source = models.CharField(max_length=32)
    type = models.CharField(max_length=200)
    delivery_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # When the status last changed; the sweeper re-drives rows stuck in one state too long.
    status_changed_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A failed event is retried by the sweeper once this time has passed.
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "delivery_id"], name="event_unique_delivery")
        ]
        indexes = [
            models.Index(fields=["received_at"], name="event_received_at"),
            models.Index(fields=["status", "received_at"], name="event_status_received"),
            # `/api/events/?source=&type=&status=&since=&until=` reads a time range of one
            # type newest first; status rides along, so the range is filtered in the index.
            models.Index(
                fields=["source", "type", "-received_at", "status"], name="event_source_type_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"

    @property
    def time(self):
        """The CloudEvents `time` attribute."""
        return self.received_at

    def as_cloudevent(self) -> dict:
        """Render as a CloudEvents 1.0 structured event."""
        return {
            "specversion": "1.0",
            "id": str(self.pk),
            "source": self.source,  # a valid URI-reference, and what the API filters on
            "type": self.type,
            "time": self.received_at.isoformat(),
            "datacontenttype": "application/json",
            "data": self.data,
        }
