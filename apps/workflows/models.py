"""Workflows, their immutable published versions, and which version serves which environment.

A Workflow holds one mutable draft (code + configuration). Publish freezes the draft into the
next WorkflowVersion (v1, v2, …), which never changes afterwards. A Deployment says which
version serves an explicit environment (`live` or a named one); the built-in `test`
environment needs no row: it always serves the latest published version."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.environments.models import Environment
from apps.spaces.models import Space


class Tier(models.TextChoices):
    INSTANT = "instant", "Instant"
    STANDARD = "standard", "Standard"
    LONG = "long", "Long"


# (min_s, max_s, default_s) of the execution timeout, per tier (DESIGN §3).
TIER_LIMITS: dict[str, tuple[int, int, int]] = {
    "instant": (1, 120, 60),
    "standard": (5, 900, 900),
    "long": (30, 21600, 21600),
}

TIER_DESCRIPTIONS = {
    "instant": "Synchronous: the caller waits and gets the result inline.",
    "standard": "Asynchronous: answers 202 Accepted and runs on a worker.",
    "long": "Asynchronous, on the long-job workers: batch imports, backfills.",
}

MAX_CODE_BYTES = 1024 * 1024
NAME_MAX = 120
SLUG_MAX = 80
DESCRIPTION_MAX = 1000
RELEASE_NOTE_MAX = 500
RETRY_ATTEMPTS_RANGE = (1, 10)
RETRY_INITIAL_RANGE_MS = (100, 3_600_000)
RETRY_COEFFICIENT_RANGE = (1.0, 10.0)
RETRY_MAX_INTERVAL_LIMIT_MS = 86_400_000

DEFAULT_CODE = """export default async function (ctx) {
  const { input, headers } = ctx;
  return { result: "Hello from workflow!", input };
}
"""


class EditedVia(models.TextChoices):
    AGENT = "agent", "Edited via agent"
    MANUAL = "manual", "Edited manually"


def timeout_in_tier_range() -> Q:
    condition = Q()
    for tier, (low, high, _default) in TIER_LIMITS.items():
        condition |= Q(tier=tier, timeout_seconds__gte=low, timeout_seconds__lte=high)
    return condition


class Workflow(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=NAME_MAX)
    # URL-safe and unique in the Space; editable until the first publish.
    slug = models.SlugField(max_length=SLUG_MAX)
    description = models.TextField(max_length=DESCRIPTION_MAX, blank=True)
    tier = models.CharField(max_length=10, choices=Tier.choices, default=Tier.INSTANT)
    timeout_seconds = models.PositiveIntegerField(default=TIER_LIMITS["instant"][2])
    # Off by default (the reference): a retry only helps a transient failure, and turning it on
    # is the workflow author's decision about running their side effects twice.
    retry_enabled = models.BooleanField(default=False)
    retry_max_attempts = models.PositiveSmallIntegerField(default=3)
    retry_initial_interval_ms = models.PositiveIntegerField(default=5000)
    retry_backoff_coefficient = models.FloatField(default=2.0)
    retry_max_interval_ms = models.PositiveIntegerField(default=60000)
    enabled = models.BooleanField(default=True)
    draft_code = models.TextField(default=DEFAULT_CODE, blank=True)
    # Bumped by every save: a save names the revision it started from, and a stale one is
    # refused instead of silently overwriting a newer draft (two tabs, two people).
    draft_revision = models.PositiveIntegerField(default=1)
    edited_via = models.CharField(max_length=8, choices=EditedVia.choices, default=EditedVia.MANUAL)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["space", "slug"], name="workflow_unique_slug"),
            models.CheckConstraint(condition=timeout_in_tier_range(), name="workflow_timeout_tier"),
            models.CheckConstraint(
                condition=Q(retry_max_attempts__gte=1, retry_max_attempts__lte=10),
                name="workflow_retry_attempts",
            ),
            models.CheckConstraint(
                condition=Q(retry_max_interval_ms__gte=models.F("retry_initial_interval_ms")),
                name="workflow_retry_max_interval",
            ),
        ]
        indexes = [
            models.Index(fields=["space", "-updated_at", "-id"], name="workflow_space_updated"),
            models.Index(fields=["space", "tier", "-updated_at"], name="workflow_space_tier"),
        ]

    def __str__(self) -> str:
        return self.name

    def retry_delays_ms(self) -> list[int]:
        """Delays between attempts: before attempt n+1 wait min(initial × coefficient^(n−1),
        max). Empty when retries are off; max_attempts − 1 entries otherwise."""
        if not self.retry_enabled:
            return []
        return [
            int(
                min(
                    self.retry_initial_interval_ms * self.retry_backoff_coefficient ** (n - 1),
                    self.retry_max_interval_ms,
                )
            )
            for n in range(1, self.retry_max_attempts)
        ]

    def config(self) -> dict[str, Any]:
        """The configuration a published version freezes along with the code."""
        return {
            "name": self.name,
            "description": self.description,
            "tier": self.tier,
            "timeout_seconds": self.timeout_seconds,
            "retry": {
                "enabled": self.retry_enabled,
                "max_attempts": self.retry_max_attempts,
                "initial_interval_ms": self.retry_initial_interval_ms,
                "backoff_coefficient": float(self.retry_backoff_coefficient),
                "max_interval_ms": self.retry_max_interval_ms,
            },
            "enabled": self.enabled,
        }

    def apply_config(self, config: dict[str, Any]) -> None:
        """Copy a version's configuration back onto the draft (restore)."""
        retry = config["retry"]
        self.name = config["name"]
        self.description = config["description"]
        self.tier = config["tier"]
        self.timeout_seconds = config["timeout_seconds"]
        self.retry_enabled = retry["enabled"]
        self.retry_max_attempts = retry["max_attempts"]
        self.retry_initial_interval_ms = retry["initial_interval_ms"]
        self.retry_backoff_coefficient = retry["backoff_coefficient"]
        self.retry_max_interval_ms = retry["max_interval_ms"]
        self.enabled = config["enabled"]

    @property
    def code_bytes(self) -> int:
        return len(self.draft_code.encode("utf-8"))

    @property
    def latest_version(self) -> WorkflowVersion | None:
        return self.versions.order_by("-number").first()

    @property
    def is_published(self) -> bool:
        return self.versions.exists()

    @property
    def file_name(self) -> str:
        return f"{self.slug}.js"


class ImmutableQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Workflow versions are immutable: publish a new version instead.")


class WorkflowVersion(models.Model):
    """An immutable snapshot made by Publish. Numbers run 1, 2, 3… per workflow without gaps:
    workflow_publish numbers them under a lock on the workflow row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    code = models.TextField()
    config = models.JSONField()
    # What changed and why, in the publisher's words (optional); frozen with the version.
    release_note = models.CharField(max_length=RELEASE_NOTE_MAX, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ImmutableQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="version_unique_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="version_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Workflow versions are immutable: publish a new version instead.")
        super().save(*args, **kwargs)

    @property
    def label(self) -> str:
        return f"v{self.number}"

    @property
    def code_bytes(self) -> int:
        return len(self.code.encode("utf-8"))


class Deployment(models.Model):
    """Which version serves an explicit environment (`live` or a named one). Deploying again
    replaces the row; rolling back is deploying an older version."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="deployments")
    # An environment with deployments cannot be deleted on its own (deleting the whole Space,
    # which deletes the deployments too, can).
    environment = models.ForeignKey(
        Environment, on_delete=models.RESTRICT, related_name="deployments"
    )
    version = models.ForeignKey(
        WorkflowVersion, on_delete=models.RESTRICT, related_name="deployments"
    )
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deployed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "environment"], name="deployment_unique_environment"
            )
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} → {self.environment_id}"
