"""Master keys, envelope encryption, associated-data binding and online key rotation."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from apps.secrets import crypto
from apps.secrets.errors import KeyringError, SecretUndecryptable
from apps.secrets.models import DataKey, Secret
from apps.secrets.services import data_key_plain, datakey_rotate, secret_resolve
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent
from apps.spaces.services import customer_create
from tests.secrets.conftest import make_secret

ROOT = Path(__file__).resolve().parents[2]
B64_KEY = base64.b64encode(b"k" * 32).decode()


# --- Master keys ----------------------------------------------------------------------------


def test_master_key_list_keeps_order_and_the_first_is_current():
    other = base64.urlsafe_b64encode(b"\xfb" * 32).decode().rstrip("=")
    ring = crypto.parse_master_keys(f" new:{B64_KEY} , old:{other}")
    assert [k.id for k in ring.keys] == ["new", "old"]
    assert ring.current.key == b"k" * 32
    assert ring.get("old").key == b"\xfb" * 32


def test_a_bare_key_gets_the_default_id():
    assert crypto.parse_master_keys(B64_KEY).current.id == "default"


@pytest.mark.parametrize(
    "value",
    [
        base64.b64encode(b"short").decode(),
        f"a:{B64_KEY},a:{B64_KEY}",
        f"bad id!:{B64_KEY}",
        "k1:not base64 at all",
        " , ",
    ],
)
def test_a_malformed_master_key_is_refused_without_echoing_it(value):
    with pytest.raises(ImproperlyConfigured) as excinfo:
        crypto.parse_master_keys(value)
    assert B64_KEY not in str(excinfo.value)


def test_embedded_mode_generates_a_key_file_with_mode_600_once(tmp_path):
    ring = crypto.keyring_for(None, fastn_env="embedded", var_dir=tmp_path / "var")
    path = tmp_path / "var" / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(ring.current.key) == 32
    again = crypto.keyring_for(None, fastn_env="test", var_dir=tmp_path / "var")
    assert again.current == ring.current
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]  # no temporary left


def test_a_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "master.key"
    path.write_text(crypto.new_master_key_entry("x"))
    path.chmod(0o644)
    with pytest.raises(ImproperlyConfigured, match="chmod 600"):
        crypto.keyring_for(None, fastn_env="embedded", var_dir=tmp_path)


def test_production_without_a_master_key_refuses_to_start(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="FASTN_MASTER_KEY must be set"):
        crypto.keyring_for(None, fastn_env="production", var_dir=tmp_path)
    assert not (tmp_path / "master.key").exists()
    assert crypto.keyring_for(B64_KEY, fastn_env="production", var_dir=tmp_path).current


def test_a_production_process_without_a_master_key_does_not_start(tmp_path):
    env = {
        **os.environ,
        "FASTN_ENV": "production",
        "FASTN_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "x" * 50,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "example.com",
    }
    env.pop("FASTN_MASTER_KEY", None)
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "fastn_console.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "FASTN_MASTER_KEY" in result.stderr
    assert not (tmp_path / "master.key").exists()


# --- Envelope encryption --------------------------------------------------------------------


def test_value_round_trips_and_is_stored_only_encrypted(cast):
    secret = make_secret(cast.space, "STRIPE_KEY", "sk_live_plaintext_42")
    row = Secret.objects.get(pk=secret.pk)
    assert b"sk_live_plaintext_42" not in bytes(row.ciphertext)
    assert len(bytes(row.nonce)) == 12
    assert row.data_key.active and row.data_key.master_key_id == "test1"
    assert secret_resolve(cast.space, name="STRIPE_KEY") == ("text", "sk_live_plaintext_42")


def test_data_keys_are_stored_wrapped_by_the_master_key(cast):
    make_secret(cast.space)
    data_key = DataKey.objects.get(active=True)
    plain = data_key_plain(data_key)
    assert len(plain) == 32 and plain not in bytes(data_key.wrapped_key)
    stranger = crypto.MasterKey("test1", b"\x00" * 32)
    with pytest.raises(KeyringError, match="does not unwrap"):
        crypto.unwrap_data_key(
            bytes(data_key.wrapped_key), data_key_id=data_key.id, master=stranger
        )


def copy_ciphertext(source: Secret, target: Secret) -> None:
    Secret.objects.filter(pk=target.pk).update(
        ciphertext=source.ciphertext, nonce=source.nonce, data_key=source.data_key
    )


def test_ciphertext_copied_onto_another_name_fails_to_decrypt(cast):
    source = make_secret(cast.space, "SOURCE", "copied-value-1")
    target = make_secret(cast.space, "TARGET", "other")
    copy_ciphertext(source, target)
    with pytest.raises(SecretUndecryptable) as excinfo:
        secret_resolve(cast.space, name="TARGET")
    assert "TARGET" in str(excinfo.value) and "copied-value-1" not in str(excinfo.value)


def test_ciphertext_copied_onto_another_space_or_customer_fails_to_decrypt(cast):
    actor = Actor.system("test")
    customer = customer_create(cast.space, name="Initech", external_id="initech", actor=actor)
    source = make_secret(cast.space, "TOKEN", "space-wide-value")
    in_other_space = make_secret(cast.other_space, "TOKEN", "other")
    for_customer = make_secret(cast.space, "TOKEN", "other", customer=customer)
    copy_ciphertext(source, in_other_space)
    copy_ciphertext(source, for_customer)
    with pytest.raises(SecretUndecryptable):
        secret_resolve(cast.other_space, name="TOKEN")
    with pytest.raises(SecretUndecryptable):
        secret_resolve(cast.space, name="TOKEN", customer=customer)
    assert secret_resolve(cast.space, name="TOKEN") == ("text", "space-wide-value")


def test_a_tampered_ciphertext_fails_to_decrypt(cast):
    secret = make_secret(cast.space, "TOKEN", "value")
    flipped = bytearray(bytes(secret.ciphertext))
    flipped[0] ^= 1
    Secret.objects.filter(pk=secret.pk).update(ciphertext=bytes(flipped))
    with pytest.raises(SecretUndecryptable):
        secret_resolve(cast.space, name="TOKEN")


def test_a_data_key_wrapped_by_an_unknown_master_key_is_a_clear_error(cast, settings):
    make_secret(cast.space, "TOKEN", "value")
    DataKey.objects.update(master_key_id="gone")
    crypto_cache_clear()
    with pytest.raises(KeyringError, match="'gone', which is not in FASTN_MASTER_KEY"):
        secret_resolve(cast.space, name="TOKEN")


def crypto_cache_clear():
    from apps.secrets import services

    services._plain_data_keys.clear()


# --- Rotation -------------------------------------------------------------------------------


def test_rotating_keys_re_encrypts_every_secret_under_a_new_data_key(cast):
    for i in range(5):
        make_secret(cast.space, f"S{i}", f"value-{i}")
    old = DataKey.objects.get(active=True)
    report = datakey_rotate(actor=Actor.system("test"), batch_size=2)
    new = DataKey.objects.get(active=True)
    assert new.pk == report.data_key_id != old.pk
    assert report.reencrypted == 5 and not report.failed
    assert set(Secret.objects.values_list("data_key", flat=True)) == {new.pk}
    assert [secret_resolve(cast.space, name=f"S{i}")[1] for i in range(5)] == [
        f"value-{i}" for i in range(5)
    ]
    event = AuditEvent.objects.get(action="datakey.rotate")
    assert event.detail["retired"] == [str(old.pk)]


def test_master_key_rotation_rewraps_data_keys_and_the_old_key_can_be_dropped(cast, settings):
    old_entry = settings.FASTN_MASTER_KEY
    make_secret(cast.space, "TOKEN", "survives master rotation")
    new_entry = crypto.new_master_key_entry("test2")
    settings.FASTN_MASTER_KEY = f"{new_entry},{old_entry}"
    report = datakey_rotate(actor=Actor.system("test"))
    assert report.rewrapped == 1 and report.master_key_id == "test2"
    assert set(DataKey.objects.values_list("master_key_id", flat=True)) == {"test2"}

    settings.FASTN_MASTER_KEY = new_entry
    crypto_cache_clear()
    assert secret_resolve(cast.space, name="TOKEN")[1] == "survives master rotation"


def test_rotation_leaves_a_tampered_row_alone_and_reports_it(cast):
    make_secret(cast.space, "GOOD", "fine")
    bad = make_secret(cast.space, "BAD", "broken")
    Secret.objects.filter(pk=bad.pk).update(nonce=b"\x00" * 12)
    report = datakey_rotate(actor=Actor.system("test"))
    assert report.failed == [bad.pk] and report.reencrypted == 1
    assert secret_resolve(cast.space, name="GOOD")[1] == "fine"


@pytest.mark.django_db(transaction=True)
def test_key_rotation_while_another_thread_reads_keeps_every_read_correct(cast, settings):
    expected = {f"KEY_{i}": f"value-{i}-{'x' * i}" for i in range(40)}
    for name, value in expected.items():
        make_secret(cast.space, name, value)
    stop, rotating = threading.Event(), threading.Event()
    reads: list[int] = []
    reads_during_rotation: list[str] = []
    problems: list[str] = []

    def reader():
        try:
            count = 0
            while not stop.is_set():
                for name, value in expected.items():
                    try:
                        got = secret_resolve(cast.space, name=name)
                    except Exception as exc:
                        problems.append(f"{name}: {exc!r}")
                        continue
                    if got != ("text", value):
                        problems.append(f"{name}: wrong value")
                    if rotating.is_set():
                        reads_during_rotation.append(name)
                    count += 1
            reads.append(count)
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        time.sleep(0.1)
        rotating.set()
        datakey_rotate(actor=Actor.system("test"), batch_size=1)
        new_master = crypto.new_master_key_entry("test2")
        settings.FASTN_MASTER_KEY = f"{new_master},{settings.FASTN_MASTER_KEY}"
        datakey_rotate(actor=Actor.system("test"), batch_size=3)
        rotating.clear()
        time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not problems, problems[:5]
    assert reads and reads[0] > len(expected) * 2
    assert len(reads_during_rotation) > len(expected)  # the reads did overlap the rotation
    active = DataKey.objects.get(active=True)
    assert set(Secret.objects.values_list("data_key", flat=True)) == {active.pk}
    assert active.master_key_id == "test2"
