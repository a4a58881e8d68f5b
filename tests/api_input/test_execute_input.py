"""POST /api/v1/{slug}: bad JSON is a 400 BAD_REQUEST naming the problem, never a 500."""

from __future__ import annotations

import pytest

from apps.executions.models import Execution

pytestmark = pytest.mark.django_db

MAX_DEPTH = 64  # documented in the README (public API)
MAX_SAFE_INTEGER = 2**53 - 1


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_list(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"input": ' + nested(5000) + "}", f"depth limit of {MAX_DEPTH}"),
        ('{"input": ' + nested(100) + "}", f"depth limit of {MAX_DEPTH}"),
        ('{"input": ' + "7" * 5000 + "}", "number out of range"),
        ('{"input": {"id": 12345678901234567890}}', "number out of range"),
        ('{"input": 1e999}', "number out of range"),
        ('{"input": NaN}', "non-standard JSON value NaN"),
        ('{"input": {"x": -Infinity}}', "non-standard JSON value -Infinity"),
        ('{"input": {"k\\u0000": 1}}', "NUL character"),
        ('{"input": "a\\u0000b"}', "NUL character"),
        ('{"input\\u0000": 1}', "NUL character"),
        ('{"input": "\\udfff"}', "unpaired surrogate"),
        (b'{"input": "\xff"}', "not UTF-8"),
    ],
)
def test_bad_json_answers_400_naming_the_problem(api, standard_echo, raw, fragment):
    response = api("echo", raw=raw)
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "BAD_REQUEST" and body["statusCode"] == 400
    assert body["message"].startswith("The body ") and fragment in body["message"]
    assert not Execution.objects.exists()


def test_input_at_the_limits_is_accepted_and_stored(api, standard_echo):
    # The body itself and "input" are two of the 64 levels.
    value = {
        "deep": nested_list(MAX_DEPTH - 2),
        "big": MAX_SAFE_INTEGER,
        "negative": -MAX_SAFE_INTEGER,
    }
    response = api("echo", body={"input": {**value, "huge": -1.7976931348623157e308}})
    assert response.status_code == 202
    stored = Execution.objects.get(id=response.json()["executionId"]).input
    # jsonb keeps the decimal digits of the largest double; as a double it is the same number.
    assert float(stored.pop("huge")) == -1.7976931348623157e308
    assert stored == value


def test_a_bad_content_length_is_a_400(client, cast, api_key, standard_echo):
    response = client.generic(
        "POST",
        "/api/v1/echo",
        b'{"input": {}}',
        content_type="application/json",
        headers={"x-fastn-api-key": api_key, "x-fastn-space-id": str(cast.space.id)},
        CONTENT_LENGTH="twelve",
    )
    assert response.status_code == 400 and response.json()["code"] == "BAD_REQUEST"


def test_a_null_input_is_a_json_null_not_a_server_error(api, standard_echo):
    """Found by tests/test_fuzz.py: `null` reached the NOT NULL column as SQL NULL."""
    response = api("echo", raw='{"input": null}')
    assert response.status_code == 202
    execution = Execution.objects.get(id=response.json()["executionId"])
    assert execution.input is None
