"""Envelope encryption for secrets. No ORM here: services pass rows' bytes in and out.

Three layers:
1. **Master keys** come from the environment variable FASTN_MASTER_KEY (in embedded and test
   mode without it, from `var/master.key`, generated with mode 600 on first use). They never
   reach the database; they only wrap data keys.
2. **Data keys** (`DataKey` rows) are random 256-bit AES keys stored wrapped: AES-GCM under a
   master key, with the data key's id as associated data, so a wrapped key cannot be swapped
   onto another row. Exactly one is active; new ciphertexts use it.
3. **Secret values** are AES-GCM ciphertexts under a data key, with associated data
   `"<space id>|<customer id or empty>|<name>"`: a ciphertext copied onto another Space,
   customer or name fails to decrypt.

FASTN_MASTER_KEY format: a comma-separated list of entries `ID:KEY`. KEY is base64 (standard or
URL-safe) of exactly 32 random bytes; ID is 1-32 characters of `A-Z a-z 0-9 _ . -` and is
recorded on every data key it wraps. The first entry is the current key, used to wrap new data
keys; later entries are only used to unwrap data keys still wrapped by them. A bare KEY without
`ID:` means the id `default`. Make an entry with `python manage.py secret new-master-key ID`.

Rotating the master key, online:
1. set FASTN_MASTER_KEY="k2:<new key>,k1:<old key>" and restart the processes;
2. run `python manage.py secret rotate-keys`: it re-wraps every data key under k2 (and
   re-encrypts every secret under a fresh data key) while runs keep reading secrets;
3. remove `k1:<old key>` and restart.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.secrets.errors import KeyringError

ENV_VAR = "FASTN_MASTER_KEY"
KEY_FILE_NAME = "master.key"
# Modes where a missing FASTN_MASTER_KEY means "use (or make) the key file under var/".
KEY_FILE_MODES = frozenset({"embedded", "test"})
DEFAULT_KEY_ID = "default"
KEY_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
KEY_BYTES = 32
NONCE_BYTES = 12


@dataclass(frozen=True)
class MasterKey:
    id: str
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class Keyring:
    """The master keys this process knows; `keys[0]` is the current one."""

    keys: tuple[MasterKey, ...]
    source: str = ENV_VAR

    @property
    def current(self) -> MasterKey:
        return self.keys[0]

    def get(self, key_id: str) -> MasterKey:
        for master in self.keys:
            if master.id == key_id:
                return master
        raise KeyringError(
            f"A data key is wrapped by master key {key_id!r}, which is not in {self.source}. "
            "Add it back (after the current key) and run `manage.py secret rotate-keys`."
        )


def parse_master_keys(value: str, *, source: str = ENV_VAR) -> Keyring:
    """Parse the FASTN_MASTER_KEY format (see the module docstring). Error messages name the
    entry by position and never include key material."""
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    if not entries:
        raise ImproperlyConfigured(f"{source} is empty.")
    keys: list[MasterKey] = []
    for position, entry in enumerate(entries, start=1):
        key_id, sep, encoded = entry.rpartition(":")
        if not sep:
            key_id = DEFAULT_KEY_ID
        if not KEY_ID_RE.fullmatch(key_id):
            raise ImproperlyConfigured(
                f"{source} entry {position}: the id must be 1-32 of A-Z a-z 0-9 _ . -"
            )
        raw = decode_key(encoded)
        if raw is None or len(raw) != KEY_BYTES:
            raise ImproperlyConfigured(
                f"{source} entry {position} ({key_id}): the key must be base64 of exactly "
                f"{KEY_BYTES} bytes."
            )
        if any(k.id == key_id for k in keys):
            raise ImproperlyConfigured(f"{source}: the id {key_id!r} appears twice.")
        keys.append(MasterKey(key_id, raw))
    return Keyring(tuple(keys), source)


def decode_key(encoded: str) -> bytes | None:
    padded = encoded + "=" * (-len(encoded) % 4)
    altchars = b"-_" if ("-" in encoded or "_" in encoded) else None
    try:
        return base64.b64decode(padded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        return None


def new_master_key_entry(key_id: str = DEFAULT_KEY_ID) -> str:
    if not KEY_ID_RE.fullmatch(key_id):
        raise ValueError("A master key id is 1-32 of A-Z a-z 0-9 _ . -")
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


def read_or_create_key_file(path: Path) -> str:
    """The embedded default: a key file readable by its owner only. It is written to a
    private temporary file and hard-linked into place, so two processes starting at once
    agree on one key and nobody ever reads a half-written file."""
    if not path.exists():
        # Owner-only, like settings.private_var_dir: the sandbox's user must not get in.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".master-key-")  # mode 0o600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(new_master_key_entry("embedded") + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            # If another process won the race, use its key.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    if path.stat().st_mode & 0o077:
        raise ImproperlyConfigured(f"{path} is readable by other users: chmod 600 it.")
    return path.read_text()


def keyring_for(value: str | None, *, fastn_env: str, var_dir: Path) -> Keyring:
    """Decide where the master keys come from. This is what makes the console refuse to start
    rather than store secrets in plaintext:
    1. FASTN_MASTER_KEY set: parse it (a malformed value is an error in every mode);
    2. not set in embedded or test mode: use var/master.key, generating it on first run;
    3. not set in production: ImproperlyConfigured."""
    if value:
        return parse_master_keys(value)
    if fastn_env in KEY_FILE_MODES:
        path = Path(var_dir) / KEY_FILE_NAME
        return parse_master_keys(read_or_create_key_file(path), source=str(path))
    raise ImproperlyConfigured(
        f"{ENV_VAR} must be set when FASTN_ENV={fastn_env}: the console refuses to start rather "
        "than keep secrets without encryption. Generate a key with "
        "`python manage.py secret new-master-key prod1` and set FASTN_MASTER_KEY to its output."
    )


@functools.cache
def keyring() -> Keyring:
    """The process's keyring, loaded once (at startup, by SecretsConfig.ready)."""
    return keyring_for(
        getattr(settings, ENV_VAR, None), fastn_env=settings.FASTN_ENV, var_dir=settings.VAR_DIR
    )


# --- AES-GCM --------------------------------------------------------------------------------


def data_key_aad(data_key_id: UUID) -> bytes:
    return f"fastn-data-key|{data_key_id}".encode()


def secret_aad(space_id: UUID, customer_id: UUID | None, name: str) -> bytes:
    return f"{space_id}|{customer_id or ''}|{name}".encode()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap_data_key(plain: bytes, *, data_key_id: UUID, master: MasterKey) -> bytes:
    """Answer nonce || ciphertext-with-tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master.key).encrypt(nonce, plain, data_key_aad(data_key_id))


def unwrap_data_key(wrapped: bytes, *, data_key_id: UUID, master: MasterKey) -> bytes:
    try:
        return AESGCM(master.key).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], data_key_aad(data_key_id)
        )
    except InvalidTag:
        raise KeyringError(
            f"Data key {data_key_id} does not unwrap with master key {master.id!r}: the key "
            "configured under that id is not the one that wrapped it."
        ) from None


def encrypt(key: bytes, plaintext: str, aad: bytes) -> tuple[bytes, bytes]:
    """Answer (nonce, ciphertext-with-tag). A random 96-bit nonce per value."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext.encode(), aad)


def decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> str:
    """Raises InvalidTag when the ciphertext, nonce or associated data do not match."""
    return AESGCM(key).decrypt(nonce, ciphertext, aad).decode()
