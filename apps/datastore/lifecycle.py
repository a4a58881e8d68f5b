"""Deleting a customer or a Space deletes what the datastore keeps for it.

Connected to `apps.spaces.signals.customer_deleting` / `space_deleting` (the datastore depends
on spaces, not the reverse). Inside the deleting transaction, the `fastn.state` entries go with
the rows they belong to. The `fastn.db` databases — PostgreSQL schemas and login roles, or SQLite
files — live outside that transaction and cannot be rolled back, so they are dropped only once
it has committed, and that drop writes its own audit row: Success, or Failure with the reason
(the rest of the deletion stands; dropping again is safe, see `tenantdb_drop`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from functools import partial

import psycopg
from django.db import transaction
from django.dispatch import receiver

from apps.datastore.errors import TenantDbError
from apps.datastore.models import StateEntry
from apps.datastore.tenantdb import tenantdb_drop, tenantdb_drop_space
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Customer, Outcome, Space
from apps.spaces.signals import customer_deleting, space_deleting

logger = logging.getLogger(__name__)


@receiver(customer_deleting, dispatch_uid="datastore.customer_deleting")
def customer_datastore_delete(sender, *, customer: Customer, actor: Actor, **kwargs) -> dict:
    state_entries, _ = StateEntry.objects.filter(customer=customer).delete()
    transaction.on_commit(
        partial(
            database_drop_audited,
            partial(tenantdb_drop, customer.space_id, customer.id),
            space_id=customer.space_id,
            customer_ids=[customer.id],
            label=f"fastn.db of customer {customer.name}",
            actor=actor,
        ),
        robust=True,
    )
    return {"state_entries": state_entries, "database": "dropped after commit"}


@receiver(space_deleting, dispatch_uid="datastore.space_deleting")
def space_datastore_delete(
    sender, *, space: Space, customer_ids: Sequence[uuid.UUID], actor: Actor, **kwargs
) -> dict:
    state_entries, _ = StateEntry.objects.filter(space=space).delete()
    transaction.on_commit(
        partial(
            database_drop_audited,
            partial(tenantdb_drop_space, space.id, list(customer_ids)),
            space_id=space.id,
            customer_ids=[None, *customer_ids],
            label=f"fastn.db of Space {space.name} and its customers",
            actor=actor,
        ),
        robust=True,
    )
    return {"state_entries": state_entries, "databases": 1 + len(customer_ids)}


def database_drop_audited(
    drop: Callable[[], None],
    *,
    space_id: uuid.UUID,
    customer_ids: Sequence[uuid.UUID | None],
    label: str,
    actor: Actor,
) -> None:
    """Run a drop after commit and audit its outcome. A failure (the database server down) is
    logged in one line and audited as Failure with the ids needed to drop by hand."""
    detail = {"customer_ids": [str(c) if c else None for c in customer_ids]}
    try:
        drop()
    except (TenantDbError, psycopg.Error, OSError) as exc:
        logger.error("Could not drop %s (space %s): %s", label, space_id, exc)
        outcome, detail["error"] = Outcome.FAILURE, str(exc)[:500]
    else:
        outcome = Outcome.SUCCESS
    audit_record(
        # The Space may be gone: the audit log keeps its id (no foreign-key constraint).
        space=Space(id=space_id),
        actor=actor,
        action="tenantdb.drop",
        resource_label=label,
        outcome=outcome,
        detail=detail,
    )
