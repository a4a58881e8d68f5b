"""Checking a run's result against a test case's expectation (pure Python, no Django).

Two kinds of expectation:

- `{"kind": "equals", "output": <JSON>}`: the run must complete and its output must equal the
  JSON exactly (objects compare without regard to key order; 1 and 1.0 are equal; true is
  not 1).
- `{"kind": "assertions", "assertions": [{"path": "$.items[0].id", "op": "equals",
  "value": 7}, …]}`: every assertion must hold.

Paths: `$` is the output; `.name` or `["name"]` picks a field, `[0]` an element, `[-1]` the
last one. `$error` is the error of a failed run (`$error.code`, `$error.message`): a case
whose assertions name `$error` expects the run to fail; any other case fails when the run
does. Operators: equals, not_equals, exists, not_exists, contains (a substring, an element of
an array, a key of an object), not_contains, gt, gte, lt, lte (numbers, or strings compared
as text), matches (a regular expression searched in a string), type (string, number,
boolean, array, object, null), length (of a string, array or object)."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from fastn_console.strictjson import json_type

OPERATORS = {
    "equals": "equals",
    "not_equals": "does not equal",
    "exists": "exists",
    "not_exists": "does not exist",
    "contains": "contains",
    "not_contains": "does not contain",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "matches": "matches",
    "type": "is of type",
    "length": "has length",
}
NO_VALUE = frozenset({"exists", "not_exists"})
TYPES = ("string", "number", "boolean", "array", "object", "null")
MAX_DIFFERENCES = 50

_TOKEN = re.compile(r"""\.([A-Za-z_$][\w$-]*)|\[(-?\d+)\]|\[(?:"((?:[^"\\]|\\.)*)"|'([^']*)')\]""")


class ExpectationError(ValueError):
    """An expectation that cannot be checked (a bad path, an unknown operator)."""


_MISSING = object()


def parse_path(path: str) -> tuple[str, list[str | int]]:
    """`$.a[0]["b c"]` → ("$", ["a", 0, "b c"]); the root is `$` or `$error`."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise ExpectationError(f"path “{path}” must start with $ (the output) or $error")
    root = "$error" if path.startswith("$error") else "$"
    rest, parts, at = path[len(root) :], [], 0
    while at < len(rest):
        match = _TOKEN.match(rest, at)
        if match is None:
            raise ExpectationError(
                f'path “{path}”: cannot read “{rest[at:]}” (use .name, [0] or ["name"])'
            )
        name, index, quoted, single = match.groups()
        if index is not None:
            parts.append(int(index))
        else:
            text = name if name is not None else quoted if quoted is not None else single
            parts.append(json.loads(f'"{text}"') if quoted is not None else text)
        at = match.end()
    return root, parts


def resolve(document: Any, parts: list[str | int]) -> Any:
    """The value at `parts`, or _MISSING."""
    value = document
    for part in parts:
        if isinstance(part, int) and isinstance(value, list):
            if -len(value) <= part < len(value):
                value = value[part]
                continue
            return _MISSING
        if isinstance(part, str) and isinstance(value, dict) and part in value:
            value = value[part]
            continue
        return _MISSING
    return value


def same(left: Any, right: Any) -> bool:
    """JSON equality: booleans are not numbers, 1 == 1.0, key order does not matter."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    return type(left) is type(right) and left == right


def show(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def differences(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where two JSON values differ, one sentence per place (at most MAX_DIFFERENCES)."""
    found: list[str] = []
    _walk(expected, actual, path, found)
    return found[:MAX_DIFFERENCES]


def _walk(expected: Any, actual: Any, path: str, found: list[str]) -> None:
    if len(found) >= MAX_DIFFERENCES or same(expected, actual):
        return
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected:
            sub = _join(path, key)
            if key not in actual:
                found.append(f"{sub}: missing (expected {show(expected[key])})")
            else:
                _walk(expected[key], actual[key], sub, found)
        for key in actual:
            if key not in expected:
                found.append(f"{_join(path, key)}: unexpected {show(actual[key])}")
        return
    if isinstance(expected, list) and isinstance(actual, list):
        for index, (a, b) in enumerate(zip(expected, actual, strict=False)):
            _walk(a, b, f"{path}[{index}]", found)
        if len(expected) != len(actual):
            found.append(f"{path}: expected {len(expected)} item(s), got {len(actual)}")
        return
    found.append(f"{path}: expected {show(expected)}, got {show(actual)}")


def _join(path: str, key: str) -> str:
    return (
        f"{path}.{key}" if re.fullmatch(r"[A-Za-z_$][\w$]*", key) else f"{path}[{json.dumps(key)}]"
    )


def text_diff(expected: Any, actual: Any) -> str:
    """A unified diff of the two values as pretty JSON with sorted keys."""
    left = json.dumps(expected, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    right = json.dumps(actual, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    return "\n".join(difflib.unified_diff(left, right, "expected", "actual", lineterm="", n=3))


def check_assertion(assertion: dict, output: Any, error: Any) -> str | None:
    """None when the assertion holds, else why not."""
    op = assertion.get("op", "equals")
    if op not in OPERATORS:
        raise ExpectationError(f"unknown operator “{op}” (use {', '.join(OPERATORS)})")
    root, parts = parse_path(assertion.get("path", "$"))
    value = resolve(error if root == "$error" else output, parts)
    path = assertion.get("path", "$")
    expected = assertion.get("value")
    if op == "exists":
        return None if value is not _MISSING else f"{path}: expected to exist, but it is missing"
    if op == "not_exists":
        return None if value is _MISSING else f"{path}: expected to be missing, got {show(value)}"
    if value is _MISSING:
        return f"{path}: missing (expected it {OPERATORS[op]} {show(expected)})"
    ok = _holds(op, value, expected)
    if ok:
        return None
    return f"{path}: expected it {OPERATORS[op]} {show(expected)}, got {show(value)}"


def _holds(op: str, value: Any, expected: Any) -> bool:
    if op == "equals":
        return same(value, expected)
    if op == "not_equals":
        return not same(value, expected)
    if op in ("contains", "not_contains"):
        if isinstance(value, str):
            found = isinstance(expected, str) and expected in value
        elif isinstance(value, list):
            found = any(same(item, expected) for item in value)
        elif isinstance(value, dict):
            found = isinstance(expected, str) and expected in value
        else:
            found = False
        return found if op == "contains" else not found
    if op in ("gt", "gte", "lt", "lte"):
        comparable = (json_type(value), json_type(expected))
        if comparable not in (("number", "number"), ("string", "string")):
            return False
        return {
            "gt": value > expected,
            "gte": value >= expected,
            "lt": value < expected,
            "lte": value <= expected,
        }[op]
    if op == "matches":
        if not isinstance(value, str) or not isinstance(expected, str):
            return False
        try:
            return re.search(expected, value) is not None
        except re.error as exc:
            raise ExpectationError(f"“{expected}” is not a regular expression: {exc}") from None
    if op == "type":
        if expected not in TYPES:
            raise ExpectationError(f"type must be one of {', '.join(TYPES)}")
        return json_type(value) == expected
    if op == "length":
        return isinstance(value, str | list | dict) and same(len(value), expected)
    raise ExpectationError(f"unknown operator “{op}”")


@dataclass
class Verdict:
    passed: bool
    failures: list[str] = field(default_factory=list)
    diff: str = ""


def validate_expect(expect: Any) -> dict:
    """The expectation, checked (paths parse, operators exist); ExpectationError otherwise."""
    if expect in (None, {}):
        return {"kind": "equals", "output": None}
    if not isinstance(expect, dict) or expect.get("kind") not in ("equals", "assertions"):
        raise ExpectationError(
            'expect must be {"kind": "equals", "output": …} or '
            '{"kind": "assertions", "assertions": […]}'
        )
    if expect["kind"] == "equals":
        return {"kind": "equals", "output": expect.get("output")}
    assertions = expect.get("assertions")
    if not isinstance(assertions, list) or not assertions:
        raise ExpectationError("assertions must be a non-empty list")
    cleaned = []
    for number, item in enumerate(assertions, 1):
        if not isinstance(item, dict):
            raise ExpectationError(f"assertion {number} must be an object {{path, op, value}}")
        unknown = sorted(set(item) - {"path", "op", "value"})
        if unknown:
            raise ExpectationError(f"assertion {number}: unknown field “{unknown[0]}”")
        op = item.get("op", "equals")
        if op not in OPERATORS:
            raise ExpectationError(
                f"assertion {number}: unknown operator “{op}” (use {', '.join(OPERATORS)})"
            )
        try:
            parse_path(item.get("path", "$"))
        except ExpectationError as exc:
            raise ExpectationError(f"assertion {number}: {exc}") from None
        if op == "type" and item.get("value") not in TYPES:
            raise ExpectationError(f"assertion {number}: type must be one of {', '.join(TYPES)}")
        if op == "matches":
            try:
                re.compile(str(item.get("value", "")))
            except re.error as exc:
                raise ExpectationError(
                    f"assertion {number}: bad regular expression: {exc}"
                ) from None
        clean = {"path": item.get("path", "$"), "op": op}
        if op not in NO_VALUE:
            clean["value"] = item.get("value")
        cleaned.append(clean)
    return {"kind": "assertions", "assertions": cleaned}


def judge(expect: dict, *, status: str, output: Any, error: Any) -> Verdict:
    """Pass or fail, with the reasons and a diff for an equality expectation."""
    expect = validate_expect(expect)
    expects_error = expect["kind"] == "assertions" and any(
        a["path"].startswith("$error") for a in expect["assertions"]
    )
    if status != "completed" and not expects_error:
        message = (error or {}).get("message") or status
        code = (error or {}).get("code", status.upper())
        line = (error or {}).get("line")
        where = f" (line {line})" if line else ""
        return Verdict(False, [f"The run {status}: {code}: {message}{where}"])
    if status == "completed" and expects_error:
        return Verdict(False, ["Expected the run to fail ($error), but it completed"])
    if expect["kind"] == "equals":
        wanted = expect["output"]
        if same(wanted, output):
            return Verdict(True)
        return Verdict(False, differences(wanted, output), text_diff(wanted, output))
    failures = [
        reason
        for reason in (check_assertion(a, output, error) for a in expect["assertions"])
        if reason is not None
    ]
    return Verdict(not failures, failures)
