"""Deleting a customer or a Space deletes its fastn.db file on SQLite (the embedded default),
after commit, with its state entries and secrets; other customers' and Spaces' files stay."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from apps.datastore.models import StateEntry
from apps.datastore.tenantdb import db_query
from apps.secrets.models import Secret
from apps.spaces import services
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent, Customer, Outcome


@pytest.fixture(autouse=True)
def sqlite_backend(settings, tmp_path):
    """Autouse, so it is in place before `estate` creates the files (and after its cleanup)."""
    settings.FASTN_TENANTDB_BACKEND = "sqlite"
    settings.VAR_DIR = tmp_path
    return tmp_path / "tenantdb"


def files(directory: Path) -> set[str]:
    return {path.name for path in directory.iterdir()}


def db_file(space, customer) -> str:
    return f"{space.id}_{customer.id if customer else 'space'}.sqlite3"


def test_deleting_a_customer_removes_its_file_state_and_secrets(
    estate, cast, sqlite_backend, django_capture_on_commit_callbacks
):
    ada = db_file(estate.space, estate.ada)
    before = files(sqlite_backend)
    assert ada in before

    with django_capture_on_commit_callbacks(execute=True):
        services.customer_delete(estate.ada, actor=Actor.for_user(cast.owner))

    # The file and any -wal / -shm beside it.
    assert files(sqlite_backend) == {name for name in before if not name.startswith(ada)}
    assert not StateEntry.objects.filter(customer_key=str(estate.ada.id)).exists()
    assert Secret.objects.count() == 4
    rows = db_query(estate.space.id, estate.bob.id, "SELECT x FROM items")["rows"]
    assert rows == [{"x": 1}]
    dropped = AuditEvent.objects.get(space=cast.space, action="tenantdb.drop")
    assert dropped.outcome == Outcome.SUCCESS


def test_deleting_a_space_removes_all_its_files_and_only_its_own(
    estate, cast, sqlite_backend, django_capture_on_commit_callbacks
):
    space_id = cast.space.id
    # A file left by a customer whose drop failed earlier goes too.
    (sqlite_backend / f"{space_id}_0b9f1b7e-0000-4000-8000-000000000000.sqlite3").write_bytes(b"")

    with django_capture_on_commit_callbacks(execute=True):
        services.space_delete(cast.space, actor=Actor.system("test"))

    assert not [name for name in files(sqlite_backend) if name.startswith(str(space_id))]
    assert files(sqlite_backend) >= {db_file(estate.other, None), db_file(estate.other, estate.cy)}
    assert not StateEntry.objects.filter(space_id=space_id).exists()
    assert not Secret.objects.filter(space_id=space_id).exists()
    assert AuditEvent.objects.get(space_id=space_id, action="tenantdb.drop").outcome == "success"


def test_a_drop_that_fails_after_commit_is_audited_and_the_deletion_stands(
    client, estate, cast, sqlite_backend, django_capture_on_commit_callbacks, caplog
):
    # Something the drop cannot remove: a directory where the journal file would be.
    blocker = sqlite_backend / f"{db_file(estate.space, estate.ada)}-journal"
    blocker.mkdir()
    client.force_login(cast.owner)
    url = reverse("customer_delete", args=[cast.space.slug, estate.ada.id])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)

    assert response.status_code == 302
    assert not Customer.objects.filter(pk=estate.ada.pk).exists()
    dropped = AuditEvent.objects.get(space=cast.space, action="tenantdb.drop")
    assert dropped.outcome == Outcome.FAILURE
    assert "Is a directory" in dropped.detail["error"]
    assert dropped.detail["customer_ids"] == [str(estate.ada.id)]
    errors = [r for r in caplog.records if r.name == "apps.datastore.lifecycle"]
    assert len(errors) == 1
    assert errors[0].exc_info is None
    blocker.rmdir()
