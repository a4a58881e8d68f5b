"""Secrets (Settings → Secrets): values encrypted at rest, never shown again after saving.

See `apps/secrets/crypto.py` for the envelope scheme (master keys → data keys → values)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.spaces.models import Customer, Space

NAME_MAX_LENGTH = 128
name_validator = RegexValidator(
    r"^[A-Z][A-Z0-9_]*\Z",
    "Use UPPER_SNAKE_CASE: capital letters, digits and underscores, starting with a letter.",
)


class DataKey(models.Model):
    """A 256-bit AES key that encrypts secret values, stored only wrapped by a master key.

    Exactly one is active (new values use it). Retired keys are kept, so a row they still
    encrypt stays readable until `rotate-keys` has moved it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    wrapped_key = models.BinaryField()
    master_key_id = models.CharField(max_length=32)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=Q(active=True), name="datakey_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"data key {self.id} ({'active' if self.active else 'retired'})"


class SecretType(models.TextChoices):
    TEXT = "text", "Text"
    JSON = "json", "JSON"


class Secret(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="secrets")
    # Null: the Space's own secret, used by every customer that has none of the same name.
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="secrets"
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH, validators=[name_validator])
    type = models.CharField(max_length=8, choices=SecretType.choices, default=SecretType.TEXT)
    # AES-GCM under `data_key`, associated data "<space>|<customer or empty>|<name>".
    ciphertext = models.BinaryField()
    nonce = models.BinaryField()
    data_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="secrets")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The value's last change (create or rotate); re-encryption under a new key is not one.
    updated_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["space", "name"],
                condition=Q(customer__isnull=True),
                name="secret_unique_space_name",
            ),
            models.UniqueConstraint(
                fields=["space", "customer", "name"],
                condition=Q(customer__isnull=False),
                name="secret_unique_customer_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope_label(self) -> str:
        return self.customer.name if self.customer_id else "Space"
