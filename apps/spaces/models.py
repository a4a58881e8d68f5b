"""Spaces: the unit of isolation. Memberships and roles, invitations, customers, API keys and
the append-only audit log all hang off a Space."""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    DEVELOPER = "developer", "Developer"
    OPERATOR = "operator", "Operator"
    VIEWER = "viewer", "Viewer"


class Capability(StrEnum):
    VIEW = "view"
    # Run, monitor, replay, cancel; manage connections; deploy to `test`.
    OPERATE = "operate"
    # Create and change workflows, connectors and triggers.
    BUILD = "build"
    DEPLOY_LIVE = "deploy_live"
    # People, API keys, environments, secrets, customers and Space settings.
    MANAGE_SPACE = "manage_space"
    TRANSFER_OWNERSHIP = "transfer_ownership"


ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.OWNER: frozenset(Capability),
    Role.ADMIN: frozenset(Capability) - {Capability.TRANSFER_OWNERSHIP},
    Role.DEVELOPER: frozenset(
        {Capability.VIEW, Capability.OPERATE, Capability.BUILD, Capability.DEPLOY_LIVE}
    ),
    Role.OPERATOR: frozenset({Capability.VIEW, Capability.OPERATE}),
    Role.VIEWER: frozenset({Capability.VIEW}),
}

ROLE_DESCRIPTIONS = {
    Role.OWNER: "Everything, including transferring ownership. One per Space.",
    Role.ADMIN: "Everything except transferring ownership.",
    Role.DEVELOPER: "Builds workflows, connectors and triggers. No people, keys or settings.",
    Role.OPERATOR: "Runs, monitors and replays; manages connections; deploys to test only.",
    Role.VIEWER: "Read-only.",
}


class Space(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=60, unique=True)
    # IANA zone: the default of schedules and of dates shown in Space settings.
    time_zone = models.CharField(max_length=64, default="UTC")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)
    last_active_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["space", "user"], name="membership_unique_user"),
            models.UniqueConstraint(
                fields=["space"], condition=Q(role="owner"), name="membership_one_owner"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.space} ({self.role})"

    def can(self, capability: Capability) -> bool:
        return capability in ROLE_CAPABILITIES[self.role]

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER


def default_invitation_expiry():
    return timezone.now() + timedelta(days=settings.FASTN_INVITATION_DAYS)


class Invitation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    # Only the hash is stored: the link is shown once to the inviter and mailed to the invitee.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=default_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.space}"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and not self.is_expired

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class Customer(models.Model):
    """An end customer (tenant) of the Space's owner: `x-fastn-space-tenantid` in the API."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="customers")
    name = models.CharField(max_length=120)
    external_id = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["space", "external_id"], name="customer_unique_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ApiKeyMode(models.TextChoices):
    TEST = "test", "Test"
    LIVE = "live", "Live"


class ApiKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=80)
    mode = models.CharField(max_length=8, choices=ApiKeyMode.choices)
    # SHA-256 of the full key. Keys carry 256 bits of randomness, so a fast hash is enough
    # and lets every API request look its key up by index.
    key_hash = models.CharField(max_length=64, unique=True)
    last4 = models.CharField(max_length=4)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked})"

    @property
    def prefix(self) -> str:
        return f"fsk_{self.mode}_"

    @property
    def masked(self) -> str:
        return f"{self.prefix}…{self.last4}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ActorType(models.TextChoices):
    USER = "user", "User"
    SERVICE_ACCOUNT = "service_account", "Service account"
    AGENT = "agent", "Agent"
    SYSTEM = "system", "System"


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    DENIED = "denied", "Denied"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The audit log is append-only: rows cannot be updated.")

    def delete(self):
        raise TypeError("The audit log is append-only: rows cannot be deleted.")


class AuditEvent(models.Model):
    """One row of the append-only audit log. See also the PostgreSQL trigger in the migrations."""

    space = models.ForeignKey(
        Space, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_type = models.CharField(max_length=20, choices=ActorType.choices)
    # Kept as a plain id + label: deleting a user must not rewrite history.
    actor_user_id = models.IntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=64)
    resource_type = models.CharField(max_length=40, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    resource_label = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["space", "-created_at", "-id"], name="audit_space_time"),
            models.Index(fields=["space", "action"], name="audit_space_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label} ({self.outcome})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("The audit log is append-only: rows cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The audit log is append-only: rows cannot be deleted.")
