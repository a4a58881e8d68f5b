"""fastn.db on SQLite (the embedded default): one file per (Space, customer) pair.

What both engines do alike is tested once for each in test_tenantdb.py; here is what only
SQLite has: its files, its types, and the connection's own guards below the statement policy."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from apps.datastore.sqlguard import CheckedStatement
from apps.datastore.tenantdb import Tenant, TenantDbError, db_query, sqlite, tenantdb_drop


@pytest.fixture(autouse=True)
def sqlite_backend(settings, tmp_path):
    """Autouse, so it is set up before (and torn down after) `make_tenant`'s cleanup."""
    settings.FASTN_TENANTDB_BACKEND = "sqlite"
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


def q(tenant, sql, params=None, **kwargs):
    return db_query(*tenant, sql, params, **kwargs)


def raw(tenant, sql, *, timeout_ms=2000):
    """Run SQL with the statement policy bypassed: what the connection's own guards allow."""
    statement = CheckedStatement(sql=sql, kind="select", param_count=0, returns_rows=True)
    return sqlite.query(Tenant.of(*tenant), statement, [], timeout_ms=timeout_ms, max_rows=100)


def test_each_tenant_gets_its_own_file_under_var_dir(make_tenant, sqlite_backend):
    space_scope = make_tenant()
    with_customer = make_tenant(customer=True)
    q(space_scope, "CREATE TABLE t (x int)")
    q(with_customer, "CREATE TABLE t (x int)")

    files = sorted(p.name for p in Path(sqlite_backend, "tenantdb").glob("*.sqlite3"))

    assert files == sorted(
        [f"{space_scope[0]}_space.sqlite3", f"{with_customer[0]}_{with_customer[1]}.sqlite3"]
    )


def test_values_come_back_json_safe(tenant):
    q(tenant, "CREATE TABLE t (b BLOB, j TEXT, n NUMERIC)")
    q(tenant, "INSERT INTO t VALUES (x'deadbeef', $1, 9007199254740993)", [{"a": [1]}])

    assert q(tenant, "SELECT b, j, n, json_extract(j, '$.a[0]') AS first FROM t")["rows"] == [
        {"b": "3q2+7w==", "j": '{"a": [1]}', "n": "9007199254740993", "first": 1}
    ]


# --- The guards below the statement policy ----------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("ATTACH DATABASE '{tmp}/evil.db' AS evil", "ATTACH isn't allowed in fastn.db."),
        ("VACUUM INTO '{tmp}/evil.db'", "cannot VACUUM from within a transaction"),
        ("PRAGMA writable_schema = 1", "PRAGMA isn't allowed in fastn.db."),
        ("PRAGMA table_info(items)", "PRAGMA isn't allowed in fastn.db."),
        ("SELECT * FROM pragma_table_info('items')", "PRAGMA isn't allowed in fastn.db."),
        ("SELECT load_extension('{tmp}/evil.so')", "the function load_extension() isn't allowed"),
        ("BEGIN", "BEGIN/COMMIT/ROLLBACK isn't allowed in fastn.db."),
        ("COMMIT", "BEGIN/COMMIT/ROLLBACK isn't allowed in fastn.db."),
        ("SAVEPOINT a", "SAVEPOINT isn't allowed in fastn.db."),
        ("CREATE TEMP TABLE evil (x)", "CREATE TEMP TABLE isn't allowed in fastn.db."),
        ("CREATE VIEW v AS SELECT 1", "CREATE VIEW isn't allowed in fastn.db."),
        (
            "CREATE TRIGGER t AFTER INSERT ON items BEGIN DELETE FROM items; END",
            "CREATE TRIGGER isn't allowed in fastn.db.",
        ),
        ("SELECT 1; DROP TABLE items", "You can only execute one statement at a time."),
    ],
)
def test_the_connection_itself_refuses_escapes_without_the_policy(
    tenant, sqlite_backend, sql, message
):
    q(tenant, "CREATE TABLE items (id int)")

    with pytest.raises(TenantDbError) as caught:
        raw(tenant, sql.format(tmp=sqlite_backend))

    assert message in caught.value.message
    assert not Path(sqlite_backend, "evil.db").exists()
    assert q(tenant, "SELECT count(*) AS n FROM items")["rows"] == [{"n": 0}]


@pytest.mark.parametrize(
    "sql", ["ATTACH DATABASE '{tmp}/evil.db' AS evil", "VACUUM INTO '{tmp}/evil.db'"]
)
def test_attach_and_vacuum_into_fail_even_outside_a_transaction(tenant, sqlite_backend, sql):
    conn, authorizer = sqlite.connect(Tenant.of(*tenant), 1000)
    try:
        with pytest.raises(sqlite3.DatabaseError, match=r"not authorized|authorization denied"):
            conn.execute(sql.format(tmp=sqlite_backend))
        assert authorizer.denied == "ATTACH"
        # Without the authorizer the connection still allows no attached database at all.
        conn.set_authorizer(None)
        with pytest.raises(sqlite3.OperationalError, match="too many attached databases - max 0"):
            conn.execute(sql.format(tmp=sqlite_backend))
    finally:
        conn.close()
    assert not Path(sqlite_backend, "evil.db").exists()


def test_the_file_holds_only_the_tenants_own_tables(tenant, sqlite_backend):
    q(tenant, "CREATE TABLE mine (x int)")

    listed = raw(tenant, "SELECT name FROM sqlite_master WHERE type = 'table'")

    # Reading its own catalogue is harmless below the policy: nothing else is in the file.
    assert listed["rows"] == [{"name": "mine"}]


def test_dropping_a_tenant_deletes_its_file(make_tenant, sqlite_backend):
    pair = make_tenant()
    q(pair, "CREATE TABLE t (x int)")
    path = Path(sqlite_backend, "tenantdb", Tenant.of(*pair).filename)
    assert path.exists()

    tenantdb_drop(*pair)

    assert not path.exists()
