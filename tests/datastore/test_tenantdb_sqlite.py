"""fastn.db on SQLite (the embedded default): one file per (Space, customer) pair."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from apps.datastore.sqlguard import CheckedStatement
from apps.datastore.tenantdb import Tenant, TenantDbError, _sqlite_query, db_query


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
    return _sqlite_query(Tenant.of(*tenant), statement, [], timeout_ms=timeout_ms, max_rows=100)


def test_each_tenant_gets_its_own_file_under_var_dir(make_tenant, sqlite_backend):
    space_scope = make_tenant()
    with_customer = make_tenant(customer=True)
    q(space_scope, "CREATE TABLE t (x int)")
    q(with_customer, "CREATE TABLE t (x int)")

    files = sorted(p.name for p in Path(sqlite_backend, "tenantdb").glob("*.sqlite3"))

    assert files == sorted(
        [f"{space_scope[0]}_space.sqlite3", f"{with_customer[0]}_{with_customer[1]}.sqlite3"]
    )


def test_table_lifecycle_create_insert_select_update_delete_alter_index_drop(tenant):
    q(tenant, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    inserted = q(tenant, "INSERT INTO items (name) VALUES ($1), ($2) RETURNING id", ["a", "b"])
    assert inserted == {"rows": [{"id": 1}, {"id": 2}], "rowCount": 2}

    assert q(tenant, "UPDATE items SET name = $1 WHERE id = $2", ["A", 1])["rowCount"] == 1
    q(tenant, "ALTER TABLE items ADD COLUMN price REAL DEFAULT 0")
    q(tenant, "ALTER TABLE items RENAME TO things")
    q(tenant, "CREATE UNIQUE INDEX things_name ON things (name)")
    with pytest.raises(TenantDbError, match=r"UNIQUE constraint failed: things\.name"):
        q(tenant, "INSERT INTO things (name) VALUES ('A')")

    assert q(tenant, "SELECT id, name, price FROM things ORDER BY id;") == {
        "rows": [{"id": 1, "name": "A", "price": 0.0}, {"id": 2, "name": "b", "price": 0.0}],
        "rowCount": 2,
    }
    assert q(tenant, "DELETE FROM things WHERE id = $1", [2])["rowCount"] == 1
    q(tenant, "DROP INDEX things_name")
    q(tenant, "DROP TABLE things")
    with pytest.raises(TenantDbError, match="no such table: things"):
        q(tenant, "SELECT * FROM things")


def test_with_statements_and_joins_work(tenant):
    q(tenant, "CREATE TABLE a (id int, v text)")
    q(tenant, "CREATE TABLE b (id int, w text)")
    q(tenant, "INSERT INTO a VALUES (1, 'x'), (2, 'y')")
    q(tenant, "INSERT INTO b VALUES (1, 'z')")

    joined = q(tenant, "SELECT a.v, b.w FROM a JOIN b ON a.id = b.id WHERE a.id = $1", [1])
    counted = q(
        tenant,
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < $1) "
        "SELECT count(*) AS c FROM r",
        [5],
    )

    assert joined["rows"] == [{"v": "x", "w": "z"}]
    assert counted["rows"] == [{"c": 5}]


def test_placeholders_are_filled_and_a_literal_dollar_one_is_left_alone(tenant):
    result = q(tenant, "SELECT '$1' AS literal, $1 + 1 AS next, $2 AS name", [41, "it's $2"])

    assert result["rows"] == [{"literal": "$1", "next": 42, "name": "it's $2"}]


def test_values_come_back_json_safe(tenant):
    q(tenant, "CREATE TABLE t (b BLOB, j TEXT, n NUMERIC)")
    q(tenant, "INSERT INTO t VALUES (x'deadbeef', $1, 9007199254740993)", [{"a": [1]}])

    assert q(tenant, "SELECT b, j, n, json_extract(j, '$.a[0]') AS first FROM t")["rows"] == [
        {"b": "3q2+7w==", "j": '{"a": [1]}', "n": "9007199254740993", "first": 1}
    ]


def test_two_tenants_with_the_same_table_name_are_isolated(make_tenant):
    first, second = make_tenant(), make_tenant()
    for tenant, name in ((first, "first"), (second, "second")):
        q(tenant, "CREATE TABLE items (name text)")
        q(tenant, "INSERT INTO items VALUES ($1)", [name])

    assert q(first, "SELECT name FROM items")["rows"] == [{"name": "first"}]
    assert q(second, "SELECT name FROM items")["rows"] == [{"name": "second"}]


def test_the_space_and_its_customers_are_isolated(make_tenant):
    space_id = uuid.uuid4()
    space_scope = make_tenant(space_id=space_id)
    customer_a = make_tenant(space_id=space_id, customer=True)
    customer_b = make_tenant(space_id=space_id, customer=True)
    q(space_scope, "CREATE TABLE items (name text)")
    q(space_scope, "INSERT INTO items VALUES ('space')")
    q(customer_a, "CREATE TABLE items (name text)")

    assert q(customer_a, "SELECT * FROM items")["rows"] == []
    with pytest.raises(TenantDbError, match="no such table: items"):
        q(customer_b, "SELECT * FROM items")
    assert q(space_scope, "SELECT * FROM items")["rows"] == [{"name": "space"}]


def test_results_over_max_rows_are_refused_and_nothing_is_written(tenant):
    q(tenant, "CREATE TABLE n (i int)")

    with pytest.raises(TenantDbError, match="The query returned more than 3 rows"):
        q(
            tenant,
            "INSERT INTO n SELECT value FROM json_each('[1,2,3,4,5]') RETURNING i",
            max_rows=3,
        )

    assert q(tenant, "SELECT count(*) AS c FROM n")["rows"] == [{"c": 0}]


def test_a_failed_statement_rolls_back(tenant):
    q(tenant, "CREATE TABLE t (i int PRIMARY KEY)")
    q(tenant, "INSERT INTO t VALUES (1)")

    with pytest.raises(TenantDbError, match="UNIQUE constraint failed"):
        q(tenant, "INSERT INTO t VALUES (2), (1)")

    assert q(tenant, "SELECT i FROM t")["rows"] == [{"i": 1}]


def test_syntax_errors_carry_the_engine_message(tenant):
    with pytest.raises(TenantDbError) as caught:
        q(tenant, "SELECT * FROM WHERE x = 1")

    assert caught.value.message == 'near "WHERE": syntax error'


def test_a_runaway_query_hits_the_timeout(tenant):
    started = time.monotonic()

    with pytest.raises(TenantDbError) as caught:
        q(
            tenant,
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
            "SELECT count(*) FROM r",
            timeout_ms=300,
        )

    assert caught.value.message == "Query exceeded the 0.3s statement timeout."
    assert time.monotonic() - started < 3


HOSTILE = [
    ("ATTACH DATABASE '/tmp/evil.db' AS evil", "ATTACH isn't allowed"),
    ("DETACH DATABASE main", "DETACH isn't allowed"),
    ("PRAGMA writable_schema = 1", "PRAGMA isn't allowed"),
    ("PRAGMA table_info(items)", "PRAGMA isn't allowed"),
    ("SELECT * FROM pragma_table_info('items')", "The function pragma_table_info() isn't allowed"),
    ("SELECT load_extension('/tmp/evil.so')", "The function load_extension() isn't allowed"),
    ("SELECT readfile('/etc/passwd')", "The function readfile() isn't allowed"),
    ("SELECT writefile('/tmp/evil', 'x')", "The function writefile() isn't allowed"),
    ("SELECT edit('x')", "The function edit() isn't allowed"),
    ("SELECT fts3_tokenizer('simple')", "The function fts3_tokenizer() isn't allowed"),
    ("SELECT * FROM sqlite_master", "sqlite_master isn't reachable"),
    ("SELECT * FROM sqlite_schema", "sqlite_schema isn't reachable"),
    ("SELECT * FROM 'sqlite_master'", "sqlite_master isn't reachable"),
    ("SELECT * FROM [sqlite_temp_master]", "sqlite_temp_master isn't reachable"),
    ("SELECT * FROM main.items", "Qualified name main.items isn't allowed"),
    ('SELECT * FROM "main"."items"', "Qualified name main.items isn't allowed"),
    ("SELECT * FROM temp.items", "Qualified name temp.items isn't allowed"),
    ("CREATE TABLE main.evil (x)", "Qualified name main.evil isn't allowed"),
    ("SELECT 1; DROP TABLE items", "fastn.db runs one statement per query"),
    ("SELECT 1 -- \n; DROP TABLE items", "fastn.db runs one statement per query"),
    ("VACUUM INTO '/tmp/evil.db'", "VACUUM isn't allowed"),
    ("VACUUM", "VACUUM isn't allowed"),
    ("BEGIN", "BEGIN isn't allowed in fastn.db"),
    ("BEGIN IMMEDIATE", "BEGIN isn't allowed in fastn.db"),
    ("COMMIT", "COMMIT isn't allowed in fastn.db"),
    ("END", "END isn't allowed in fastn.db"),
    ("SAVEPOINT a", "SAVEPOINT isn't allowed in fastn.db"),
    ("RELEASE a", "RELEASE isn't allowed in fastn.db"),
    ("CREATE TEMP TABLE evil (x)", "Temporary tables aren't allowed"),
    ("CREATE TRIGGER t AFTER INSERT ON items BEGIN SELECT 1; END", "one statement per query"),
    ("CREATE VIEW v AS SELECT 1", "CREATE VIEW isn't allowed"),
    ("CREATE VIRTUAL TABLE v USING fts5(x)", "CREATE VIRTUAL isn't allowed"),
    ("REINDEX", "REINDEX isn't allowed"),
    ("SELECT ?", "fastn.db takes $1, $2, … placeholders"),
    ("SELECT :name", "fastn.db takes $1, $2, … placeholders"),
    ("SELECT $name", "named placeholders aren't supported"),
    ("SELECT 1 INTO OUTFILE '/tmp/evil'", "INTO OUTFILE isn't allowed"),
]


@pytest.mark.parametrize(("sql", "message"), HOSTILE, ids=[s for s, _ in HOSTILE])
def test_hostile_statements_are_refused_with_a_clear_message(tenant, sql, message):
    q(tenant, "CREATE TABLE IF NOT EXISTS items (id int)")

    with pytest.raises(TenantDbError) as caught:
        q(tenant, sql)

    assert message in caught.value.message


def test_the_hostile_list_is_long_enough():
    assert len(HOSTILE) >= 20


def test_the_tables_survive_the_hostile_statements(tenant):
    q(tenant, "CREATE TABLE items (id int)")
    q(tenant, "INSERT INTO items VALUES (1)")
    for sql, _ in HOSTILE:
        with pytest.raises(TenantDbError):
            q(tenant, sql)

    assert q(tenant, "SELECT id FROM items")["rows"] == [{"id": 1}]


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
    from apps.datastore.tenantdb import _sqlite_open

    conn, authorizer = _sqlite_open(Tenant.of(*tenant), 1000)
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
    from apps.datastore.tenantdb import tenantdb_drop

    pair = make_tenant()
    q(pair, "CREATE TABLE t (x int)")
    path = Path(sqlite_backend, "tenantdb", Tenant.of(*pair).filename)
    assert path.exists()

    tenantdb_drop(*pair)

    assert not path.exists()
