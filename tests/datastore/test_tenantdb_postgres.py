"""fastn.db on PostgreSQL: each (Space, customer) pair gets a schema and a login role.

What both engines do alike is tested once for each in test_tenantdb.py; here is what only
PostgreSQL has: its types, data-modifying WITH, and the boundary below the statement policy
(the tenant's role), provisioning and dropping."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from apps.datastore.sqlguard import CheckedStatement
from apps.datastore.tenantdb import (
    Tenant,
    TenantDbError,
    db_query,
    postgres,
    tenantdb_close_connections,
    tenantdb_drop,
)

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs the PostgreSQL test database"
)


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


def q(tenant, sql, params=None, **kwargs):
    return db_query(*tenant, sql, params, **kwargs)


def raw(tenant, sql, *, returns_rows=True, timeout_ms=2000):
    """Run SQL as the tenant with the statement policy bypassed: what PostgreSQL itself allows."""
    statement = CheckedStatement(sql=sql, kind="select", param_count=0, returns_rows=returns_rows)
    return postgres.query(Tenant.of(*tenant), statement, [], timeout_ms=timeout_ms, max_rows=100)


def test_a_with_statement_may_move_rows_between_tables(tenant):
    q(tenant, "CREATE TABLE a (id int, v text)")
    q(tenant, "CREATE TABLE b (id int, w text)")
    q(tenant, "INSERT INTO a VALUES (1, 'x'), (2, 'y')")
    q(tenant, "INSERT INTO b VALUES (1, 'z')")

    moved = q(
        tenant,
        "WITH gone AS (DELETE FROM a WHERE id = $1 RETURNING id, v) "
        "INSERT INTO b SELECT g.id, g.v FROM gone g",
        [2],
    )

    assert moved == {"rows": [], "rowCount": 1}
    assert q(tenant, "SELECT count(*) AS n FROM b")["rows"] == [{"n": 2}]
    assert q(tenant, "SELECT id FROM a")["rows"] == [{"id": 1}]


def test_placeholder_types_are_inferred_from_context_like_node_postgres(tenant):
    q(tenant, "CREATE TABLE t (id int, flag boolean, data jsonb, price numeric)")
    q(
        tenant,
        "INSERT INTO t VALUES ($1, $2, $3, $4)",
        ["7", True, {"k": [1, 2]}, 1.5],
    )

    assert q(tenant, "SELECT id FROM t WHERE id = $1", [7])["rows"] == [{"id": 7}]
    assert q(tenant, "SELECT id FROM t WHERE id = $1", ["7"])["rows"] == [{"id": 7}]
    assert q(tenant, "SELECT flag, data, price FROM t WHERE data @> $1", [{"k": [2]}])["rows"] == [
        {"flag": True, "data": {"k": [1, 2]}, "price": 1.5}
    ]
    assert q(tenant, "SELECT $1::text IS NULL AS missing", [None])["rows"] == [{"missing": True}]


def test_values_come_back_json_safe(tenant):
    row = q(
        tenant,
        "SELECT 0.1::numeric AS decimal, 12345678901234567890::numeric AS huge, "
        "9007199254740993::bigint AS bigint, 'NaN'::numeric AS nan, "
        "'2026-03-01 12:00:00+00'::timestamptz AS at, '2026-03-01'::date AS day, "
        "'\\xdeadbeef'::bytea AS blob, '6f1c1c52-5c0e-4bd8-9d0f-7e8c9a2c3b11'::uuid AS id, "
        "interval '90 seconds' AS span, ARRAY[1, 2] AS list, '{\"a\": 1}'::json AS doc",
    )["rows"][0]

    assert row == {
        "decimal": 0.1,
        "huge": "12345678901234567890",
        "bigint": "9007199254740993",
        "nan": "NaN",
        "at": "2026-03-01T12:00:00+00:00",
        "day": "2026-03-01",
        "blob": "3q2+7w==",
        "id": "6f1c1c52-5c0e-4bd8-9d0f-7e8c9a2c3b11",
        "span": 90.0,
        "list": [1, 2],
        "doc": {"a": 1},
    }


def test_internal_names_are_redacted_from_messages(tenant):
    name = Tenant.of(*tenant).name

    with pytest.raises(TenantDbError) as caught:
        raw(tenant, f"SELECT * FROM {name}.nope")

    assert name not in caught.value.message
    assert "your database" in caught.value.message


@pytest.mark.slow
def test_the_default_timeout_message_says_5s(tenant):
    with pytest.raises(TenantDbError) as caught:
        q(tenant, "SELECT pg_sleep(6)")
    assert caught.value.message == "Query exceeded the 5s statement timeout."


# --- The boundary below the statement policy --------------------------------------------


def test_postgres_refuses_the_consoles_tables_even_without_the_policy(tenant):
    with pytest.raises(TenantDbError, match="permission denied for table spaces_space"):
        raw(tenant, "SELECT * FROM public.spaces_space")
    with pytest.raises(TenantDbError, match="permission denied for table datastore_stateentry"):
        raw(tenant, "DELETE FROM public.datastore_stateentry", returns_rows=False)


def test_postgres_refuses_creating_in_public_or_temporary_tables_without_the_policy(tenant):
    with pytest.raises(TenantDbError, match="permission denied for schema public"):
        raw(tenant, "CREATE TABLE public.evil (x int)", returns_rows=False)
    with pytest.raises(TenantDbError, match="permission denied to create temporary tables"):
        raw(tenant, "CREATE TEMP TABLE evil (x int)", returns_rows=False)


def test_postgres_refuses_another_tenants_schema_without_the_policy(make_tenant):
    victim, attacker = make_tenant(), make_tenant()
    q(victim, "CREATE TABLE items (secret text)")
    q(victim, "INSERT INTO items VALUES ('s3cret')")

    with pytest.raises(TenantDbError, match="permission denied for schema your database"):
        raw(attacker, f"SELECT * FROM {Tenant.of(*victim).name}.items")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (
            "SELECT set_config('role', 'postgres', false)",
            'permission denied to set role "postgres"',
        ),
        ("SET ROLE postgres", 'permission denied to set role "postgres"'),
        ("SET SESSION AUTHORIZATION postgres", "permission denied to set session authorization"),
        (
            "SELECT query_to_xml('select set_config(''role'', ''postgres'', true)', "
            "true, true, ''), query_to_xml('select * from public.spaces_space', true, true, '')",
            'permission denied to set role "postgres"',
        ),
        (
            "DO $$ BEGIN EXECUTE 'RESET ROLE'; PERFORM 1 FROM public.spaces_space; END $$",
            "permission denied for table spaces_space",
        ),
        ("SELECT pg_read_file('/etc/passwd')", "permission denied for function pg_read_file"),
        ("SELECT current_setting('data_directory')", "must be superuser or have privileges"),
        ("COPY (SELECT 1) TO '/tmp/fastn-evil'", "must be superuser or have privileges"),
        ("COPY (SELECT 1) TO PROGRAM 'id'", "must be superuser or have privileges"),
        ("SELECT * FROM pg_authid", "permission denied for table pg_authid"),
        ("CREATE EXTENSION IF NOT EXISTS pgcrypto", "permission denied to create extension"),
        ("CREATE SCHEMA evil", "permission denied for database"),
        ("ALTER ROLE postgres PASSWORD 'x'", "must be superuser to alter superuser roles"),
        ("SELECT 1; SELECT 2", "cannot insert multiple commands into a prepared statement"),
    ],
)
def test_postgres_itself_refuses_escapes_without_the_policy(tenant, sql, message):
    with pytest.raises(TenantDbError) as caught:
        raw(tenant, sql, returns_rows=sql.startswith("SELECT") and ";" not in sql)

    assert message in caught.value.message


@pytest.mark.parametrize("returns_rows", [True, False], ids=["streamed", "pipelined"])
def test_postgres_itself_refuses_a_second_statement_on_both_paths(tenant, returns_rows):
    q(tenant, "CREATE TABLE items (id int)")

    with pytest.raises(TenantDbError, match="cannot insert multiple commands"):
        raw(tenant, "SELECT 1; DROP TABLE items", returns_rows=returns_rows)

    assert q(tenant, "SELECT count(*) AS n FROM items")["rows"] == [{"n": 0}]


@pytest.mark.parametrize("returns_rows", [True, False], ids=["streamed", "pipelined"])
def test_copy_to_stdout_fails_cleanly_and_the_next_query_works(tenant, returns_rows):
    with pytest.raises(TenantDbError):
        raw(tenant, "COPY (SELECT 1) TO STDOUT", returns_rows=returns_rows)

    assert q(tenant, "SELECT 1 AS ok")["rows"] == [{"ok": 1}]


def test_the_session_stays_the_tenant_after_escape_attempts(tenant):
    for sql in ("RESET ROLE", "RESET SESSION AUTHORIZATION", "RESET ALL"):
        raw(tenant, sql, returns_rows=False)

    row = raw(tenant, "SELECT current_user AS cur, session_user AS ses")["rows"][0]

    assert row == {"cur": Tenant.of(*tenant).name, "ses": Tenant.of(*tenant).name}


def test_the_tenant_role_has_no_privilege_on_any_console_object(tenant):
    q(tenant, "SELECT 1")  # provisions the role
    role = Tenant.of(*tenant).name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.relkind FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND ("
            "  (c.relkind IN ('r', 'v', 'm', 'p', 'f') AND has_table_privilege(%s, c.oid, "
            "    'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'))"
            "  OR (c.relkind = 'S' AND "
            "      has_sequence_privilege(%s, c.oid, 'USAGE, SELECT, UPDATE')))",
            [role, role],
        )
        leaks = cursor.fetchall()
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
        console_tables = cursor.fetchone()[0]
        cursor.execute(
            "SELECT has_schema_privilege(%s, 'public', 'CREATE'), "
            "has_database_privilege(%s, current_database(), 'CREATE'), "
            "has_database_privilege(%s, current_database(), 'TEMPORARY'), "
            "r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls, r.rolinherit "
            "FROM pg_roles r WHERE r.rolname = %s",
            [role, role, role, role],
        )
        privileges = cursor.fetchone()

    assert console_tables > 10
    assert leaks == []
    assert privileges == (False, False, False, False, False, False, False, False)


def test_concurrent_queries_of_a_new_tenant_provision_once_and_all_succeed(make_tenant):
    from concurrent.futures import ThreadPoolExecutor

    tenant = make_tenant()
    postgres._provisioned.clear()

    def first_use(index: int) -> list:
        return q(tenant, "SELECT $1::int AS i", [index])["rows"]

    def insert(index: int) -> int:
        return q(tenant, "INSERT INTO hits VALUES ($1)", [index])["rowCount"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        first = list(pool.map(first_use, range(6)))
        q(tenant, "CREATE TABLE hits (i int)")
        inserted = list(pool.map(insert, range(30)))

    assert first == [[{"i": index}] for index in range(6)]
    assert inserted == [1] * 30
    assert q(tenant, "SELECT count(*) AS n FROM hits")["rows"] == [{"n": 30}]


def test_provisioning_is_idempotent(tenant):
    q(tenant, "CREATE TABLE kept (x int)")
    postgres._provisioned.clear()
    tenantdb_close_connections()

    q(tenant, "INSERT INTO kept VALUES (1)")

    assert q(tenant, "SELECT x FROM kept")["rows"] == [{"x": 1}]


def test_a_dead_pooled_session_is_replaced_transparently(tenant):
    q(tenant, "SELECT 1")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
            [Tenant.of(*tenant).name],
        )
    time.sleep(0.2)

    assert q(tenant, "SELECT 2 AS two")["rows"] == [{"two": 2}]
    tenantdb_close_connections()


def test_dropping_a_tenant_removes_its_schema_and_role(make_tenant):
    pair = make_tenant()
    q(pair, "CREATE TABLE t (x int)")
    name = Tenant.of(*pair).name

    tenantdb_drop(*pair)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", [name])
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [name])
        assert cursor.fetchone()[0] == 0
