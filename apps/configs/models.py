"""Configs (Settings → Configs): non-secret values per environment, read by workflows with
`fastn.envConfig.get(key)` for the environment the run serves. Shown in the console."""

from __future__ import annotations

import uuid

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from apps.environments.models import Environment
from apps.spaces.models import Space

KEY_MAX_LENGTH = 128
key_validator = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_.-]*\Z",
    "Start with a letter; then letters, digits, and _ . - only.",
)


class ConfigKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="config_keys")
    key = models.CharField(max_length=KEY_MAX_LENGTH, validators=[key_validator])
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["space", "key"], name="configkey_unique_key")
        ]

    def __str__(self) -> str:
        return self.key


class ConfigValue(models.Model):
    """The value of a key in one environment. No row means unset: blank values are not kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    config_key = models.ForeignKey(ConfigKey, on_delete=models.CASCADE, related_name="values")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    value = models.TextField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["config_key", "environment"], name="configvalue_unique_environment"
            )
        ]

    def __str__(self) -> str:
        return f"{self.config_key} in {self.environment}"
