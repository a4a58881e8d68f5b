"""Test cases of a workflow (saved scenarios with an expected result, MOCK or LIVE), the runs
that execute a set of them on one piece of code, and each case's result in a run.

Results are kept per version: a run records the sha256 of the code it ran and the version
number when it ran a published version (None for the draft), so the editor can show how each
case went on the draft and on every version whose code it ran."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.spaces.models import Space
from apps.workflows.models import Workflow

NAME_MAX = 120
GROUP_MAX = 60
SCENARIO_MAX = 4000
FEEDBACK_MAX = 4000


class Mode(models.TextChoices):
    # Connector and HTTP calls are answered by the case's mocks: nothing leaves the host.
    MOCK = "mock", "MOCK"
    # Calls go out as in a Test-tab run, through the Space's connections.
    LIVE = "live", "LIVE"


class TestCase(models.Model):
    __test__ = False  # not a pytest class

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="test_cases")
    name = models.CharField(max_length=NAME_MAX)
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.MOCK)
    scenario = models.TextField(max_length=SCENARIO_MAX, blank=True)
    group = models.CharField(max_length=GROUP_MAX, blank=True)
    input = models.JSONField(default=dict, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    # [{"call": "shopify.getOrders" | "GET https://api.example.com/orders/*", "response": …}]
    mocks = models.JSONField(default=list, blank=True)
    # {"kind": "equals", "output": …} or {"kind": "assertions", "assertions": [{path, op, value}]}
    expect = models.JSONField(default=dict, blank=True)
    feedback = models.TextField(max_length=FEEDBACK_MAX, blank=True)
    approved = models.BooleanField(default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["group", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "name"], name="testcase_unique_name"),
        ]
        indexes = [models.Index(fields=["space", "workflow"], name="testcase_space_workflow")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_mock(self) -> bool:
        return self.mode == Mode.MOCK


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"  # the run itself could not finish (worker lost, error)


class TestRun(models.Model):
    """One request to run some cases on one piece of code (Run one, Run all, a publish
    attempt). The code travels in the row: the worker runs exactly what was asked for."""

    __test__ = False

    class Purpose(models.TextChoices):
        MANUAL = "manual", "Manual"
        PUBLISH = "publish", "Publish check"
        CLI = "cli", "Command line"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="test_runs")
    code = models.TextField()
    code_hash = models.CharField(max_length=64)
    version_number = models.PositiveIntegerField(null=True, blank=True)
    purpose = models.CharField(max_length=8, choices=Purpose.choices, default=Purpose.MANUAL)
    case_ids = models.JSONField(default=list)
    status = models.CharField(max_length=8, choices=RunStatus.choices, default=RunStatus.PENDING)
    error = models.TextField(blank=True)
    actor_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workflow", "-created_at"], name="testrun_workflow_time")]

    def __str__(self) -> str:
        return f"{self.workflow_id} on {self.target_label}"

    @property
    def target_label(self) -> str:
        return f"v{self.version_number}" if self.version_number else f"draft {self.code_hash[:7]}"


class TestResult(models.Model):
    __test__ = False

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(TestRun, on_delete=models.CASCADE, related_name="results")
    case = models.ForeignKey(TestCase, on_delete=models.CASCADE, related_name="results")
    code_hash = models.CharField(max_length=64)
    version_number = models.PositiveIntegerField(null=True, blank=True)
    passed = models.BooleanField()
    # The sandbox's outcome: completed, failed, timeout, cancelled.
    run_status = models.CharField(max_length=10)
    output = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    # Why it failed, one readable sentence each ("$.total: expected 10, got 12").
    failures = models.JSONField(default=list, blank=True)
    diff = models.TextField(blank=True)
    logs = models.JSONField(default=list, blank=True)
    steps = models.JSONField(default=list, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["case", "-created_at"], name="testresult_case_time"),
            models.Index(fields=["case", "code_hash", "-created_at"], name="testresult_case_code"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}: {'passed' if self.passed else 'failed'}"
