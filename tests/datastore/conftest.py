from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from apps.datastore.tenantdb import tenantdb_close_connections, tenantdb_drop

TenantFactory = Callable[..., tuple[uuid.UUID, uuid.UUID | None]]


@pytest.fixture(scope="session", autouse=True)
def _close_tenant_sessions(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Tenant sessions are separate connections to the test database: close them before
    pytest-django drops it ("database is being accessed by other users")."""
    yield
    tenantdb_close_connections()


@pytest.fixture
def space(db):
    from apps.spaces.models import Space

    return Space.objects.create(name="Acme", slug=f"acme-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def customer(space):
    from apps.spaces.models import Customer

    return Customer.objects.create(space=space, name="Initech", external_id="initech")


@pytest.fixture
def make_tenant(db) -> Iterator[TenantFactory]:
    """New (space_id, customer_id) pairs whose tenant databases are dropped afterwards, so no
    schema, role or file outlives the test (roles are global to the PostgreSQL cluster)."""
    created: list[tuple[uuid.UUID, uuid.UUID | None]] = []

    def make(
        *, space_id: uuid.UUID | None = None, customer: bool = False
    ) -> tuple[uuid.UUID, uuid.UUID | None]:
        pair = (space_id or uuid.uuid4(), uuid.uuid4() if customer else None)
        created.append(pair)
        return pair

    yield make
    for space_id, customer_id in created:
        tenantdb_drop(space_id, customer_id)
