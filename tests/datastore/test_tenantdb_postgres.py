"""fastn.db on PostgreSQL: each (Space, customer) pair gets a schema and a login role."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import connection

from apps.datastore.sqlguard import CheckedStatement
from apps.datastore.tenantdb import Tenant, TenantDbError, _pg_query, db_query

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
    return _pg_query(Tenant.of(*tenant), statement, [], timeout_ms=timeout_ms, max_rows=100)


def test_table_lifecycle_create_insert_select_update_delete_alter_index_drop(tenant):
    assert q(tenant, "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)") == {
        "rows": [],
        "rowCount": 0,
    }
    inserted = q(tenant, "INSERT INTO items (name) VALUES ($1), ($2) RETURNING id", ["a", "b"])
    assert inserted == {"rows": [{"id": 1}, {"id": 2}], "rowCount": 2}

    assert q(tenant, "UPDATE items SET name = $1 WHERE id = $2", ["A", 1])["rowCount"] == 1
    assert q(tenant, "ALTER TABLE items ADD COLUMN price numeric(10, 2) DEFAULT 0")["rowCount"] == 0
    q(tenant, "CREATE UNIQUE INDEX items_name ON items (name)")
    with pytest.raises(TenantDbError, match="duplicate key value violates unique constraint"):
        q(tenant, "INSERT INTO items (name) VALUES ('A')")

    rows = q(tenant, "SELECT id, name, price FROM items ORDER BY id;")
    assert rows == {
        "rows": [{"id": 1, "name": "A", "price": 0}, {"id": 2, "name": "b", "price": 0}],
        "rowCount": 2,
    }
    assert q(tenant, "DELETE FROM items WHERE id = $1", [2])["rowCount"] == 1
    q(tenant, "DROP INDEX items_name")
    q(tenant, "DROP TABLE items")
    with pytest.raises(TenantDbError, match='relation "items" does not exist'):
        q(tenant, "SELECT * FROM items")


def test_with_statements_and_joins_with_qualified_columns_work(tenant):
    q(tenant, "CREATE TABLE a (id int, v text)")
    q(tenant, "CREATE TABLE b (id int, w text)")
    q(tenant, "INSERT INTO a VALUES (1, 'x'), (2, 'y')")
    q(tenant, "INSERT INTO b VALUES (1, 'z')")

    joined = q(tenant, "SELECT a.v, b.w FROM a JOIN b ON a.id = b.id WHERE a.id = $1", [1])
    moved = q(
        tenant,
        "WITH gone AS (DELETE FROM a WHERE id = $1 RETURNING id, v) "
        "INSERT INTO b SELECT g.id, g.v FROM gone g",
        [2],
    )

    assert joined["rows"] == [{"v": "x", "w": "z"}]
    assert moved == {"rows": [], "rowCount": 1}
    assert q(tenant, "SELECT count(*) AS n FROM b")["rows"] == [{"n": 2}]


def test_placeholders_are_filled_and_a_literal_dollar_one_is_left_alone(tenant):
    result = q(
        tenant,
        "SELECT '$1' AS literal, $1::int + 1 AS next, $2 AS name, 'a%b' AS percent",
        [41, "it's $2"],
    )

    assert result["rows"] == [{"literal": "$1", "next": 42, "name": "it's $2", "percent": "a%b"}]


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
    with pytest.raises(TenantDbError, match='relation "items" does not exist'):
        q(customer_b, "SELECT * FROM items")
    assert q(space_scope, "SELECT * FROM items")["rows"] == [{"name": "space"}]


def test_results_over_max_rows_are_refused_and_nothing_is_written(tenant):
    q(tenant, "CREATE TABLE n (i int)")

    with pytest.raises(TenantDbError, match="The query returned more than 5 rows"):
        q(tenant, "INSERT INTO n SELECT generate_series(1, 10) RETURNING i", max_rows=5)
    with pytest.raises(TenantDbError, match="The query returned more than 5 rows"):
        q(tenant, "SELECT generate_series(1, 1000000)", max_rows=5)

    assert q(tenant, "SELECT count(*) AS c FROM n")["rows"] == [{"c": 0}]


def test_a_failed_statement_rolls_back_and_the_session_stays_usable(tenant):
    q(tenant, "CREATE TABLE t (i int PRIMARY KEY)")
    q(tenant, "INSERT INTO t VALUES (1)")

    with pytest.raises(TenantDbError, match="duplicate key"):
        q(tenant, "INSERT INTO t VALUES (2), (1)")

    assert q(tenant, "SELECT i FROM t")["rows"] == [{"i": 1}]


def test_syntax_errors_carry_the_engine_message_without_internal_names(tenant):
    with pytest.raises(TenantDbError) as caught:
        q(tenant, "SELECT * FROM WHERE x = 1")
    assert caught.value.message == 'syntax error at or near "WHERE"'

    q(tenant, "CREATE TABLE items (id int)")
    with pytest.raises(TenantDbError) as caught:
        q(tenant, "CREATE TABLE items (id int)")
    assert caught.value.message == 'relation "items" already exists'


def test_internal_names_are_redacted_from_messages(tenant):
    name = Tenant.of(*tenant).name

    with pytest.raises(TenantDbError) as caught:
        raw(tenant, f"SELECT * FROM {name}.nope")

    assert name not in caught.value.message
    assert "your database" in caught.value.message


def test_parameter_count_must_match_the_placeholders(tenant):
    with pytest.raises(TenantDbError, match=r"uses \$2 as its highest placeholder but 1"):
        q(tenant, "SELECT $1, $2", [1])
    with pytest.raises(TenantDbError, match="has no placeholders but 1 parameter"):
        q(tenant, "SELECT 1", [1])
    with pytest.raises(TenantDbError, match="Query parameters must be an array"):
        q(tenant, "SELECT $1", "x")


def test_a_slow_query_hits_the_statement_timeout(tenant):
    started = time.monotonic()

    with pytest.raises(TenantDbError) as caught:
        q(tenant, "SELECT pg_sleep(10)", timeout_ms=500)

    assert caught.value.message == "Query exceeded the 0.5s statement timeout."
    assert time.monotonic() - started < 3
    assert q(tenant, "SELECT 1 AS ok")["rows"] == [{"ok": 1}]


@pytest.mark.slow
def test_the_default_timeout_message_says_5s(tenant):
    with pytest.raises(TenantDbError) as caught:
        q(tenant, "SELECT pg_sleep(6)")
    assert caught.value.message == "Query exceeded the 5s statement timeout."


# --- Hostile statements: refused by the statement policy ---------------------------------


def other_schema() -> str:
    return Tenant.of(uuid.uuid4(), None).name


HOSTILE = [
    ("SELECT * FROM spaces_space", 'relation "spaces_space" does not exist'),
    ("SELECT * FROM public.spaces_space", "Qualified name public.spaces_space isn't allowed"),
    ('SELECT * FROM "public"."spaces_space"', "Qualified name public.spaces_space isn't allowed"),
    (
        f"SELECT * FROM {other_schema()}.items",
        "isn't allowed in fastn.db: refer to your own tables",
    ),
    ("SELECT x.id FROM items, public.spaces_space x", "Qualified name public.spaces_space"),
    ("SET ROLE postgres", "SET isn't allowed in fastn.db: the session"),
    ("SET search_path TO public", "SET isn't allowed in fastn.db: the session"),
    ("RESET ROLE", "RESET isn't allowed in fastn.db"),
    ("SET SESSION AUTHORIZATION postgres", "SET isn't allowed in fastn.db"),
    ("SELECT pg_read_file('/etc/passwd')", "The function pg_read_file() isn't allowed"),
    ("SELECT pg_ls_dir('.')", "The function pg_ls_dir() isn't allowed"),
    ("SELECT lo_import('/etc/passwd')", "The function lo_import() isn't allowed"),
    ("COPY items TO '/tmp/x'", "COPY isn't allowed"),
    ("COPY (SELECT 1) TO PROGRAM 'id'", "COPY isn't allowed"),
    ("BEGIN", "BEGIN isn't allowed in fastn.db: every query runs in its own transaction"),
    ("COMMIT", "COMMIT isn't allowed in fastn.db"),
    ("ROLLBACK", "ROLLBACK isn't allowed in fastn.db"),
    ("SAVEPOINT a", "SAVEPOINT isn't allowed in fastn.db"),
    ("SELECT 1; DROP TABLE items", "fastn.db runs one statement per query"),
    ("SELECT 1 -- \n; DROP TABLE items", "fastn.db runs one statement per query"),
    ("SELECT 1 /* ; */; DROP TABLE items", "fastn.db runs one statement per query"),
    ("CREATE EXTENSION dblink", "CREATE EXTENSION isn't allowed"),
    (
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
        "CREATE FUNCTION isn't allowed",
    ),
    ("CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE OR REPLACE VIEW isn't allowed"),
    ("DO $$ BEGIN EXECUTE 'RESET ROLE'; END $$", "DO isn't allowed"),
    ("GRANT ALL ON ALL TABLES IN SCHEMA public TO PUBLIC", "GRANT isn't allowed"),
    ("REVOKE ALL ON items FROM PUBLIC", "REVOKE isn't allowed"),
    ("SELECT current_setting('data_directory')", "The function current_setting() isn't allowed"),
    (
        "SELECT set_config('search_path', 'public', false)",
        "The function set_config() isn't allowed",
    ),
    (
        "SELECT query_to_xml('select * from public.spaces_space', true, true, '')",
        "The function query_to_xml() isn't allowed",
    ),
    ("SELECT * FROM pg_catalog.pg_authid", "pg_catalog isn't reachable from fastn.db"),
    ("SELECT * FROM pg_authid", "pg_authid isn't reachable from fastn.db"),
    ("SELECT * FROM information_schema.tables", "information_schema isn't reachable"),
    ("CREATE SCHEMA evil", "CREATE SCHEMA isn't allowed"),
    ("ALTER ROLE postgres PASSWORD 'x'", "ALTER ROLE isn't allowed"),
    ("CREATE ROLE evil SUPERUSER", "CREATE ROLE isn't allowed"),
    ("LISTEN x", "LISTEN isn't allowed"),
    ("NOTIFY x", "NOTIFY isn't allowed"),
    ("CREATE TABLE public.evil (x int)", "Qualified name public.evil isn't allowed"),
    ("CREATE TEMP TABLE evil (x int)", "Temporary tables aren't allowed"),
    ("SELECT * INTO TEMP evil FROM items", "Temporary tables aren't allowed"),
    ("ALTER TABLE items SET SCHEMA public", "SET SCHEMA isn't allowed"),
    ("ALTER TABLE items OWNER TO postgres", "OWNER TO isn't allowed"),
    ("CREATE TABLE evil (x int) TABLESPACE pg_default", "Tablespaces aren't available"),
    (
        "SELECT * FROM dblink('host=x', 'select 1') AS t(a int)",
        "The function dblink() isn't allowed",
    ),
    ("PREPARE p AS SELECT 1", "PREPARE isn't allowed"),
    ("EXECUTE p", "EXECUTE isn't allowed"),
    ("CALL p()", "CALL isn't allowed"),
    ("LOAD 'plpgsql'", "LOAD isn't allowed"),
    ("SHOW data_directory", "SHOW isn't allowed"),
    ("SELECT U&'\\0070g_authid'", "Unicode escape strings"),
    (
        "CREATE TRIGGER t BEFORE INSERT ON items EXECUTE FUNCTION f()",
        "CREATE TRIGGER isn't allowed",
    ),
    ("CREATE RULE r AS ON INSERT TO items DO INSTEAD NOTHING", "CREATE RULE isn't allowed"),
    ("SELECT 1 INTO OUTFILE '/tmp/x'", "INTO OUTFILE isn't allowed"),
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

    from apps.datastore import tenantdb

    tenant = make_tenant()
    tenantdb._provisioned.clear()

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
    from apps.datastore import tenantdb

    q(tenant, "CREATE TABLE kept (x int)")
    tenantdb._provisioned.clear()
    tenantdb.tenantdb_close_connections()

    q(tenant, "INSERT INTO kept VALUES (1)")

    assert q(tenant, "SELECT x FROM kept")["rows"] == [{"x": 1}]


def test_a_dead_pooled_session_is_replaced_transparently(tenant):
    from apps.datastore import tenantdb

    q(tenant, "SELECT 1")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
            [Tenant.of(*tenant).name],
        )
    time.sleep(0.2)

    assert q(tenant, "SELECT 2 AS two")["rows"] == [{"two": 2}]
    tenantdb.tenantdb_close_connections()


def test_dropping_a_tenant_removes_its_schema_and_role(make_tenant):
    from apps.datastore.tenantdb import tenantdb_drop

    pair = make_tenant()
    q(pair, "CREATE TABLE t (x int)")
    name = Tenant.of(*pair).name

    tenantdb_drop(*pair)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", [name])
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", [name])
        assert cursor.fetchone()[0] == 0
