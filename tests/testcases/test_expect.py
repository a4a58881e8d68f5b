"""Expectations: equality with a readable diff, JSON-path assertions and their operators."""

from __future__ import annotations

import pytest

from apps.testcases.expect import (
    ExpectationError,
    check_assertion,
    judge,
    parse_path,
    validate_expect,
)


def test_paths_read_fields_indexes_and_quoted_keys():
    assert parse_path('$.items[0]["odd key"][-1]') == ("$", ["items", 0, "odd key", -1])
    assert parse_path("$error.message") == ("$error", ["message"])
    with pytest.raises(ExpectationError, match="must start with"):
        parse_path("items")
    with pytest.raises(ExpectationError, match="cannot read"):
        parse_path("$.items[")


OUTPUT = {"ok": True, "total": 120, "items": [{"id": 7}, {"id": 9}], "note": "Big order"}


@pytest.mark.parametrize(
    ("path", "op", "value", "holds"),
    [
        ("$.total", "equals", 120, True),
        ("$.total", "equals", 120.0, True),
        ("$.ok", "equals", 1, False),
        ("$.total", "not_equals", 100, True),
        ("$.items[1].id", "equals", 9, True),
        ("$.items[-1].id", "equals", 9, True),
        ("$.missing", "exists", None, False),
        ("$.missing", "not_exists", None, True),
        ("$.note", "contains", "Big", True),
        ("$.items", "contains", {"id": 7}, True),
        ("$", "contains", "total", True),
        ("$.note", "not_contains", "small", True),
        ("$.total", "gt", 100, True),
        ("$.total", "lt", 100, False),
        ("$.total", "gte", 120, True),
        ("$.total", "lte", 119, False),
        ("$.total", "gt", "100", False),
        ("$.note", "matches", "^Big", True),
        ("$.items", "type", "array", True),
        ("$.ok", "type", "number", False),
        ("$.items", "length", 2, True),
    ],
)
def test_operators(path, op, value, holds):
    reason = check_assertion({"path": path, "op": op, "value": value}, OUTPUT, None)
    assert (reason is None) is holds, reason


def test_failed_assertion_says_what_was_expected_and_what_came():
    reason = check_assertion({"path": "$.total", "op": "gt", "value": 500}, OUTPUT, None)
    assert reason == "$.total: expected it > 500, got 120"


def test_equality_failure_lists_each_difference_and_a_unified_diff():
    verdict = judge(
        {"kind": "equals", "output": {"total": 100, "items": [1, 2], "gone": 1}},
        status="completed",
        output={"total": 120, "items": [1, 3, 4], "extra": True},
        error=None,
    )
    assert not verdict.passed
    assert "$.total: expected 100, got 120" in verdict.failures
    assert "$.items[1]: expected 2, got 3" in verdict.failures
    assert "$.items: expected 2 item(s), got 3" in verdict.failures
    assert "$.gone: missing (expected 1)" in verdict.failures
    assert "$.extra: unexpected true" in verdict.failures
    assert '-  "total": 100' in verdict.diff and '+  "total": 120' in verdict.diff


def test_equality_ignores_key_order():
    verdict = judge(
        {"kind": "equals", "output": {"a": 1, "b": [1]}},
        status="completed",
        output={"b": [1], "a": 1},
        error=None,
    )
    assert verdict.passed and verdict.diff == ""


def test_a_failed_run_fails_the_case_with_its_error_unless_error_is_expected():
    error = {"code": "RUNTIME_ERROR", "message": "boom", "line": 3}
    verdict = judge({"kind": "equals", "output": 1}, status="failed", output=None, error=error)
    assert verdict.failures == ["The run failed: RUNTIME_ERROR: boom (line 3)"]
    expect = {
        "kind": "assertions",
        "assertions": [{"path": "$error.message", "op": "contains", "value": "boom"}],
    }
    assert judge(expect, status="failed", output=None, error=error).passed
    assert not judge(expect, status="completed", output=1, error=None).passed


def test_bad_expectations_are_refused_with_the_reason():
    with pytest.raises(ExpectationError, match="unknown operator “bigger”"):
        validate_expect({"kind": "assertions", "assertions": [{"path": "$", "op": "bigger"}]})
    with pytest.raises(ExpectationError, match="assertion 1: path"):
        validate_expect({"kind": "assertions", "assertions": [{"path": "x", "op": "exists"}]})
    with pytest.raises(ExpectationError, match="non-empty"):
        validate_expect({"kind": "assertions", "assertions": []})
    with pytest.raises(ExpectationError):
        validate_expect({"kind": "nope"})
