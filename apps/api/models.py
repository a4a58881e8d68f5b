"""Idempotency keys of the public API: the first response to a keyed request, replayed to its
repeats for 24 hours (apps/api/idempotency.py)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apps.spaces.models import ApiKey, Space


class IdempotencyStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class IdempotencyKey(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of what the request asks for (workflow, stage, tenant, input): a repeat that asks
    # for something else is refused, not answered with another request's response.
    request_hash = models.CharField(max_length=64)
    status = models.CharField(
        max_length=12, choices=IdempotencyStatus.choices, default=IdempotencyStatus.IN_PROGRESS
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space", "api_key", "key"], name="idempotency_unique_key"
            )
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"
