"""Durable `fastn.state` entries. The `fastn.db` tenant databases live outside Django's models:
one PostgreSQL schema + role (or one SQLite file) per (Space, customer); see tenantdb/."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.spaces.models import Customer, Space


class StateScopeKind(models.TextChoices):
    # Shared by every run of one workflow within its Space and customer.
    ORG = "ORG", "Org"
    # One run only; cleared when the run ends.
    INVOCATION = "INVOCATION", "Invocation"


class StateEntry(models.Model):
    """One key of `fastn.state`, scoped by Space, customer, workflow and (for INVOCATION) run.

    `customer_key` repeats the customer's id as text ("" for the Space's own scope) because the
    unique key must be NOT NULL on both engines: with a nullable column, PostgreSQL treats two
    NULLs as distinct and `INSERT … ON CONFLICT` would add a second row instead of updating. The
    `customer` foreign key stays for integrity and so deleting a customer deletes its state.
    """

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    customer_key = models.CharField(max_length=36, blank=True, default="")
    # The workflow's UUID as text, or "" for ad-hoc runs (Test tab without a saved workflow).
    workflow_key = models.CharField(max_length=64, blank=True, default="")
    scope = models.CharField(max_length=10, choices=StateScopeKind.choices)
    # The execution id for INVOCATION entries, "" for ORG ones.
    invocation_id = models.CharField(max_length=64, blank=True, default="")
    key = models.CharField(max_length=256)
    value = models.JSONField()
    expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space", "customer_key", "workflow_key", "scope", "invocation_id", "key"],
                name="state_entry_unique_key",
            ),
            models.CheckConstraint(
                condition=Q(customer__isnull=True, customer_key="")
                | (Q(customer__isnull=False) & ~Q(customer_key="")),
                name="state_entry_customer_key_matches",
            ),
            models.CheckConstraint(
                condition=Q(scope=StateScopeKind.ORG, invocation_id="")
                | (Q(scope=StateScopeKind.INVOCATION) & ~Q(invocation_id="")),
                name="state_entry_invocation_matches_scope",
            ),
        ]
        indexes = [
            # The purge task scans only entries that can expire.
            models.Index(
                fields=["expires_at"],
                name="state_entry_expiry",
                condition=Q(expires_at__isnull=False),
            ),
            # Clearing a run's INVOCATION entries when it ends.
            models.Index(
                fields=["space", "invocation_id"],
                name="state_entry_invocation",
                condition=~Q(invocation_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
