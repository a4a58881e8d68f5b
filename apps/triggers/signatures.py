"""Webhook signature verification: the fastn scheme and Standard Webhooks. Pure Python.

fastn scheme
    x-fastn-timestamp: <Unix time, whole seconds>
    x-fastn-signature: sha256=<64 hex digits>   (bare hex accepted too; several signatures
                       separated by commas or spaces: any one that matches suffices)
    signed content:    b"<timestamp>." + raw body
    HMAC key:          the signing secret exactly as shown ("whsec_..."), UTF-8 encoded

Standard Webhooks (https://www.standardwebhooks.com/)
    webhook-id:        the message id (1-256 printable ASCII characters; the dedup key)
    webhook-timestamp: <Unix time, whole seconds>
    webhook-signature: v1,<base64>   (space-separated entries; other versions are ignored)
    signed content:    b"<id>.<timestamp>." + raw body
    HMAC key:          base64 decoding of the secret after its "whsec_" prefix (padding optional),
                       as the official libraries do

The scheme follows the signature header: webhook-signature means Standard Webhooks,
x-fastn-signature means fastn (a request with both is checked as Standard Webhooks). Either
way the timestamp must lie within ±tolerance_s of the server's clock, and every secret given
(the current one and, during a rotation's grace period, the previous one) is tried against
every signature. A SignatureError's message names what is wrong and never contains a secret
or an expected signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from secrets import token_bytes

FASTN_TIMESTAMP = "x-fastn-timestamp"
FASTN_SIGNATURE = "x-fastn-signature"
WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 (the format marker, not a secret)

_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX_SIGNATURE = re.compile(r"(?:sha256=)?([0-9a-f]{64})", re.IGNORECASE | re.ASCII)
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_MESSAGE_ID = re.compile(r"[\x21-\x7e]{1,256}")


class SignatureError(Exception):
    """The request is not signed with a configured secret; `message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Verified:
    scheme: str  # "fastn" | "standard-webhooks"
    message_id: str | None  # webhook-id (Standard Webhooks only): the sender's dedup key
    timestamp: int


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float | None = None,
    tolerance_s: int = 300,
) -> Verified:
    """Check the request's signature against `secrets`; raise SignatureError if it fails."""
    found = {str(name).lower(): str(value).strip() for name, value in headers.items()}
    now = time.time() if now is None else now
    standard_names = (WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE)
    if found.get(WEBHOOK_SIGNATURE) or (
        not found.get(FASTN_SIGNATURE) and any(found.get(name) for name in standard_names)
    ):
        return _verify_standard(found, bytes(body), secrets, now, tolerance_s)
    if not found.get(FASTN_SIGNATURE):
        raise SignatureError(
            f"missing header {FASTN_SIGNATURE}: sign the request with {FASTN_TIMESTAMP} and "
            f"{FASTN_SIGNATURE}, or with the Standard Webhooks headers {WEBHOOK_ID}, "
            f"{WEBHOOK_TIMESTAMP} and {WEBHOOK_SIGNATURE}"
        )
    return _verify_fastn(found, bytes(body), secrets, now, tolerance_s)


def sign_fastn(secret: str, timestamp: int, body: bytes) -> str:
    """The x-fastn-signature header value for `body` sent at `timestamp`."""
    return "sha256=" + _hmac(secret.encode(), f"{timestamp}.".encode() + body).hex()


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One webhook-signature entry, "v1,<base64>"; ValueError if the secret is not base64."""
    key = _standard_key(secret)
    if key is None:
        raise ValueError("a Standard Webhooks secret is base64, optionally prefixed by whsec_")
    digest = _hmac(key, f"{msg_id}.{timestamp}.".encode() + body)
    return "v1," + base64.b64encode(digest).decode()


def new_signing_secret() -> str:
    """A fresh secret in the Standard Webhooks format, usable with both schemes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(32)).decode()


def _verify_fastn(
    found: dict[str, str], body: bytes, secrets: Sequence[str], now: float, tolerance_s: int
) -> Verified:
    stamp = _require(found, FASTN_TIMESTAMP, "the fastn scheme")
    timestamp = _check_timestamp(FASTN_TIMESTAMP, stamp, now, tolerance_s)
    entries = re.split(r"[,\s]+", found[FASTN_SIGNATURE])
    offered = [bytes.fromhex(m.group(1)) for e in entries if (m := _HEX_SIGNATURE.fullmatch(e))]
    if not offered:
        raise SignatureError(
            f"{FASTN_SIGNATURE} holds no well-formed signature: expected sha256=<64 hex digits> "
            "(HMAC-SHA256 of '<timestamp>.<raw body>')"
        )
    content = f"{stamp}.".encode() + body
    if not _any_match([_hmac(secret.encode(), content) for secret in secrets], offered):
        raise SignatureError(
            f"{FASTN_SIGNATURE} does not match: no configured signing secret produced it over "
            f"'<{FASTN_TIMESTAMP}>.<raw body>'"
        )
    return Verified(scheme="fastn", message_id=None, timestamp=timestamp)


def _verify_standard(
    found: dict[str, str], body: bytes, secrets: Sequence[str], now: float, tolerance_s: int
) -> Verified:
    scheme = "Standard Webhooks"
    msg_id = _require(found, WEBHOOK_ID, scheme)
    stamp = _require(found, WEBHOOK_TIMESTAMP, scheme)
    signatures = _require(found, WEBHOOK_SIGNATURE, scheme)
    if not _MESSAGE_ID.fullmatch(msg_id):
        raise SignatureError(f"{WEBHOOK_ID} must be 1-256 printable ASCII characters")
    timestamp = _check_timestamp(WEBHOOK_TIMESTAMP, stamp, now, tolerance_s)
    versioned = [entry.partition(",") for entry in signatures.split()]
    v1 = [signature for version, _, signature in versioned if version == "v1"]
    if not v1:
        raise SignatureError(
            f"{WEBHOOK_SIGNATURE} has no v1 signature: expected space-separated entries v1,<base64>"
        )
    offered = [sig for sig in map(_decode_signature, v1) if sig is not None]
    if not offered:
        raise SignatureError(f"{WEBHOOK_SIGNATURE}: no v1 signature is valid base64")
    keys = [key for key in map(_standard_key, secrets) if key is not None]
    content = f"{msg_id}.{stamp}.".encode() + body
    if not _any_match([_hmac(key, content) for key in keys], offered):
        raise SignatureError(
            f"{WEBHOOK_SIGNATURE} does not match: no configured signing secret produced any v1 "
            f"signature over '<{WEBHOOK_ID}>.<{WEBHOOK_TIMESTAMP}>.<raw body>'"
        )
    return Verified(scheme="standard-webhooks", message_id=msg_id, timestamp=timestamp)


def _require(found: dict[str, str], name: str, scheme: str) -> str:
    if not found.get(name):
        raise SignatureError(f"missing header {name} (required by {scheme})")
    return found[name]


def _check_timestamp(name: str, stamp: str, now: float, tolerance_s: int) -> int:
    if not _TIMESTAMP.fullmatch(stamp):
        raise SignatureError(f"{name} must be a Unix time in whole seconds (digits only)")
    timestamp = int(stamp)
    window = f"the allowed window is ±{tolerance_s} s around the server time {int(now)}"
    if timestamp < now - tolerance_s:
        raise SignatureError(f"{name} {timestamp} is stale: {int(now - timestamp)} s old; {window}")
    if timestamp > now + tolerance_s:
        hint = " (it looks like milliseconds; send seconds)" if len(stamp) >= 13 else ""
        raise SignatureError(
            f"{name} {timestamp} is in the future by {int(timestamp - now)} s{hint}; {window}"
        )
    return timestamp


def _standard_key(secret: str) -> bytes | None:
    # As the official libraries: strip the prefix, then decode base64 whose padding is optional
    # (b64decode ignores surplus "=" and, not validating, characters outside the alphabet).
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "==")
    except (binascii.Error, ValueError):
        return None
    return key or None


def _decode_signature(encoded: str) -> bytes | None:
    if not _BASE64.fullmatch(encoded):
        return None
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        return None


def _hmac(key: bytes, content: bytes) -> bytes:
    return hmac.new(key, content, hashlib.sha256).digest()


def _any_match(expected: list[bytes], offered: list[bytes]) -> bool:
    # Every pair is compared, in constant time, so the time taken says nothing of which matched.
    results = [hmac.compare_digest(e, o) for e in expected for o in offered]
    return any(results)
