"""fastn_console/rawsql.py's statements on PostgreSQL go through one psycopg cursor kept with
the connection: still Django's errors, still seen when queries are captured, and a new one
after the connection is replaced."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from fastn_console import rawsql

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="kept on PostgreSQL only"),
]


def test_statements_share_a_cursor_until_the_connection_is_replaced():
    assert rawsql.fetchone("SELECT %s::int + 1", [1]) == (2,)
    kept = connection.rawsql_cursor
    assert rawsql.fetchone("SELECT %s::text", ["x"]) == ("x",)
    assert connection.rawsql_cursor is kept
    connection.close()
    assert rawsql.fetchone("SELECT 3", []) == (3,)
    assert connection.rawsql_cursor is not kept


def test_errors_are_djangos_and_a_broken_transaction_says_so():
    rawsql.execute("CREATE TEMPORARY TABLE kept_cursor (id int PRIMARY KEY)", [])
    assert rawsql.execute("INSERT INTO kept_cursor VALUES (%s)", [1]) == 1
    with pytest.raises(IntegrityError):
        rawsql.execute("INSERT INTO kept_cursor VALUES (%s)", [1])
    with transaction.atomic():
        with pytest.raises(DatabaseError), transaction.atomic():
            rawsql.fetchone("SELECT no_such_column FROM kept_cursor", [])
        assert rawsql.fetchone("SELECT count(*) FROM kept_cursor", []) == (1,)
        connection.set_rollback(True)  # as after an error that left the block
        with pytest.raises(transaction.TransactionManagementError):
            rawsql.fetchone("SELECT 1", [])
    assert rawsql.fetchone("SELECT count(*) FROM kept_cursor", []) == (1,)


def test_captured_queries_see_them():
    with CaptureQueriesContext(connection) as captured:
        rawsql.fetchone("SELECT 42", [])
    assert [q["sql"] for q in captured.captured_queries] == ["SELECT 42"]
