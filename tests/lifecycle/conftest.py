from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from apps.datastore.state import StateScope, state_set
from apps.datastore.tenantdb import Tenant, db_query, tenantdb_close_connections, tenantdb_drop
from apps.secrets.services import secret_create
from apps.spaces.audit import Actor
from apps.spaces.models import Customer, Space


@dataclass
class Estate:
    """Data kept for two Spaces: `space` (its own scope and customers `ada` and `bob`) and
    `other` (its own scope and customer `cy`). Each scope has a state entry, a secret and a
    fastn.db table."""

    space: Space
    ada: Customer
    bob: Customer
    other: Space
    cy: Customer
    tenants: list[Tenant] = field(default_factory=list)

    def tenant(self, space: Space, customer: Customer | None) -> Tenant:
        return Tenant.of(space.id, customer.id if customer else None)


def fill(estate: Estate, actor: Actor) -> None:
    for space, customer in estate_scopes(estate):
        scope = StateScope(space.id, customer.id if customer else None, "wf")
        state_set(scope, "cursor", {"page": 2})
        secret_create(
            space, name="API_TOKEN", type="text", value="s3cr3t-value", customer=customer,
            actor=actor,
        )  # fmt: skip
        db_query(space.id, customer.id if customer else None, "CREATE TABLE items (x int)")
        db_query(space.id, customer.id if customer else None, "INSERT INTO items VALUES (1)")
        estate.tenants.append(estate.tenant(space, customer))


def estate_scopes(estate: Estate) -> list[tuple[Space, Customer | None]]:
    return [
        (estate.space, None),
        (estate.space, estate.ada),
        (estate.space, estate.bob),
        (estate.other, None),
        (estate.other, estate.cy),
    ]


@pytest.fixture
def estate(cast) -> Iterator[Estate]:
    actor = Actor.for_user(cast.owner)
    make = Customer.objects.create
    estate = Estate(
        space=cast.space,
        ada=make(space=cast.space, name="Ada Ltd", external_id="ada"),
        bob=make(space=cast.space, name="Bob Inc", external_id="bob"),
        other=cast.other_space,
        cy=make(space=cast.other_space, name="Cy Co", external_id="cy"),
    )
    fill(estate, actor)
    yield estate
    # Tenant databases live outside the test's transaction: drop what a test left.
    tenantdb_close_connections()
    for tenant in estate.tenants:
        tenantdb_drop(tenant.space_id, tenant.customer_id)
