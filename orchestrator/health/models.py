"""Health data kept in the database."""

from django.db import models
from django.utils import timezone


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


class Status(models.TextChoices):
    """health+json's three verdicts, worst last."""

    PASS = "pass"  # noqa: S105 - a health verdict, not a password
    WARN = "warn"
    FAIL = "fail"


SEVERITY = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


class CheckResult(models.Model):
    """One measurement of one check, as health+json reports it; pruned by retention."""

    name = models.CharField(max_length=100, help_text='health+json "component:measurement"')
    status = models.CharField(max_length=4, choices=Status.choices)
    component_type = models.CharField(max_length=40, blank=True, default="")
    observed_value = models.FloatField(null=True, blank=True)
    observed_unit = models.CharField(max_length=20, blank=True, default="")
    output = models.TextField(blank=True, default="")
    time = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [
            models.Index(fields=["name", "-time"], name="checkresult_check_time"),
            models.Index(fields=["time"], name="checkresult_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.status} at {self.time:%H:%M:%S}"


class CheckState(models.Model):
    """The current verdict of one check, after its baseline and hysteresis, and the learned
    baseline itself (EWMA mean and deviation of its observed values)."""

    name = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=4, choices=Status.choices, default=Status.PASS)
    raw_status = models.CharField(max_length=4, choices=Status.choices, default=Status.PASS)
    # Consecutive results disagreeing with `status`; it changes only when this is long enough.
    streak = models.PositiveIntegerField(default=0)
    samples = models.PositiveIntegerField(default=0)
    mean = models.FloatField(null=True, blank=True)
    deviation = models.FloatField(null=True, blank=True)
    component_type = models.CharField(max_length=40, blank=True, default="")
    observed_value = models.FloatField(null=True, blank=True)
    observed_unit = models.CharField(max_length=20, blank=True, default="")
    output = models.TextField(blank=True, default="")
    since = models.DateTimeField(default=timezone.now, help_text="status held since")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.status}"


class Incident(models.Model):
    """A check out of `pass`, from when it left until it came back (MTTR is measured here)."""

    class State(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    key = models.CharField(max_length=100, help_text="the check that opened it")
    title = models.CharField(max_length=300)
    severity = models.CharField(max_length=4, choices=Status.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    cause = models.TextField(blank=True, default="", help_text="the likely cause, when known")
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(state="open"), name="one_open_incident_per_key"
            )
        ]
        indexes = [models.Index(fields=["state", "opened_at"], name="incident_state_opened")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class RecoveryAction(models.Model):
    """One catalog entry: when a check matching `trigger_check` reaches `trigger_status`,
    run `action` with `params`, if the preconditions hold, the cooldown has passed and the
    incident has not used up `max_attempts`."""

    name = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    trigger_check = models.CharField(
        max_length=100, help_text='a check name or glob, e.g. "*:breaker" or "queue:depth"'
    )
    trigger_status = models.CharField(
        max_length=4, choices=Status.choices, default=Status.FAIL, help_text="at least this bad"
    )
    action = models.CharField(max_length=50, help_text="a key of orchestrator.health.recovery")
    params = models.JSONField(default=dict, blank=True)
    preconditions = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"checks": {"database:responseTime": "pass"}, "open_for_seconds": 30}',
    )
    cooldown_seconds = models.PositiveIntegerField(default=300)
    max_attempts = models.PositiveIntegerField(default=3, help_text="per incident")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RecoveryExecution(models.Model):
    """One run of a catalog action, with what came of it."""

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"

    recovery = models.ForeignKey(RecoveryAction, on_delete=models.CASCADE, related_name="runs")
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="recoveries"
    )
    check_name = models.CharField(max_length=100, blank=True, default="")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    detail = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["recovery", "-started_at"], name="recovery_exec_recent")]

    def __str__(self) -> str:
        return f"{self.recovery_id} {self.outcome} at {self.started_at:%H:%M:%S}"


class Alert(models.Model):
    """One firing episode of an alert key (Alertmanager's dedupe unit): while it fires, the
    same key updates this row; notifications repeat only after the repeat interval; its
    resolution is announced once."""

    class State(models.TextChoices):
        FIRING = "firing"
        RESOLVED = "resolved"

    key = models.CharField(max_length=150)
    group = models.CharField(max_length=100, help_text="alerts of one group notify together")
    severity = models.CharField(max_length=4, choices=Status.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.FIRING)
    summary = models.CharField(max_length=500)
    labels = models.JSONField(default=dict, blank=True)
    starts_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    notifications = models.PositiveIntegerField(default=0)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_notified = models.BooleanField(default=False)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(state="firing"), name="one_firing_alert_per_key"
            )
        ]
        indexes = [models.Index(fields=["state", "starts_at"], name="alert_state_starts")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class Escalation(models.Model):
    """One notice sent out (chat through a workflow run, email, the dashboard)."""

    class Channel(models.TextChoices):
        CHAT = "chat"
        EMAIL = "email"
        DASHBOARD = "dashboard"

    class Outcome(models.TextChoices):
        QUEUED = "queued"  # a workflow run carries it; the run records retries and the result
        SENT = "sent"
        FAILED = "failed"

    kind = models.CharField(max_length=40, help_text="alert.firing, recovery.failed, ...")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    subject = models.CharField(max_length=300)
    text = models.TextField()
    alert = models.ForeignKey(
        Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="escalations"
    )
    run_id = models.BigIntegerField(null=True, blank=True, help_text="the workflow run posting it")
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], name="escalation_created")]

    def __str__(self) -> str:
        return f"{self.kind} via {self.channel} ({self.outcome})"
