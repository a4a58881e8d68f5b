"""Route filters on incoming events, and path extraction (also used for the deduplication key).

A filter is a list of rows {"path", "operator", "value"}; every row must hold (AND), and an
empty list matches every event.

Paths
    data.amount            keys separated by dots
    items[0], items.0      an array index (a number also names the key "0" of an object)
    ["a.b"].c, ["first name"]
                           a key holding dots, spaces or brackets, as a JSON string in brackets
    $headers.x-github-event
                           a request header (name case-insensitive) instead of the body, so
                           events whose body is not JSON can still be routed

Operators (`value` is a JSON value)
    eq, neq    JSON equality; a number and a numeric string ("100", "2.5", "1e3") compare as
               numbers, two strings always as strings; true is not 1
    gt, lt     numbers (numeric strings coerced), or two ISO-8601 date-times (naive = UTC);
               any other pair does not match
    in         `value` is a non-empty list; matches when the actual value equals (as eq) an item
    contains   a substring of a string, an element (as eq) of an array, a key of an object;
               a number as `value` stands for its JSON text
    exists     `value` true (the default) or false: the path is present or absent; a key whose
               value is null is present

A missing path (or a body that is not JSON, passed as None) fails every row except
`exists: false` and `neq`. Evaluating never raises on any body or headers.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

OPERATORS = ("eq", "neq", "gt", "lt", "in", "contains", "exists")
MAX_ROWS = 20
MAX_PATH_LENGTH = 500
MAX_IN_ITEMS = 100
MAX_VALUE_DEPTH = 32
HEADERS = "$headers"

_BARE_KEY = re.compile(r'[^.\[\]"\s]+')
_CANONICAL_INDEX = re.compile(r"0|[1-9][0-9]{0,17}")
_NUMERIC = re.compile(r"-?[0-9]{1,300}(\.[0-9]{1,300})?([eE][+-]?[0-9]{1,4})?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECODER = json.JSONDecoder()


class FilterError(Exception):
    """A filter row (or path) is invalid; row is 0-based (None: the list as a whole)."""

    def __init__(self, message: str, *, row: int | None = None, field: str | None = None):
        super().__init__(message)
        self.message, self.row, self.field = message, row, field


@dataclass(frozen=True)
class Filter:
    path: str
    operator: str
    value: Any


@dataclass(frozen=True)
class Path:
    headers: bool  # True: segments is (lower-cased header name,)
    segments: tuple[str | int, ...]


def parse_filters(rows: list[dict]) -> list[Filter]:
    """Validate form or file rows into Filters; FilterError names the row and field at fault."""
    if not isinstance(rows, list):
        raise FilterError("filters must be a list of rows")
    if len(rows) > MAX_ROWS:
        raise FilterError(f"at most {MAX_ROWS} filter rows are allowed; got {len(rows)}")
    return [_parse_row(index, row) for index, row in enumerate(rows)]


def matches(filters: Sequence[Filter], body: Any, headers: Mapping[str, str]) -> bool:
    lowered = _lower(headers)
    return all(_evaluate(f, body, lowered)[2] for f in filters)


def explain(filters: Sequence[Filter], body: Any, headers: Mapping[str, str]) -> list[dict]:
    """Each row with what the event held at its path, and whether it passed."""
    lowered = _lower(headers)
    rows = []
    for f in filters:
        found, actual, passed = _evaluate(f, body, lowered)
        rows.append(
            {"path": f.path, "operator": f.operator, "value": f.value}
            | {"found": found, "actual": actual, "passed": passed}
        )
    return rows


def extract(document: Any, path: str, headers: Mapping[str, str] | None = None) -> tuple[bool, Any]:
    """(found, value) at `path`; a $headers path reads `headers`. FilterError if malformed."""
    return _extract(parse_path(path), document, _lower(headers))


def parse_path(path: str) -> Path:
    """The segments of `path`: str keys and int indexes. FilterError(field="path") if malformed."""
    if not isinstance(path, str) or not path:
        raise FilterError("the path is empty", field="path")
    return _parse_path(path)


@functools.lru_cache(maxsize=2048)
def _parse_path(path: str) -> Path:
    if len(path) > MAX_PATH_LENGTH:
        raise FilterError(f"the path is longer than {MAX_PATH_LENGTH} characters", field="path")
    segments: list[str | int] = []
    pos = 0
    while pos < len(path):
        if path[pos] == "[":
            segment, pos = _bracketed(path, pos)
        else:
            if segments:
                if path[pos] != ".":
                    raise _path_error(path, pos, _unexpected(path[pos]))
                pos += 1
            segment, pos = _bare(path, pos)
        segments.append(segment)
    if path[0] != "[" and segments[0] == HEADERS:
        if len(segments) != 2 or not isinstance(segments[1], str):
            raise FilterError(
                "a $headers path names one header, e.g. $headers.x-github-event", field="path"
            )
        return Path(headers=True, segments=(segments[1].lower(),))
    return Path(headers=False, segments=tuple(segments))


def _bare(path: str, pos: int) -> tuple[str | int, int]:
    match = _BARE_KEY.match(path, pos)
    if match:
        key = match.group()
        return (int(key) if _CANONICAL_INDEX.fullmatch(key) else key), match.end()
    if pos == len(path) or path[pos] in ".[":
        raise _path_error(path, pos, "empty key")
    raise _path_error(path, pos, _unexpected(path[pos]))


def _unexpected(char: str) -> str:
    if char == "]":
        return "unbalanced brackets: ] without ["
    if char.isspace() or char == '"':
        return 'quote keys with spaces or quotes in brackets: ["first name"]'
    return "expected . or ["


def _bracketed(path: str, pos: int) -> tuple[str | int, int]:
    try:
        segment, end = _DECODER.raw_decode(path, pos + 1)
    except ValueError:
        segment, end = None, pos + 1
    if (
        isinstance(segment, bool)
        or not isinstance(segment, (str, int))
        or (isinstance(segment, int) and segment < 0)
    ):
        raise _path_error(path, pos + 1, 'expected an index or a "quoted key" after [')
    if end >= len(path) or path[end] != "]":
        raise _path_error(path, end, "unbalanced brackets: missing ]")
    return segment, end + 1


def _path_error(path: str, pos: int, problem: str) -> FilterError:
    return FilterError(f"{problem} at character {pos + 1} of the path", field="path")


def _parse_row(index: int, row: Any) -> Filter:
    def fail(field: str | None, message: str) -> FilterError:
        return FilterError(f"row {index + 1}: {message}", row=index, field=field)

    if not isinstance(row, dict):
        raise fail(None, "a row is an object with path, operator and value")
    unknown = sorted(str(key) for key in row if key not in ("path", "operator", "value"))
    if unknown:
        raise fail(None, f"unknown key {unknown[0]!r}; a row has path, operator and value")
    path = row.get("path")
    if not isinstance(path, str) or not path:
        raise fail("path", "the path is required")
    try:
        parse_path(path)
    except FilterError as error:
        raise fail("path", error.message) from None
    operator = row.get("operator")
    if not isinstance(operator, str) or operator not in OPERATORS:
        raise fail("operator", f"the operator must be one of {', '.join(OPERATORS)}")
    problem = _value_problem(operator, row)
    if problem:
        raise fail("value", problem)
    value = row.get("value")
    return Filter(path, operator, True if operator == "exists" and value is None else value)


def _value_problem(operator: str, row: dict) -> str | None:
    value = row.get("value")
    if operator == "exists":
        ok = value is None or isinstance(value, bool)
        return None if ok else "exists takes true (the path is present) or false (absent)"
    if "value" not in row:
        return f"{operator} needs a value"
    if not _is_json(value, MAX_VALUE_DEPTH):
        return f"the value must be JSON (finite numbers, at most {MAX_VALUE_DEPTH} levels deep)"
    if operator == "in" and not (isinstance(value, list) and 0 < len(value) <= MAX_IN_ITEMS):
        return f'in takes a list of 1 to {MAX_IN_ITEMS} values, e.g. ["paid", "refunded"]'
    if operator in ("gt", "lt") and _number(value) is None and _datetime(value) is None:
        return f'{operator} compares numbers or ISO-8601 date-times: 100, "2024-05-01T00:00Z"'
    return None


def _is_json(value: Any, depth: int) -> bool:
    if depth < 0:
        return False
    if isinstance(value, list):
        return all(_is_json(item, depth - 1) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v, depth - 1) for k, v in value.items())
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int, bool))


def _evaluate(f: Filter, body: Any, headers: dict[str, str]) -> tuple[bool, Any, bool]:
    found, actual = _extract(parse_path(f.path), body, headers)
    return found, actual, _holds(f.operator, found, actual, f.value)


def _extract(path: Path, body: Any, headers: dict[str, str]) -> tuple[bool, Any]:
    if path.headers:
        name = path.segments[0]
        return (name in headers), headers.get(name)
    value = body
    for segment in path.segments:
        if isinstance(value, dict) and str(segment) in value:
            value = value[str(segment)]
        elif isinstance(value, list) and isinstance(segment, int) and segment < len(value):
            value = value[segment]
        else:
            return False, None
    return True, value


def _holds(operator: str, found: bool, actual: Any, expected: Any) -> bool:
    if operator == "exists":
        return found is expected
    if not found:
        return operator == "neq"
    if operator == "eq":
        return _equal(actual, expected)
    if operator == "neq":
        return not _equal(actual, expected)
    if operator == "in":
        return isinstance(expected, list) and any(_equal(actual, item) for item in expected)
    if operator == "contains":
        return _contains(actual, expected)
    order = _order(actual, expected)
    return order is not None and order == (1 if operator == "gt" else -1)


def _equal(a: Any, b: Any) -> bool:
    if _is_number(a) or _is_number(b):
        na, nb = _number(a), _number(b)
        # Numeric strings are coerced only against a real number: "007" never equals "7".
        return na is not None and nb is not None and na == nb
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return a is None and b is None


def _contains(actual: Any, expected: Any) -> bool:
    text = json.dumps(expected) if _is_number(expected) else expected
    if isinstance(actual, str):
        return isinstance(text, str) and text in actual
    if isinstance(actual, list):
        return any(_equal(item, expected) for item in actual)
    if isinstance(actual, dict):
        return isinstance(text, str) and text in actual
    return False


def _order(a: Any, b: Any) -> int | None:
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    da, db = _datetime(a), _datetime(b)
    if da is not None and db is not None:
        return (da > db) - (da < db)
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: Any) -> int | float | None:
    """A number, or the number a numeric string spells; None for anything else."""
    if _is_number(value):
        return value
    if not isinstance(value, str) or not _NUMERIC.fullmatch(value):
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64 or not _ISO_DATE.match(value):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _lower(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {str(name).lower(): value for name, value in (headers or {}).items()}
