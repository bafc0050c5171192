"""Workflow definitions (versioned documents) and their runs, one row per step attempt state."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Workflow(models.Model):
    """A named workflow; its document lives in immutable versions, the newest is current."""

    name = models.SlugField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    current_version = models.ForeignKey(
        "WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Bumped on every save; trigger caches compare it to know when to recompile.
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def document(self) -> dict:
        return self.current_version.document if self.current_version else {}


class WorkflowVersion(models.Model):
    """One saved document; never edited, only superseded."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    source = models.TextField(blank=True, default="", help_text="The document as it was sent.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="workflow_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.workflow.name} v{self.number}"


class RunStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


RUN_FINISHED = {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED}


class Run(models.Model):
    """One execution of one workflow version."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(WorkflowVersion, on_delete=models.PROTECT, related_name="runs")
    event = models.ForeignKey(
        "events.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    trigger = models.CharField(max_length=16, default="event")  # event | schedule | manual
    # The `event` templates see for manual and scheduled runs (event runs read the row).
    input = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING, db_index=True
    )
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "event"],
                condition=models.Q(event__isnull=False),
                name="run_once_per_workflow_event",
            )
        ]
        indexes = [
            # `/api/runs/?workflow=&status=` reads the newest first straight off this index.
            models.Index(
                fields=["workflow", "status", "-created_at", "-id"],
                name="run_workflow_status_created",
            )
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.workflow_id}"


class StepStatus(models.TextChoices):
    PENDING = "pending"
    READY = "ready"
    RUNNING = "running"
    WAITING = "waiting"  # backoff or an open breaker: due again at next_attempt_at
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


STEP_FINISHED = {
    StepStatus.SUCCEEDED,
    StepStatus.FAILED,
    StepStatus.SKIPPED,
    StepStatus.CANCELLED,
}
STEP_CLAIMABLE = [StepStatus.READY, StepStatus.WAITING]


class StepRun(models.Model):
    """The state of one step in one run."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    step_id = models.CharField(max_length=100)
    action = models.CharField(max_length=100)
    # The extension and version this step runs with, pinned when its run was created.
    extension = models.CharField(max_length=32, blank=True, default="")
    extension_version = models.CharField(max_length=64, blank=True, default="")
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=StepStatus.choices, default=StepStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    # Claimable steps are due at this time (ready: when they became ready).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "step_id"], name="step_unique_per_run")
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="step_status_due"),
            # Due steps in claim order, oldest and newest alike: a claim reads `limit`
            # entries from either end, however many steps are waiting (without it, both
            # statuses' rows were sorted: 20 ms a claim at 100k due, 49 ms for two scans).
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(status__in=STEP_CLAIMABLE),
                name="step_claim_order",
            ),
            models.Index(fields=["status", "heartbeat_at"], name="step_status_heartbeat"),
            models.Index(fields=["finished_at"], name="step_finished_at"),
        ]

    def __str__(self) -> str:
        return f"{self.step_id} ({self.status})"


class EngineBeacon(models.Model):
    """Short leases without Redis: the active runner, and the doorbell's debounce window."""

    name = models.CharField(max_length=32, primary_key=True)
    holder = models.CharField(max_length=64, blank=True, default="")
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} until {self.expires_at:%H:%M:%S}"
