"""Webhook signatures: both schemes, the clock window, rotation, malformed input, and
cross-checks against the official Standard Webhooks library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
import time_machine
from hypothesis import example, given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook, WebhookVerificationError

from apps.triggers.signatures import (
    SignatureError,
    Verified,
    new_signing_secret,
    sign_fastn,
    sign_standard,
    verify,
)

NOW = 1_700_000_000
BODY = b'{"type":"invoice.paid","data":{"amount":120}}'
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_dGhlIHByZXZpb3VzIHNlY3JldCBieXRlcyE="
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"


def fastn_headers(secret=SECRET, timestamp=NOW, body=BODY):
    return {
        "X-Fastn-Timestamp": str(timestamp),
        "X-Fastn-Signature": sign_fastn(secret, timestamp, body),
    }


def standard_headers(secret=SECRET, timestamp=NOW, body=BODY, msg_id=MSG_ID):
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard(secret, msg_id, timestamp, body),
    }


def refused(headers, body=BODY, secrets=(SECRET,), now=NOW) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(headers, body, list(secrets), now=now)
    message = caught.value.message
    for secret in secrets:
        if len(secret) >= 12:
            assert secret.removeprefix("whsec_") not in message
    return message


# --- the fastn scheme


def test_fastn_signature_is_hmac_sha256_of_timestamp_dot_body_keyed_by_the_secret_text():
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign_fastn(SECRET, NOW, BODY) == "sha256=" + expected


def test_fastn_valid_signature_verifies_with_headers_in_any_case():
    headers = {"x-FASTN-timestamp": str(NOW), "X-FASTN-SIGNATURE": sign_fastn(SECRET, NOW, BODY)}
    assert verify(headers, BODY, [SECRET], now=NOW) == Verified("fastn", None, NOW)


def test_fastn_accepts_bare_hex_and_uppercase_hex():
    bare = sign_fastn(SECRET, NOW, BODY).removeprefix("sha256=")
    for value in (bare, bare.upper(), "SHA256=" + bare):
        headers = {"x-fastn-timestamp": str(NOW), "x-fastn-signature": value}
        assert verify(headers, BODY, [SECRET], now=NOW).scheme == "fastn"


def test_fastn_wrong_secret_is_refused_without_echoing_the_expected_signature():
    headers = fastn_headers(secret="whsec_c29tZW9uZSBlbHNlJ3Mgc2VjcmV0IGtleQ==")
    message = refused(headers)
    assert "does not match" in message
    expected = sign_fastn(SECRET, NOW, BODY)
    assert expected.removeprefix("sha256=") not in message


def test_fastn_tampered_body_is_refused():
    headers = fastn_headers()
    assert "does not match" in refused(headers, body=BODY.replace(b"120", b"999"))
    assert "does not match" in refused(headers, body=BODY + b" ")


def test_fastn_tampered_timestamp_is_refused():
    headers = fastn_headers() | {"X-Fastn-Timestamp": str(NOW - 1)}
    assert "does not match" in refused(headers)


def test_fastn_several_signatures_separated_by_commas_or_spaces_any_one_suffices():
    good = sign_fastn(SECRET, NOW, BODY)
    bad = sign_fastn(OLD_SECRET, NOW, BODY)
    for value in (f"{bad},{good}", f"{bad} {good}", f"{bad}, {good}", f"junk,{good}"):
        headers = {"x-fastn-timestamp": str(NOW), "x-fastn-signature": value}
        assert verify(headers, BODY, [SECRET], now=NOW).scheme == "fastn"


def test_fastn_missing_headers_are_named():
    only_timestamp = {"x-fastn-timestamp": str(NOW)}
    assert "missing header x-fastn-signature" in refused(only_timestamp)
    assert "missing header x-fastn-signature" in refused({})
    only_signature = {"x-fastn-signature": sign_fastn(SECRET, NOW, BODY)}
    assert "missing header x-fastn-timestamp" in refused(only_signature)
    empty_timestamp = fastn_headers() | {"X-Fastn-Timestamp": ""}
    assert "missing header x-fastn-timestamp" in refused(empty_timestamp)


def test_fastn_malformed_signature_says_what_is_expected():
    for value in ("sha256=zz", "sha256=" + "a" * 63, "md5=" + "a" * 64, "v1,abc"):
        headers = {"x-fastn-timestamp": str(NOW), "x-fastn-signature": value}
        assert "no well-formed signature" in refused(headers)


# --- the clock window, both schemes


@pytest.mark.parametrize("make", [fastn_headers, standard_headers])
def test_stale_timestamp_is_refused_and_says_stale_with_the_window(make):
    message = refused(make(timestamp=NOW - 301))
    assert "stale" in message
    assert "301 s old" in message
    assert "±300 s" in message


@pytest.mark.parametrize("make", [fastn_headers, standard_headers])
def test_future_timestamp_is_refused_and_says_in_the_future(make):
    message = refused(make(timestamp=NOW + 301))
    assert "in the future by 301 s" in message
    assert "±300 s" in message


@pytest.mark.parametrize("make", [fastn_headers, standard_headers])
def test_timestamps_at_the_edges_of_the_window_pass(make):
    assert verify(make(timestamp=NOW - 300), BODY, [SECRET], now=NOW).timestamp == NOW - 300
    assert verify(make(timestamp=NOW + 300), BODY, [SECRET], now=NOW).timestamp == NOW + 300


def test_tolerance_is_configurable():
    headers = fastn_headers(timestamp=NOW - 60)
    with pytest.raises(SignatureError, match="±30 s"):
        verify(headers, BODY, [SECRET], now=NOW, tolerance_s=30)


def test_milliseconds_timestamp_gets_a_hint():
    headers = fastn_headers(timestamp=NOW * 1000)
    assert "looks like milliseconds" in refused(headers)


def test_now_defaults_to_the_real_clock():
    with time_machine.travel(datetime.fromtimestamp(NOW + 10, tz=UTC), tick=False):
        assert verify(fastn_headers(), BODY, [SECRET]).timestamp == NOW
    later = datetime.fromtimestamp(NOW + 1000, tz=UTC)
    with time_machine.travel(later, tick=False), pytest.raises(SignatureError, match="stale"):
        verify(fastn_headers(), BODY, [SECRET])


@pytest.mark.parametrize("value", ["abc", "1.7e9", "1700000000.5", "-1700000000", "+17", "١٧"])
def test_malformed_timestamp_is_refused(value):
    fastn = fastn_headers() | {"X-Fastn-Timestamp": value}
    assert "whole seconds" in refused(fastn)
    standard = standard_headers() | {"webhook-timestamp": value}
    assert "whole seconds" in refused(standard)


# --- Standard Webhooks


def test_standard_webhooks_vector_from_the_official_library_tests():
    # Secret, id, timestamp, payload and signature of the reference libraries' sign test.
    signed = sign_standard(SECRET, MSG_ID, 1614265330, b'{"test": 2432232314}')
    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": "1614265330", "webhook-signature": signed}
    verified = verify(headers, b'{"test": 2432232314}', [SECRET], now=1614265330)
    assert verified == Verified("standard-webhooks", MSG_ID, 1614265330)
    # The libraries' "invalid signature" case: the last base64 digit changed.
    altered = headers | {"webhook-signature": signed[:-2] + "A="}
    assert "does not match" in refused(altered, body=b'{"test": 2432232314}', now=1614265330)
    # The same secret without its whsec_ prefix is the same key.
    unprefixed = SECRET.removeprefix("whsec_")
    assert verify(headers, b'{"test": 2432232314}', [unprefixed], now=1614265330) == verified


def test_standard_valid_signature_returns_the_message_id_for_deduplication():
    headers = {k.upper(): v for k, v in standard_headers().items()}
    assert verify(headers, BODY, [SECRET], now=NOW).message_id == MSG_ID


def test_standard_key_is_the_decoded_base64_not_the_secret_text():
    text_keyed = base64.b64encode(
        hmac.new(SECRET.encode(), f"{MSG_ID}.{NOW}.".encode() + BODY, hashlib.sha256).digest()
    ).decode()
    headers = standard_headers() | {"webhook-signature": "v1," + text_keyed}
    assert "does not match" in refused(headers)


def test_standard_wrong_secret_and_tampered_parts_are_refused():
    assert "does not match" in refused(standard_headers(secret=OLD_SECRET))
    assert "does not match" in refused(standard_headers(), body=BODY + b"\n")
    assert "does not match" in refused(standard_headers() | {"webhook-id": "msg_other"})
    assert "does not match" in refused(standard_headers() | {"webhook-timestamp": str(NOW + 1)})


def test_standard_ignores_other_versions_and_needs_a_v1_entry():
    good = sign_standard(SECRET, MSG_ID, NOW, BODY)
    b64 = good.removeprefix("v1,")
    headers = standard_headers() | {"webhook-signature": f"v1a,{b64} v2,{b64} {good}"}
    assert verify(headers, BODY, [SECRET], now=NOW).scheme == "standard-webhooks"
    only_other = standard_headers() | {"webhook-signature": f"v2,{b64} v1a,{b64}"}
    assert "no v1 signature" in refused(only_other)


def test_standard_bad_base64_is_refused_precisely():
    for value in ("v1,!!!notbase64", "v1,a", "v1,", "v1,ab=c"):
        headers = standard_headers() | {"webhook-signature": value}
        assert "valid base64" in refused(headers)


def test_standard_signature_without_padding_still_matches():
    signed = sign_standard(SECRET, MSG_ID, NOW, BODY).rstrip("=")
    headers = standard_headers() | {"webhook-signature": signed}
    assert verify(headers, BODY, [SECRET], now=NOW).message_id == MSG_ID


def test_standard_missing_headers_are_named():
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        headers = standard_headers()
        del headers[name]
        assert f"missing header {name}" in refused(headers)


def test_standard_message_id_must_be_printable_ascii():
    for msg_id in ("msg 1", "é", "x" * 257):
        headers = standard_headers(msg_id="msg_1") | {"webhook-id": msg_id}
        assert "printable ASCII" in refused(headers)


def test_standard_headers_take_precedence_over_fastn():
    headers = fastn_headers() | standard_headers(secret=OLD_SECRET)
    assert "webhook-signature does not match" in refused(headers)
    assert verify(fastn_headers() | standard_headers(), BODY, [SECRET], now=NOW).message_id


def test_undecodable_secret_never_matches_standard_and_never_crashes():
    headers = standard_headers()
    assert "does not match" in refused(headers, secrets=["whsec_", "whsec_ééééééé", "whsec_a", "a"])


def test_the_official_library_verifies_our_signatures():
    secret = new_signing_secret()
    body = '{"name":"Zoë","amount":1.5}'.encode()
    now = int(time.time())
    headers = standard_headers(secret=secret, timestamp=now, body=body, msg_id="msg_42")
    assert Webhook(secret).verify(body, headers) == {"name": "Zoë", "amount": 1.5}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_signing_secret()).verify(body, headers)


def test_we_verify_the_official_librarys_signatures():
    secret = new_signing_secret()
    body = '{"event":"ünïcode","n":[1,2,3]}'
    moment = datetime.fromtimestamp(NOW, tz=UTC)
    signature = Webhook(secret).sign(msg_id="msg_lib", timestamp=moment, data=body)
    headers = {
        "webhook-id": "msg_lib",
        "webhook-timestamp": str(NOW),
        "webhook-signature": signature,
    }
    assert verify(headers, body.encode(), [secret], now=NOW).message_id == "msg_lib"
    assert sign_standard(secret, "msg_lib", NOW, body.encode()) == signature


@given(key=st.binary(min_size=1, max_size=64), body=st.binary(max_size=512), prefixed=st.booleans())
@settings(max_examples=100, deadline=None)
def test_our_signatures_equal_the_librarys_for_any_key_and_utf8_body(key, body, prefixed):
    secret = ("whsec_" if prefixed else "") + base64.b64encode(key).decode()
    text = body.decode("utf-8", "replace")
    moment = datetime.fromtimestamp(NOW, tz=UTC)
    theirs = Webhook(secret).sign(msg_id="msg_x", timestamp=moment, data=text)
    assert sign_standard(secret, "msg_x", NOW, text.encode()) == theirs


# --- rotation


@pytest.mark.parametrize("make", [fastn_headers, standard_headers])
def test_rotation_either_configured_secret_verifies(make):
    for signer in (SECRET, OLD_SECRET):
        assert verify(make(secret=signer), BODY, [SECRET, OLD_SECRET], now=NOW)
    assert "does not match" in refused(make(secret=OLD_SECRET), secrets=[SECRET])


def test_rotation_sender_signing_with_both_secrets_in_one_header():
    fastn = {
        "x-fastn-timestamp": str(NOW),
        "x-fastn-signature": f"{sign_fastn(OLD_SECRET, NOW, BODY)},{sign_fastn(SECRET, NOW, BODY)}",
    }
    standard = standard_headers() | {
        "webhook-signature": " ".join(
            sign_standard(s, MSG_ID, NOW, BODY) for s in (OLD_SECRET, SECRET)
        )
    }
    for headers in (fastn, standard):
        assert verify(headers, BODY, [SECRET], now=NOW)
        assert verify(headers, BODY, [OLD_SECRET], now=NOW)
        assert "does not match" in refused(headers, secrets=[new_signing_secret()])


def test_no_secret_configured_matches_nothing():
    assert "does not match" in refused(fastn_headers(), secrets=[])


# --- secrets


def test_new_signing_secret_is_whsec_and_32_random_bytes():
    first, second = new_signing_secret(), new_signing_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32


# --- nothing but SignatureError, whatever arrives

NAMES = [
    "x-fastn-timestamp",
    "X-Fastn-Signature",
    "webhook-id",
    "Webhook-Timestamp",
    "WEBHOOK-SIGNATURE",
    "content-type",
]
header_values = st.one_of(
    st.text(max_size=80),
    st.integers(min_value=0, max_value=10**16).map(str),
    st.builds(lambda b: "v1," + base64.b64encode(b).decode(), st.binary(max_size=40)),
    st.builds(lambda b: "sha256=" + b.hex(), st.binary(min_size=30, max_size=34)),
    st.lists(st.sampled_from(["v1,", "v2,", "sha256=", ",", " ", "=", "a", "é", "\x00"])).map(
        "".join
    ),
)


@given(
    headers=st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=20)), header_values),
    body=st.binary(max_size=256),
    secrets=st.lists(st.one_of(st.just(SECRET), st.text(max_size=40)), max_size=3),
)
@example(headers={"webhook-signature": "v1,a,b"}, body=b"", secrets=[SECRET])
@example(headers={"webhook-signature": "v1"}, body=b"", secrets=["whsec_\x80"])
@example(headers={"x-fastn-signature": "ſha256=" + "a" * 64}, body=b"", secrets=[SECRET])
@example(headers={"webhook-id": "a", "webhook-timestamp": "9" * 15}, body=b"", secrets=[SECRET])
@settings(max_examples=400, deadline=None)
def test_any_headers_and_body_raise_nothing_but_signature_error(headers, body, secrets):
    try:
        verify(headers, body, secrets, now=NOW)
    except SignatureError as error:
        assert error.message
        assert SECRET not in error.message and SECRET[6:] not in error.message
