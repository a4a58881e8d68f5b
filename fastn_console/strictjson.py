"""One strict JSON parser for everything a caller or a console user sends us (the API's bodies,
the console's ctx.input and ctx.headers, secret values). It imports nothing of the apps, so that
every one of them may use it.

`json.loads` alone accepts what we cannot keep or pass on: `NaN` / `Infinity` (not JSON; they
break jsonb and `JSON.parse`), numbers JavaScript cannot hold, `\\u0000` (PostgreSQL's jsonb and
text refuse NUL), unpaired surrogate escapes (not encodable as UTF-8), and nesting deep enough
to raise RecursionError. `parse_json` refuses each with a message that names the problem:

- nesting: at most `MAX_DEPTH` (64) levels of arrays and objects;
- integers: within ±(2^53 − 1), the range JavaScript represents exactly; other numbers must be
  finite doubles (`1e400` is out of range);
- `NaN`, `Infinity`, `-Infinity`: refused (not standard JSON);
- `\\u0000` in a key or a string, and unpaired surrogate escapes (`\\ud800`): refused.

Cost: `json.loads` in C, then one iterative walk over the parsed containers for depth and
numbers (about as long again as the parse); the NUL and surrogate checks are substring scans
of the text that only look closer when an escape is present."""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64
MAX_SAFE_INTEGER = 2**53 - 1

# An escape is live when an even number of backslashes precedes its own backslash
# ("\\u0000" in JSON text is a backslash followed by "u0000", not NUL).
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")

# Reasons, without the label (the number itself is never quoted: the text may be a secret).
TOO_DEEP = f"nested deeper than the depth limit of {MAX_DEPTH}"
OUT_OF_RANGE = (
    f"a number out of range: integers must be within ±{MAX_SAFE_INTEGER} (2^53 − 1, what "
    "JavaScript represents exactly) and other numbers finite"
)
NUL_REASON = "a NUL character (\\u0000)"
SURROGATE_REASON = "an unpaired surrogate escape (like \\ud800), which is not valid Unicode"


class JsonInputError(ValueError):
    """The text is not JSON we accept. `str(error)` is a sentence that starts with the label
    ("The body has the non-standard JSON value NaN; …"); `reason` is the same problem without
    the label ("the non-standard JSON value NaN; …"), for messages phrased otherwise."""

    def __init__(self, label: str, predicate: str, reason: str):
        super().__init__(f"{label} {predicate}.")
        self.reason = reason


def parse_json(data: bytes | str, *, label: str = "The body") -> Any:
    """Parse `data` strictly (see the module docstring) or raise `JsonInputError`."""
    text = _text(data, label)
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        raise JsonInputError(label, f"has {NUL_REASON}, which is not allowed", NUL_REASON)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise JsonInputError(label, f"is not valid JSON: {where}", where) from None
    except _NonStandard as exc:
        reason = f"the non-standard JSON value {exc}; only standard JSON is accepted"
        raise JsonInputError(label, f"has {reason}", reason) from None
    except RecursionError:  # far deeper than MAX_DEPTH: the C scanner gave up first
        raise JsonInputError(label, f"is {TOO_DEEP}", TOO_DEEP) from None
    except ValueError:  # Python's own cap on digits in an integer literal (4,300)
        raise JsonInputError(label, f"has {OUT_OF_RANGE}", OUT_OF_RANGE) from None
    problem = _walk(value)
    if problem:
        verb = "is" if problem == TOO_DEEP else "has"
        raise JsonInputError(label, f"{verb} {problem}", problem)
    if ("\\ud" in text or "\\uD" in text) and _has_lone_surrogate(value):
        raise JsonInputError(label, f"has {SURROGATE_REASON}", SURROGATE_REASON)
    return value


def _text(data: bytes | str, label: str) -> str:
    if isinstance(data, str):
        return data
    try:
        # JSON text is UTF-8 (RFC 8259); detect_encoding also takes UTF-16/32, as json.loads.
        return bytes(data).decode(json.detect_encoding(data))
    except UnicodeDecodeError:
        reason = "it is not UTF-8 text"
        raise JsonInputError(label, f"is not valid JSON: {reason}", reason) from None


class _NonStandard(ValueError):
    """Raised from json.loads' parse_constant hook, which json lets through."""


def _refuse_constant(name: str):
    raise _NonStandard(name)


def _walk(value: Any) -> str | None:
    """The first depth or number problem (its reason), or None. Iterative: no recursion to
    exhaust."""
    if type(value) is not dict and type(value) is not list:
        return _number_problem(value)
    stack = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_DEPTH:
            return TOO_DEEP
        for item in container.values() if type(container) is dict else container:
            kind = type(item)
            if kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif kind is int or kind is float:
                problem = _number_problem(item)
                if problem:
                    return problem
    return None


def _number_problem(item: Any) -> str | None:
    kind = type(item)
    if kind is int and not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
        return OUT_OF_RANGE
    if kind is float and not math.isfinite(item):
        return OUT_OF_RANGE
    return None


def _has_lone_surrogate(value: Any) -> bool:
    try:
        # ensure_ascii=False keeps the decoded characters; a lone surrogate cannot be encoded.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_type(value: Any) -> str:
    """A JSON value's type as a JavaScript author names it (workflow code, test cases and
    connector parameters are written with JavaScript's types in mind)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
