"""fastn.db on both engines: what a workflow sees is the same on PostgreSQL and on SQLite, but
for the engine's own words in its error messages.

Every test here runs once per engine (the `engine` fixture). What only one engine has (the
boundary below the statement policy, provisioning, files) is in test_tenantdb_postgres.py and
test_tenantdb_sqlite.py.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest
from django.db import connection

from apps.datastore.tenantdb import Tenant, TenantDbError, db_query


@dataclass(frozen=True)
class Engine:
    name: str
    # The engine's own messages, which fastn.db passes on (`{}`: a table's name).
    missing_table: str
    already_exists: str
    duplicate: str
    syntax_error: str
    # A statement that runs past `timeout_ms`.
    slow_sql: str
    timeout_ms: int


ENGINES = {
    "postgresql": Engine(
        name="postgresql",
        missing_table='relation "{}" does not exist',
        already_exists='relation "{}" already exists',
        duplicate="duplicate key value violates unique constraint",
        syntax_error='syntax error at or near "WHERE"',
        slow_sql="SELECT pg_sleep(10)",
        timeout_ms=500,
    ),
    "sqlite": Engine(
        name="sqlite",
        missing_table="no such table: {}",
        already_exists="table {} already exists",
        duplicate="UNIQUE constraint failed",
        syntax_error='near "WHERE": syntax error',
        slow_sql=(
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"
        ),
        timeout_ms=300,
    ),
}


def other_schema() -> str:
    # A fixed id: test ids must be the same in every pytest-xdist process.
    return Tenant.of(uuid.UUID("6c921e4f-fae6-4ef7-9d6f-77beb85161b7"), None).name


# Statements the policy refuses, with (part of) the message that says why.
HOSTILE_ON_BOTH = [
    ("COMMIT", "COMMIT isn't allowed in fastn.db"),
    ("SAVEPOINT a", "SAVEPOINT isn't allowed in fastn.db"),
    ("SELECT 1; DROP TABLE items", "fastn.db runs one statement per query"),
    ("SELECT 1 -- \n; DROP TABLE items", "fastn.db runs one statement per query"),
]
HOSTILE = {
    "postgresql": [
        *HOSTILE_ON_BOTH,
        ("SELECT * FROM spaces_space", 'relation "spaces_space" does not exist'),
        ("SELECT * FROM public.spaces_space", "Qualified name public.spaces_space isn't allowed"),
        (
            'SELECT * FROM "public"."spaces_space"',
            "Qualified name public.spaces_space isn't allowed",
        ),
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
        ("ROLLBACK", "ROLLBACK isn't allowed in fastn.db"),
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
        (
            "SELECT current_setting('data_directory')",
            "The function current_setting() isn't allowed",
        ),
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
    ],
    "sqlite": [
        *HOSTILE_ON_BOTH,
        ("ATTACH DATABASE '/tmp/evil.db' AS evil", "ATTACH isn't allowed"),
        ("DETACH DATABASE main", "DETACH isn't allowed"),
        ("PRAGMA writable_schema = 1", "PRAGMA isn't allowed"),
        ("PRAGMA table_info(items)", "PRAGMA isn't allowed"),
        (
            "SELECT * FROM pragma_table_info('items')",
            "The function pragma_table_info() isn't allowed",
        ),
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
        ("VACUUM INTO '/tmp/evil.db'", "VACUUM isn't allowed"),
        ("VACUUM", "VACUUM isn't allowed"),
        ("BEGIN", "BEGIN isn't allowed in fastn.db"),
        ("BEGIN IMMEDIATE", "BEGIN isn't allowed in fastn.db"),
        ("END", "END isn't allowed in fastn.db"),
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
    ],
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test once per engine; a test of hostile statements once per statement of its
    engine's list."""
    if "hostile" in metafunc.fixturenames:
        cases = [(name, case) for name, cases in HOSTILE.items() for case in cases]
        metafunc.parametrize(
            ("engine_name", "hostile"), cases, ids=[f"{name}-{sql}" for name, (sql, _) in cases]
        )
    else:
        metafunc.parametrize("engine_name", list(ENGINES))


@pytest.fixture(autouse=True)
def engine(engine_name, settings, tmp_path) -> Engine:
    """Autouse, so the backend is chosen before (and restored after) `make_tenant`'s cleanup."""
    if engine_name == "postgresql" and connection.vendor != "postgresql":
        pytest.skip("needs the PostgreSQL test database")
    settings.FASTN_TENANTDB_BACKEND = engine_name
    settings.VAR_DIR = tmp_path
    return ENGINES[engine_name]


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


def q(tenant, sql, params=None, **kwargs):
    return db_query(*tenant, sql, params, **kwargs)


def test_table_lifecycle_create_insert_select_update_delete_alter_index_drop(tenant, engine):
    assert q(tenant, "CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL)") == {
        "rows": [],
        "rowCount": 0,
    }
    inserted = q(
        tenant, "INSERT INTO items (id, name) VALUES (1, $1), (2, $2) RETURNING id", ["a", "b"]
    )
    assert inserted == {"rows": [{"id": 1}, {"id": 2}], "rowCount": 2}

    assert q(tenant, "UPDATE items SET name = $1 WHERE id = $2", ["A", 1])["rowCount"] == 1
    assert q(tenant, "ALTER TABLE items ADD COLUMN price numeric(10, 2) DEFAULT 0")["rowCount"] == 0
    q(tenant, "ALTER TABLE items RENAME TO things")
    q(tenant, "CREATE UNIQUE INDEX things_name ON things (name)")
    with pytest.raises(TenantDbError, match=engine.duplicate):
        q(tenant, "INSERT INTO things (id, name) VALUES (3, 'A')")

    assert q(tenant, "SELECT id, name, price FROM things ORDER BY id;") == {
        "rows": [{"id": 1, "name": "A", "price": 0}, {"id": 2, "name": "b", "price": 0}],
        "rowCount": 2,
    }
    assert q(tenant, "DELETE FROM things WHERE id = $1", [2])["rowCount"] == 1
    q(tenant, "DROP INDEX things_name")
    q(tenant, "DROP TABLE things")
    with pytest.raises(TenantDbError) as caught:
        q(tenant, "SELECT * FROM things")
    assert caught.value.message == engine.missing_table.format("things")


def test_joins_with_qualified_columns_and_recursive_with_statements_work(tenant):
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
    result = q(
        tenant,
        "SELECT '$1' AS literal, $1 + 1 AS next, $2 AS name, 'a%b' AS percent",
        [41, "it's $2"],
    )

    assert result["rows"] == [{"literal": "$1", "next": 42, "name": "it's $2", "percent": "a%b"}]


def test_parameter_count_must_match_the_placeholders(tenant):
    with pytest.raises(TenantDbError, match=r"uses \$2 as its highest placeholder but 1"):
        q(tenant, "SELECT $1, $2", [1])
    with pytest.raises(TenantDbError, match="has no placeholders but 1 parameter"):
        q(tenant, "SELECT 1", [1])
    with pytest.raises(TenantDbError, match="Query parameters must be an array"):
        q(tenant, "SELECT $1", "x")


def test_two_tenants_with_the_same_table_name_are_isolated(make_tenant):
    first, second = make_tenant(), make_tenant()
    for tenant, name in ((first, "first"), (second, "second")):
        q(tenant, "CREATE TABLE items (name text)")
        q(tenant, "INSERT INTO items VALUES ($1)", [name])

    assert q(first, "SELECT name FROM items")["rows"] == [{"name": "first"}]
    assert q(second, "SELECT name FROM items")["rows"] == [{"name": "second"}]


def test_the_space_and_its_customers_are_isolated(make_tenant, engine):
    space_id = uuid.uuid4()
    space_scope = make_tenant(space_id=space_id)
    customer_a = make_tenant(space_id=space_id, customer=True)
    customer_b = make_tenant(space_id=space_id, customer=True)
    q(space_scope, "CREATE TABLE items (name text)")
    q(space_scope, "INSERT INTO items VALUES ('space')")
    q(customer_a, "CREATE TABLE items (name text)")

    assert q(customer_a, "SELECT * FROM items")["rows"] == []
    with pytest.raises(TenantDbError) as caught:
        q(customer_b, "SELECT * FROM items")
    assert caught.value.message == engine.missing_table.format("items")
    assert q(space_scope, "SELECT * FROM items")["rows"] == [{"name": "space"}]


COUNT_TO = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < {}) "


def test_results_over_max_rows_are_refused_and_nothing_is_written(tenant):
    q(tenant, "CREATE TABLE n (i int)")

    with pytest.raises(TenantDbError, match="The query returned more than 5 rows"):
        q(tenant, COUNT_TO.format(10) + "INSERT INTO n SELECT i FROM r RETURNING i", max_rows=5)
    with pytest.raises(TenantDbError, match="The query returned more than 5 rows"):
        q(tenant, COUNT_TO.format(1_000_000) + "SELECT i FROM r", max_rows=5)

    assert q(tenant, "SELECT count(*) AS c FROM n")["rows"] == [{"c": 0}]


def test_a_failed_statement_rolls_back_and_the_session_stays_usable(tenant, engine):
    q(tenant, "CREATE TABLE t (i int PRIMARY KEY)")
    q(tenant, "INSERT INTO t VALUES (1)")

    with pytest.raises(TenantDbError, match=engine.duplicate):
        q(tenant, "INSERT INTO t VALUES (2), (1)")

    assert q(tenant, "SELECT i FROM t")["rows"] == [{"i": 1}]


def test_syntax_errors_carry_the_engine_message(tenant, engine):
    with pytest.raises(TenantDbError) as caught:
        q(tenant, "SELECT * FROM WHERE x = 1")
    assert caught.value.message == engine.syntax_error

    q(tenant, "CREATE TABLE items (id int)")
    with pytest.raises(TenantDbError) as caught:
        q(tenant, "CREATE TABLE items (id int)")
    assert caught.value.message == engine.already_exists.format("items")


def test_a_slow_query_hits_the_statement_timeout(tenant, engine):
    started = time.monotonic()

    with pytest.raises(TenantDbError) as caught:
        q(tenant, engine.slow_sql, timeout_ms=engine.timeout_ms)

    seconds = engine.timeout_ms / 1000
    assert caught.value.message == f"Query exceeded the {seconds:g}s statement timeout."
    assert time.monotonic() - started < 3
    assert q(tenant, "SELECT 1 AS ok")["rows"] == [{"ok": 1}]


# --- Hostile statements: refused by the statement policy ---------------------------------


def test_hostile_statements_are_refused_with_a_clear_message(tenant, hostile):
    sql, message = hostile
    q(tenant, "CREATE TABLE IF NOT EXISTS items (id int)")

    with pytest.raises(TenantDbError) as caught:
        q(tenant, sql)

    assert message in caught.value.message


def test_the_hostile_list_is_long_enough(engine):
    assert len(HOSTILE[engine.name]) >= 20


def test_the_tables_survive_the_hostile_statements(tenant, engine):
    q(tenant, "CREATE TABLE items (id int)")
    q(tenant, "INSERT INTO items VALUES (1)")
    for sql, _ in HOSTILE[engine.name]:
        with pytest.raises(TenantDbError):
            q(tenant, sql)

    assert q(tenant, "SELECT id FROM items")["rows"] == [{"id": 1}]
