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


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.TIMEOUT, Status.CANCELLED})


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
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="executions")
    # History outlives the workflow: the name is kept even if the workflow is deleted.
    workflow = models.ForeignKey(
        Workflow, null=True, on_delete=models.SET_NULL, related_name="executions"
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
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
            models.Index(fields=["status", "lease_expires_at"], name="exec_status_lease"),
            models.Index(fields=["status", "due_at"], name="exec_status_due"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_name} {self.id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def version_label(self) -> str:
        return f"v{self.version_number}" if self.version_number else "draft"


class ExecutionAttempt(models.Model):
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="attempt_set")
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
