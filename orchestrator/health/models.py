"""Health data kept in the database."""

from django.db import models


class BreakerState(models.Model):
    """One platform's circuit breaker, shared by every process when there is no Redis.

    With REDIS_URL set the same record lives in a Redis hash instead; see breakers.py.
    """

    platform = models.CharField(max_length=40, unique=True)
    state = models.CharField(max_length=10, default="closed")
    # Outcomes of the last calls, oldest first: "0" success, "1" failure.
    window = models.CharField(max_length=1000, default="", blank=True)
    open_until = models.FloatField(default=0.0, help_text="epoch seconds")
    half_open_since = models.FloatField(default=0.0, help_text="epoch seconds")
    probes_issued = models.PositiveIntegerField(default=0)
    probe_successes = models.PositiveIntegerField(default=0)
    probe_failures = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["platform"]

    def __str__(self) -> str:
        return f"{self.platform} breaker ({self.state})"
