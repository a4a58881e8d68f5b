"""The strict JSON parser every JSON-reading endpoint and console field uses."""

from __future__ import annotations

import pytest

from fastn_console.strictjson import MAX_DEPTH, MAX_SAFE_INTEGER, JsonInputError, parse_json


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_list(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (nested(5000), f"depth limit of {MAX_DEPTH}"),
        (nested(MAX_DEPTH + 1), f"depth limit of {MAX_DEPTH}"),
        ('{"a":' * 70 + "1" + "}" * 70, f"depth limit of {MAX_DEPTH}"),
        ("1" * 5000, "number out of range"),
        (f"[{MAX_SAFE_INTEGER + 1}]", "number out of range"),
        (f"[-{MAX_SAFE_INTEGER + 1}]", "number out of range"),
        ("[1e400]", "number out of range"),
        ("[-1e400]", "number out of range"),
        ('{"n": NaN}', "non-standard JSON value NaN"),
        ("[Infinity]", "non-standard JSON value Infinity"),
        ("[-Infinity]", "non-standard JSON value -Infinity"),
        ('{"a\\u0000": 1}', "NUL character"),
        ('["x\\u0000y"]', "NUL character"),
        ('["\\\\\\u0000"]', "NUL character"),  # an escaped backslash, then a live \u0000
        ('["\\ud800"]', "unpaired surrogate"),
        ('["\\udc00x"]', "unpaired surrogate"),
        ("{nope", "not valid JSON: Expecting property name"),
        (b"\xc3\x28", "not UTF-8"),
    ],
)
def test_refuses_with_a_message_naming_the_problem(text, fragment):
    with pytest.raises(JsonInputError) as excinfo:
        parse_json(text, label="ctx.input")
    message = str(excinfo.value)
    assert message.startswith("ctx.input ") and fragment in message
    assert fragment in message


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (nested(MAX_DEPTH), nested_list(MAX_DEPTH)),
        (f"[{MAX_SAFE_INTEGER}, -{MAX_SAFE_INTEGER}]", [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]),
        ("[1.7976931348623157e308, 5e-324, -0.0]", [1.7976931348623157e308, 5e-324, -0.0]),
        ('["\\\\u0000"]', ["\\u0000"]),  # a backslash then "u0000": no NUL
        ('["\\ud83d\\ude00"]', ["😀"]),  # a surrogate pair is one character
        ('["[[[[[[[[", "{{{{{{{{{{"]', ["[[[[[[[[", "{{{{{{{{{{"]),
        ('{"a": [true, false, null, "NaN"]}', {"a": [True, False, None, "NaN"]}),
        (b'\xef\xbb\xbf{"bom": 1}', {"bom": 1}),
    ],
)
def test_accepts_standard_json_up_to_the_limits(text, value):
    assert parse_json(text) == value


def test_the_reason_leaves_the_number_out():
    """Secrets are parsed with the same rules; a message never quotes the value."""
    with pytest.raises(JsonInputError) as excinfo:
        parse_json('{"pin": 123456789012345678901234567890}', label="The value")
    assert "123456" not in str(excinfo.value)
    assert excinfo.value.reason.startswith("a number out of range")
