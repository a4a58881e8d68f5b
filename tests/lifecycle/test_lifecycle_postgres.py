"""Deleting a customer or a Space deletes its data for good, on PostgreSQL: the fastn.db schema
and login role, the fastn.state entries and the secrets — after commit, audited — and nothing
of any other customer or Space."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from apps.datastore.models import StateEntry
from apps.datastore.tenantdb import db_query
from apps.environments.selectors import environment_by_slug
from apps.secrets.models import Secret
from apps.spaces import services
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent, Customer, Outcome, Space
from apps.workflows import services as workflow_services

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs the PostgreSQL test database"
)


def schema_and_role(tenant) -> tuple[bool, bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [tenant.name])
        schema = cursor.fetchone() is not None
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [tenant.name])
        role = cursor.fetchone() is not None
    return schema, role


def test_deleting_a_customer_drops_its_schema_role_state_and_secrets(
    estate, cast, django_capture_on_commit_callbacks
):
    ada = estate.tenant(estate.space, estate.ada)
    assert schema_and_role(ada) == (True, True)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.customer_delete(estate.ada, actor=Actor.for_user(cast.owner))
        # Nothing irreversible happens before the commit.
        assert schema_and_role(ada) == (True, True)
    assert len(callbacks) == 1

    assert schema_and_role(ada) == (False, False)
    assert not StateEntry.objects.filter(customer_key=str(ada.customer_id)).exists()
    assert not Secret.objects.filter(customer_id=ada.customer_id).exists()
    # Everyone else's data is untouched, and their databases still answer.
    for space, customer in [
        (estate.space, None),
        (estate.space, estate.bob),
        (estate.other, estate.cy),
    ]:
        assert schema_and_role(estate.tenant(space, customer)) == (True, True)
        rows = db_query(space.id, customer.id if customer else None, "SELECT x FROM items")
        assert rows["rows"] == [{"x": 1}]
    assert StateEntry.objects.count() == 4
    assert Secret.objects.count() == 4

    deleted = AuditEvent.objects.get(space=cast.space, action="customer.delete")
    assert deleted.detail == {
        "external_id": "ada",
        "secrets": ["API_TOKEN"],
        "state_entries": 1,
        "database": "dropped after commit",
    }
    dropped = AuditEvent.objects.get(space=cast.space, action="tenantdb.drop")
    assert dropped.outcome == Outcome.SUCCESS
    assert dropped.detail == {"customer_ids": [str(ada.customer_id)]}
    assert "s3cr3t-value" not in str(deleted.detail)


def test_a_rolled_back_deletion_keeps_the_database(
    estate, cast, django_capture_on_commit_callbacks
):
    ada = estate.tenant(estate.space, estate.ada)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.customer_delete(estate.ada, actor=Actor.for_user(cast.owner))
    # The callbacks were queued for a commit that (in this test) never comes.
    assert len(callbacks) == 1
    assert schema_and_role(ada) == (True, True)


def test_delete_customer_in_the_console_drops_its_database(
    client, estate, cast, django_capture_on_commit_callbacks
):
    client.force_login(cast.admin)
    url = reverse("customer_delete", args=[cast.space.slug, estate.bob.id])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302
    assert not Customer.objects.filter(pk=estate.bob.pk).exists()
    assert schema_and_role(estate.tenant(estate.space, estate.bob)) == (False, False)
    assert not Secret.objects.filter(customer_id=estate.bob.id).exists()
    assert AuditEvent.objects.filter(space=cast.space, action="tenantdb.drop").count() == 1


def test_deleting_a_space_drops_every_database_of_it_and_nothing_else(
    estate, cast, django_capture_on_commit_callbacks
):
    # A published, deployed workflow: deployments restrict deleting versions and environments
    # on their own, but not as part of the whole Space.
    actor = Actor.for_user(cast.owner)
    workflow = workflow_services.workflow_create(cast.space, name="Echo", actor=actor)
    version = workflow_services.workflow_publish(workflow, actor=actor)
    workflow_services.workflow_deploy(
        workflow, version=version, environment=environment_by_slug(cast.space, "live"), actor=actor
    )
    space_id = cast.space.id
    mine = [estate.tenant(estate.space, c) for c in (None, estate.ada, estate.bob)]

    with django_capture_on_commit_callbacks(execute=True):
        services.space_delete(cast.space, actor=Actor.system("test"))

    assert not Space.objects.filter(pk=space_id).exists()
    assert [schema_and_role(t) for t in mine] == [(False, False)] * 3
    assert not StateEntry.objects.filter(space_id=space_id).exists()
    assert not Secret.objects.filter(space_id=space_id).exists()
    for customer in (None, estate.cy):
        assert schema_and_role(estate.tenant(estate.other, customer)) == (True, True)
    assert StateEntry.objects.filter(space=estate.other).count() == 2
    assert Secret.objects.filter(space=estate.other).count() == 2

    deleted = AuditEvent.objects.get(space_id=space_id, action="space.delete")
    assert deleted.detail == {
        "slug": "acme",
        "customers": 2,
        "secrets": ["API_TOKEN", "API_TOKEN", "API_TOKEN"],
        "state_entries": 3,
        "databases": 3,
    }
    dropped = AuditEvent.objects.get(space_id=space_id, action="tenantdb.drop")
    assert dropped.outcome == Outcome.SUCCESS
    assert len(dropped.detail["customer_ids"]) == 3


def test_deletespace_command_needs_confirmation(estate, django_capture_on_commit_callbacks):
    slug = estate.space.slug
    with pytest.raises(CommandError, match="--yes"):
        call_command("deletespace", slug)
    assert Space.objects.filter(slug=slug).exists()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("deletespace", slug, "--yes")
    assert not Space.objects.filter(slug=slug).exists()
    assert schema_and_role(estate.tenant(estate.space, None)) == (False, False)
    with pytest.raises(CommandError, match="No Space"):
        call_command("deletespace", slug, "--yes")


def test_sessions_of_the_tenant_in_other_processes_do_not_block_the_drop(
    estate, cast, django_capture_on_commit_callbacks
):
    """A worker elsewhere holding the customer's tables (a run in flight) is disconnected, so
    the drop neither waits for it nor fails."""
    from apps.datastore.tenantdb.postgres import Server

    ada = estate.tenant(estate.space, estate.ada)
    busy = Server.current().connect_tenant(ada)
    busy.autocommit = False
    busy.execute(f"LOCK TABLE {ada.name}.items IN ACCESS EXCLUSIVE MODE")
    try:
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            services.customer_delete(estate.ada, actor=Actor.for_user(cast.owner))
        assert time.monotonic() - started < 5
        assert schema_and_role(ada) == (False, False)
        assert busy.closed or busy.broken or _is_gone(busy)
    finally:
        busy.close()


def _is_gone(conn) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False
