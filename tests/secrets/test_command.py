"""`manage.py secret`: values only from stdin, audited, clear errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.secrets.models import Secret
from apps.secrets.services import secret_resolve
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent
from apps.spaces.services import customer_create
from tests.secrets.conftest import make_secret

ROOT = Path(__file__).resolve().parents[2]


def run(*args, stdin: str = "") -> str:
    out = io.StringIO()
    real_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command("secret", *args, stdout=out)
    finally:
        sys.stdin = real_stdin
    return out.getvalue()


def test_set_reads_the_value_from_stdin_and_is_audited(cast):
    out = run("set", "STRIPE_KEY", "--space", cast.space.slug, stdin="sk_test_Cc4Vv7Bb1\n")
    assert "Secret STRIPE_KEY created (Space-wide)" in out and "Cc4Vv7Bb1" not in out
    assert secret_resolve(cast.space, name="STRIPE_KEY") == ("text", "sk_test_Cc4Vv7Bb1")
    event = AuditEvent.objects.get(space=cast.space, action="secret.create")
    assert event.actor_label == "manage.py secret" and event.actor_type == "system"
    assert "Cc4Vv7Bb1" not in str(event.detail)


def test_set_again_rotates_and_keeps_inner_newlines(cast):
    run("set", "PEM", "--space", cast.space.slug, stdin="line1\nline2\n")
    out = run("set", "PEM", "--space", cast.space.slug, stdin="line3\nline4\n\n")
    assert "updated" in out
    assert secret_resolve(cast.space, name="PEM") == ("text", "line3\nline4\n")
    assert AuditEvent.objects.filter(space=cast.space, action="secret.rotate").count() == 1


def test_set_for_a_tenant_with_json_type(cast):
    customer_create(cast.space, name="Acme Co", external_id="acme", actor=Actor.system())
    run("set", "CFG", "--space", cast.space.slug, "--tenant", "acme", "--type", "json",
        stdin='{"a": 1}')  # fmt: skip
    secret = Secret.objects.get(name="CFG")
    assert secret.customer.external_id == "acme" and secret.type == "json"
    with pytest.raises(CommandError, match="Not valid JSON"):
        run("set", "BAD", "--space", cast.space.slug, "--type", "json", stdin="{nope")
    with pytest.raises(CommandError, match="delete it first"):
        run("set", "CFG", "--space", cast.space.slug, "--tenant", "acme", "--type", "text",
            stdin="x")  # fmt: skip


def test_the_tenant_may_be_given_by_customer_id(cast):
    customer = customer_create(cast.space, name="Acme", external_id="acme", actor=Actor.system())
    run("set", "TOKEN", "--space", cast.space.slug, "--tenant", str(customer.id), stdin="v")
    assert Secret.objects.get(name="TOKEN").customer == customer


def test_unknown_space_tenant_or_empty_value_are_errors(cast):
    with pytest.raises(CommandError, match="No Space with the slug 'nope'"):
        run("set", "TOKEN", "--space", "nope", stdin="v")
    with pytest.raises(CommandError, match="No customer 'ghost'"):
        run("set", "TOKEN", "--space", cast.space.slug, "--tenant", "ghost", stdin="v")
    other = customer_create(
        cast.other_space, name="Hooli", external_id="hooli", actor=Actor.system()
    )
    with pytest.raises(CommandError, match="No customer"):
        run("set", "TOKEN", "--space", cast.space.slug, "--tenant", str(other.id), stdin="v")
    with pytest.raises(CommandError, match="No value on stdin"):
        run("set", "TOKEN", "--space", cast.space.slug, stdin="")
    with pytest.raises(CommandError, match="UPPER_SNAKE_CASE"):
        run("set", "lower", "--space", cast.space.slug, stdin="v")
    assert not Secret.objects.exists()


def test_delete_removes_the_secret_and_is_audited(cast):
    make_secret(cast.space, "TOKEN")
    out = run("delete", "TOKEN", "--space", cast.space.slug)
    assert "Secret TOKEN deleted" in out
    assert not Secret.objects.exists()
    assert AuditEvent.objects.filter(space=cast.space, action="secret.delete").count() == 1
    with pytest.raises(CommandError, match="Secret TOKEN is not defined"):
        run("delete", "TOKEN", "--space", cast.space.slug)


def test_list_shows_names_without_values(cast):
    make_secret(cast.space, "TOKEN", "Hh2Jj4Kk6")
    out = run("list", "--space", cast.space.slug)
    assert out.startswith("TOKEN\tSpace-wide\ttext") and "Hh2Jj4Kk6" not in out


def test_rotate_keys_reports_what_it_did(cast):
    make_secret(cast.space, "TOKEN", "v")
    out = run("rotate-keys", "--batch-size", "1")
    assert "1 secret(s) re-encrypted" in out and "other master keys can be removed" in out
    assert secret_resolve(cast.space, name="TOKEN")[1] == "v"


def test_new_master_key_prints_an_entry():
    entry = run("new-master-key", "prod1").strip()
    assert entry.startswith("prod1:") and len(entry) == len("prod1:") + 44


@pytest.mark.django_db(transaction=True)
def test_the_real_command_reads_stdin_and_exits_non_zero_on_errors(cast, master_key):
    db = connection.settings_dict  # the test database, where `cast` was committed
    user = f"{db['USER']}:{db['PASSWORD']}" if db["PASSWORD"] else db["USER"]
    url = f"postgres://{user}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "FASTN_MASTER_KEY": master_key, "DATABASE_URL": url}
    manage = [sys.executable, "manage.py", "secret"]

    def call(*args, stdin=""):
        return subprocess.run(
            [*manage, *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip

    done = call("set", "PIPED", "--space", cast.space.slug, stdin="Ee5Rr8Tt2\n")
    assert done.returncode == 0, done.stderr
    assert "Ee5Rr8Tt2" not in done.stdout + done.stderr
    assert secret_resolve(cast.space, name="PIPED") == ("text", "Ee5Rr8Tt2")
    failed = call("set", "PIPED", "--space", "no-such-space", stdin="x")
    assert failed.returncode == 1 and "No Space with the slug 'no-such-space'" in failed.stderr
    gone = call("delete", "PIPED", "--space", cast.space.slug)
    assert gone.returncode == 0 and not Secret.objects.exists()
