"""Executions: one row per run of a workflow, whatever started it, and one row per attempt."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from apps.environments.models import DRAFT
from apps.spaces.models import Customer, Space
from apps.workflows.models import Workflow, WorkflowVersion


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    TIMEOUT = "timeout", "Timeout"
    CANCELLED = "cancelled", "Cancelled"
    # Durable runs between attempts: asleep or waiting for an event (due_at says until when),
    # or paused by an operator.
    WAITING = "waiting", "Waiting"
    PAUSED = "paused", "Paused"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.TIMEOUT, Status.CANCELLED})
# Between attempts and holding no worker: a control (pause, terminate) applies at once.
IDLE = frozenset({Status.PENDING, Status.WAITING, Status.PAUSED})

# The instances API's words for a run's state (the reference's Workflows API).
INSTANCE_STATUSES = {
    Status.PENDING: "queued",
    Status.RUNNING: "running",
    Status.WAITING: "waiting",
    Status.PAUSED: "paused",
    Status.COMPLETED: "complete",
    Status.FAILED: "errored",
    Status.TIMEOUT: "errored",
    Status.CANCELLED: "terminated",
}


class TriggeredBy(models.TextChoices):
    MANUAL = "manual", "Manual"
    WEBHOOK = "webhook", "Webhook"
    SCHEDULER = "scheduler", "Scheduler"
    APP_EVENT = "app-event", "App event"
    API = "api", "API"
    AGENT_SERVICE = "agent-service", "Agent service"
    TEST = "test", "Test"


class Execution(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Every run inserts a row and updates it twice (claim, finish), each time in every index:
    # the foreign keys use the composite indexes below, which lead with them, instead of one
    # index each (version's stays: nothing else finds a deleted version's runs).
    space = models.ForeignKey(
        Space, on_delete=models.CASCADE, related_name="executions", db_index=False
    )
    # History outlives the workflow: the name is kept even if the workflow is deleted.
    workflow = models.ForeignKey(
        Workflow, null=True, on_delete=models.SET_NULL, related_name="executions", db_index=False
    )
    workflow_name = models.CharField(max_length=120)
    version = models.ForeignKey(
        WorkflowVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version_number = models.PositiveIntegerField(null=True, blank=True)
    # The code of a draft run, kept so "Open in editor" can load exactly what ran.
    draft_code = models.TextField(blank=True)
    environment = models.CharField(max_length=40, default=DRAFT)
    tier = models.CharField(max_length=10)
    timeout_seconds = models.PositiveIntegerField()
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    triggered_by = models.CharField(max_length=20, choices=TriggeredBy.choices)
    actor_label = models.CharField(max_length=254, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    input = models.JSONField(default=dict, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    logs = models.JSONField(default=list, blank=True)
    steps = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=1)
    retry_delays_ms = models.JSONField(default=list, blank=True)
    cancel_requested = models.BooleanField(default=False)
    # Durable runs (fastn.step): an operator's pause takes effect at the next step boundary;
    # a restart asked while an attempt runs is done once that attempt has stopped.
    pause_requested = models.BooleanField(default=False)
    restart_requested = models.BooleanField(default=False)
    # How many times the run was resumed from its stored steps (after a sleep, an event, a
    # pause or a lost worker).
    replays = models.PositiveIntegerField(default=0)
    # The instances API's id: chosen by the caller (unique per workflow) or the row's own id.
    instance_id = models.CharField(max_length=100, blank=True)
    queued_at = models.DateTimeField(default=timezone.now)
    # When the next attempt should start. A pending run long past it lost its broker message
    # (e.g. its worker died holding it) and the reaper dispatches it again.
    due_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    # A lease that the running worker renews; a reaper re-dispatches runs whose lease expired.
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [
            models.Index(fields=["space", "-queued_at", "-id"], name="exec_space_time"),
            models.Index(fields=["space", "status", "-queued_at", "-id"], name="exec_space_status"),
            models.Index(fields=["workflow", "-queued_at", "-id"], name="exec_workflow_time"),
            models.Index(fields=["customer", "-queued_at", "-id"], name="exec_customer_time"),
            models.Index(
                fields=["space", "environment", "-queued_at", "-id"], name="exec_space_env_time"
            ),
            # The reaper's: leases of running runs, due times of queued and waiting ones.
            # Partial, so that a run's other writes skip them.
            models.Index(
                fields=["lease_expires_at"],
                condition=models.Q(status=Status.RUNNING),
                name="exec_running_lease",
            ),
            # One per status: SQLite uses a partial index only for the very term it names.
            models.Index(
                fields=["due_at"],
                condition=models.Q(status=Status.PENDING),
                name="exec_pending_due",
            ),
            models.Index(
                fields=["due_at"],
                condition=models.Q(status=Status.WAITING),
                name="exec_waiting_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "instance_id"],
                condition=~models.Q(instance_id=""),
                name="exec_unique_instance_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.workflow_name} {self.id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def instance_status(self) -> str:
        """queued, running, waitingForPause, paused, waiting, complete, errored, terminated."""
        if self.status == Status.RUNNING and self.pause_requested:
            return "waitingForPause"
        return INSTANCE_STATUSES[self.status]

    @property
    def instance_key(self) -> str:
        return self.instance_id or str(self.id)

    @property
    def version_label(self) -> str:
        return f"v{self.version_number}" if self.version_number else "draft"


class ExecutionAttempt(models.Model):
    # attempt_unique_number leads with it: no index of its own.
    execution = models.ForeignKey(
        Execution, on_delete=models.CASCADE, related_name="attempt_set", db_index=False
    )
    number = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    worker = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["execution", "number"], name="attempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.execution_id}"


class StepKind(models.TextChoices):
    DO = "do", "Step"
    SLEEP = "sleep", "Sleep"
    SLEEP_UNTIL = "sleepUntil", "Sleep until"
    WAIT_FOR_EVENT = "waitForEvent", "Wait for event"


class StepStatus(models.TextChoices):
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Waiting to retry"
    SLEEPING = "sleeping", "Sleeping"
    WAITING = "waiting", "Waiting for event"
    COMPLETE = "complete", "Done"
    ERRORED = "errored", "Failed"


class ExecutionStep(models.Model):
    """One durable step of a run (`fastn.step.do/sleep/sleepUntil/waitForEvent`), stored so
    that a replay returns its result instead of running it again."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="step_set")
    name = models.CharField(max_length=256)
    kind = models.CharField(max_length=12, choices=StepKind.choices)
    status = models.CharField(max_length=10, choices=StepStatus.choices)
    # Order of first start within the run, for the timeline.
    position = models.PositiveIntegerField()
    line = models.PositiveIntegerField(null=True, blank=True)
    config = models.JSONField(null=True, blank=True)
    # One entry per try of a `do` step: {start, end, success, error}.
    attempts = models.JSONField(default=list, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    event_type = models.CharField(max_length=100, blank=True)
    # When a sleep ends, a retry is due, or a wait for an event times out.
    wake_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["execution", "name"], name="step_unique_name")
        ]

    def __str__(self) -> str:
        return f"step {self.name} of {self.execution_id} ({self.status})"

    @property
    def duration_ms(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds() * 1000


class InstanceEvent(models.Model):
    """An event sent to a run (`POST …/instances/{id}/events/{type}`): kept until a
    `step.waitForEvent` of its type takes it, in the order they came."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="event_set")
    type = models.CharField(max_length=100)
    payload = models.JSONField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # The step that took it; empty while no wait has asked for it.
    taken_by = models.CharField(max_length=256, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [
            models.Index(fields=["execution", "type", "taken_by"], name="event_exec_type"),
        ]

    def __str__(self) -> str:
        return f"event {self.type} for {self.execution_id}"
