"""Secret redaction and its encodings."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from apps.runtime.redact import REDACTED, Redactor, encodings

SECRET = "s3cr3t+/=value"


def test_value_and_its_encodings_are_redacted():
    redactor = Redactor()
    redactor.add(SECRET)
    for form in (
        SECRET,
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
        quote(SECRET, safe=""),
        quote_plus(SECRET),
    ):
        assert redactor.text(f"before {form} after") == f"before {REDACTED} after", form


def test_base64_of_a_longer_string_containing_the_secret():
    redactor = Redactor()
    redactor.add(SECRET)
    for prefix in ("", "u:", "us:", "user:"):
        encoded = base64.b64encode((prefix + SECRET + "!").encode()).decode()
        head, marker, tail = redactor.text(encoded).partition(REDACTED)
        assert marker == REDACTED, prefix
        # Only the characters that also carry bits of the prefix or the suffix remain.
        assert len(head) <= -(-len(prefix) * 4 // 3), (prefix, head)
        assert len(tail) <= 4, (prefix, tail)


def test_json_escaped_forms():
    secret = 'quote" and back\\slash and ünïcode'
    redactor = Redactor()
    redactor.add(secret)
    once = json.dumps({"p": secret})
    twice = json.dumps(once)
    assert secret not in redactor.text(once) and REDACTED in redactor.text(once)
    assert REDACTED in redactor.text(twice)
    assert json.dumps(secret)[1:-1] not in redactor.text(twice)


def test_json_secrets_redact_their_values():
    redactor = Redactor()
    redactor.add(
        {"client_id": "abc-123", "key": "k_987654", "port": 5432, "debug": True, "n": None}
    )
    assert redactor.text("abc-123 k_987654 5432 True") == f"{REDACTED} {REDACTED} {REDACTED} True"


def test_short_values_are_not_redacted():
    redactor = Redactor()
    redactor.add("abc")
    assert not redactor.active
    assert redactor.text("abc") == "abc"
    assert all(len(form) >= 4 for form in encodings("abcd"))


def test_values_keys_and_nesting():
    redactor = Redactor()
    redactor.add(SECRET)
    value = {SECRET: [SECRET, {"x": f"a{SECRET}b"}, 3, None]}
    assert redactor.value(value) == {REDACTED: [REDACTED, {"x": f"a{REDACTED}b"}, 3, None]}


def test_cut_text_drops_a_split_secret_at_the_end():
    redactor = Redactor()
    redactor.add(SECRET)
    assert redactor.cut_text("token: " + SECRET[:6]) == "token: "
    assert redactor.cut_text(f"{SECRET} then {SECRET[:3]}") == f"{REDACTED} then "


def test_inactive_redactor_returns_the_same_objects():
    redactor = Redactor()
    value = {"a": ["b"]}
    assert redactor.value(value) is value
