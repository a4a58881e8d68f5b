"""The statement policy alone: lexing per dialect, statement kinds, names and placeholders."""

from __future__ import annotations

import pytest

from apps.datastore.errors import TenantDbError
from apps.datastore.sqlguard import check_statement

BOTH = ["postgresql", "sqlite"]


@pytest.mark.parametrize("dialect", BOTH)
@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT 1", "select"),
        ("  select 1 ;  ", "select"),
        ("INSERT INTO t (a) VALUES ($1)", "insert"),
        ("UPDATE t SET a = $1 WHERE id = $2", "update"),
        ("DELETE FROM t WHERE id = $1", "delete"),
        ("CREATE TABLE t (a int)", "create table"),
        ("CREATE TABLE IF NOT EXISTS t (a int)", "create table"),
        ("CREATE INDEX t_a ON t (a)", "create index"),
        ("CREATE UNIQUE INDEX t_a ON t (a)", "create index"),
        ("ALTER TABLE t ADD COLUMN b text", "alter table"),
        ("DROP TABLE IF EXISTS t", "drop table"),
        ("DROP INDEX t_a", "drop index"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "select"),
        ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n FROM r) SELECT * FROM r", "select"),
        ("WITH a AS (SELECT 1), b AS MATERIALIZED (SELECT 2) DELETE FROM t", "delete"),
    ],
)
def test_allowed_statement_kinds(dialect, sql, kind):
    assert check_statement(sql, dialect).kind == kind


@pytest.mark.parametrize("dialect", BOTH)
def test_one_trailing_semicolon_is_dropped_and_comments_are_blanked(dialect):
    checked = check_statement("SELECT 1 -- the answer\n, 2 /* two */ ; -- done", dialect)

    assert checked.sql == "SELECT 1  \n, 2"


@pytest.mark.parametrize("dialect", BOTH)
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT ';' AS semicolon",
        "SELECT 'it''s; fine'",
        'SELECT 1 AS "weird;name"',
        "SELECT 1 -- ; not a statement",
        "SELECT 1 /* ; */",
    ],
)
def test_semicolons_inside_strings_identifiers_and_comments_are_fine(dialect, sql):
    check_statement(sql, dialect)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT $$ ; DROP TABLE t $$",
        "SELECT $body$ it's ; $$ $body$",
        "SELECT E'\\'; DROP TABLE t; --'",
        "SELECT /* outer /* inner */ ; still a comment */ 1",
    ],
)
def test_postgresql_strings_and_nested_comments_are_lexed_like_postgresql(sql):
    check_statement(sql, "postgresql")


@pytest.mark.parametrize(
    "sql",
    [
        # SQLite has no E'' strings: the backslash is plain and the quote ends the string.
        "SELECT E'\\'; DROP TABLE t; --'",
        # SQLite doesn't nest comments: the first */ ends it.
        "SELECT /* outer /* inner */ ; still a comment */ 1",
    ],
)
def test_sqlite_lexing_differs_where_sqlite_differs(sql):
    check_statement(sql, "postgresql")
    with pytest.raises(TenantDbError):
        check_statement(sql, "sqlite")


def test_a_carriage_return_ends_a_line_comment_only_in_postgresql():
    sql = "SELECT 1 --x\r; DROP TABLE t"

    with pytest.raises(TenantDbError, match="one statement per query"):
        check_statement(sql, "postgresql")
    assert check_statement(sql, "sqlite").sql == "SELECT 1"


@pytest.mark.parametrize("sql", ["SELECT $1('), 1 --)", "SELECT $1::text"])
def test_sqlite_tcl_style_variables_are_refused(sql):
    with pytest.raises(TenantDbError, match="Malformed placeholder"):
        check_statement(sql, "sqlite")


def test_postgresql_casts_of_placeholders_are_fine():
    assert check_statement("SELECT $1::int, ($2)::text", "postgresql").param_count == 2


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 'open", "unterminated string"),
        ('SELECT "open', "unterminated quoted identifier"),
        ("SELECT 1 /* open", "comment that never ends"),
        ("SELECT $tag$ open", "never ends"),
        ("SELECT E'open\\'", "unterminated string"),
        ("", "The query is empty."),
        (" ; ", "The query is empty."),
        ("SELECT 1\x00", "NUL character"),
        (42, "The query must be a string of SQL."),
        ("(SELECT 1)", "must start with a SQL keyword"),
        ("SELECT $1abc", "Malformed placeholder"),
        ("SELECT $0", "out of range"),
    ],
)
def test_malformed_text_is_refused(sql, message):
    with pytest.raises(TenantDbError, match=message):
        check_statement(sql, "postgresql")


@pytest.mark.parametrize("dialect", BOTH)
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT t.id, t.* FROM items t",
        "SELECT a.x FROM a JOIN b ON a.id = b.id WHERE b.y = 1 ORDER BY a.x, b.y",
        "UPDATE items SET n = o.n FROM other o WHERE items.id = o.id",
        "DELETE FROM items USING other o WHERE items.id = o.id",
        "INSERT INTO items (a, b) SELECT s.a, s.b FROM src s",
        "SELECT (SELECT max(x.v) FROM x), y.w FROM y",
    ],
)
def test_alias_and_table_qualified_columns_are_allowed(dialect, sql):
    check_statement(sql, dialect)


@pytest.mark.parametrize("dialect", BOTH)
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM other.items",
        "SELECT * FROM a JOIN other.items b ON a.id = b.id",
        "SELECT * FROM a, other.items",
        "INSERT INTO other.items VALUES (1)",
        "UPDATE other.items SET x = 1",
        "DELETE FROM other.items",
        "SELECT a.b.c FROM a",
        "SELECT public.f()",
        "SELECT main.items.x FROM items",
        "CREATE TABLE t (x int REFERENCES other.items (id))",
        "DROP TABLE other.items",
        "CREATE INDEX i ON other.items (x)",
        "ALTER TABLE other.items ADD COLUMN y int",
    ],
)
def test_schema_qualified_names_are_refused(dialect, sql):
    with pytest.raises(TenantDbError, match=r"Qualified name .* isn't allowed"):
        check_statement(sql, dialect)


@pytest.mark.parametrize("dialect", BOTH)
def test_harmless_functions_with_system_prefixes_are_allowed(dialect):
    check_statement("SELECT pg_typeof(1), pg_sleep(0), sqlite_version()", dialect)


@pytest.mark.parametrize("dialect", BOTH)
def test_quoted_names_are_checked_like_bare_ones(dialect):
    with pytest.raises(TenantDbError, match="The function set_config"):
        check_statement("SELECT \"SET_CONFIG\"('role', 'x', true)", dialect)
    with pytest.raises(TenantDbError, match="pg_authid isn't reachable"):
        check_statement('SELECT * FROM "pg_authid"', dialect)


def test_strings_that_merely_mention_system_names_are_data():
    check_statement(
        "INSERT INTO notes VALUES ('read pg_catalog docs; then public.x')", "postgresql"
    )


def test_placeholders_report_the_highest_number():
    assert check_statement("SELECT $2, $1, $2", "postgresql").param_count == 2
    assert check_statement("SELECT 1", "sqlite").param_count == 0


@pytest.mark.parametrize(
    ("sql", "returns_rows"),
    [
        ("SELECT 1", True),
        ("WITH x AS (SELECT 1) SELECT * FROM x", True),
        ("INSERT INTO t VALUES (1) RETURNING id", True),
        ("INSERT INTO t VALUES (1)", False),
        ("WITH d AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM d", False),
        ("CREATE TABLE t (a int)", False),
    ],
)
def test_statements_know_whether_they_return_rows(sql, returns_rows):
    assert check_statement(sql, "postgresql").returns_rows is returns_rows
