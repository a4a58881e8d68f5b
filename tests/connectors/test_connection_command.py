"""`manage.py connection`: credentials only from stdin, idempotent, audited, never printed."""

from __future__ import annotations

import io
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.connectors.credentials import unseal
from apps.connectors.models import Connection
from apps.spaces.models import AuditEvent, Customer
from tests.connectors.calls_support import make_acme
from tests.connectors.fakes import FakeService

pytestmark = pytest.mark.django_db

TOKEN = "cli-token-000001"


@pytest.fixture
def service():
    running = FakeService()
    yield running
    running.close()


def run(*args, stdin: str = "") -> str:
    out = io.StringIO()
    real_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command("connection", *args, stdout=out)
    finally:
        sys.stdin = real_stdin
    return out.getvalue()


def stored(connection) -> dict:
    return unseal(Connection.objects.select_related("data_key").get(pk=connection.pk))


def test_set_creates_then_replaces_by_name(cast, service):
    make_acme(cast.space, service)
    args = ("set", "acme", "--space", cast.space.slug, "--auth", "BEARER")
    out = run(*args, stdin=f'{{"token": "{TOKEN}"}}\n')
    assert "Connection 'Acme' to Acme (BEARER, Space-wide) created; it is the default." in out
    assert TOKEN not in out
    connection = Connection.objects.get()
    assert stored(connection) == {"token": TOKEN}
    out = run(*args, stdin='{"token": "cli-token-000002"}')
    assert "updated (new credential)" in out and "cli-token-000002" not in out
    assert Connection.objects.count() == 1
    assert stored(connection) == {"token": "cli-token-000002"}
    events = AuditEvent.objects.filter(action__startswith="connection.")
    assert [e.action for e in events.order_by("created_at")] == [
        "connection.create",
        "connection.credential_replace",
    ]
    assert TOKEN not in str(list(events.values("detail", "resource_label")))


def test_set_for_a_tenant_with_config_and_default(cast, service):
    make_acme(cast.space, service)
    Customer.objects.create(space=cast.space, name="Cust", external_id="cust-9")
    base = ("set", "acme", "--space", cast.space.slug, "--tenant", "cust-9", "--auth", "API_KEY")
    run(*base, "--name", "First", stdin='{"apiKey": "key-first-0001"}')
    out = run(
        *base,
        "--name",
        "Second",
        "--config",
        '{"in": "query", "name": "key"}',
        "--default",
        stdin='{"apiKey": "key-second-001"}',
    )
    assert "(API_KEY, customer cust-9) created; it is the default." in out
    second = Connection.objects.get(name="Second")
    assert (
        second.config == {"in": "query", "name": "key"} and second.customer.external_id == "cust-9"
    )
    assert not Connection.objects.get(name="First").is_default


def test_no_auth_reads_nothing(cast, service):
    make_acme(cast.space, service)
    out = run("set", "acme", "--space", cast.space.slug, "--auth", "NO_AUTH", "--name", "Open")
    assert "created" in out


@pytest.mark.parametrize(
    ("stdin", "args", "message"),
    [
        ("", (), "No credential on stdin"),
        ("   \n", (), "No credential on stdin"),
        ("{not json", (), "The credential is not valid JSON"),
        ('["x"]', (), "The credential must be a JSON object"),
        ('{"tokn": "abc"}', (), "Unknown credential field 'tokn'"),
        ('{"token": "abcd"}', ("--config", "[1]"), "--config must be a JSON object"),
    ],
)
def test_set_refuses_bad_input_clearly(cast, service, stdin, args, message):
    make_acme(cast.space, service)
    with pytest.raises(CommandError) as caught:
        run("set", "acme", "--space", cast.space.slug, "--auth", "BEARER", *args, stdin=stdin)
    assert message in str(caught.value)
    assert not Connection.objects.exists()


def test_unknown_connector_space_tenant_and_method(cast, service):
    make_acme(cast.space, service, auth={"methods": [{"type": "BEARER"}]})
    cases = [
        (("set", "nope", "--space", cast.space.slug, "--auth", "BEARER"), "no connector 'nope'"),
        (("set", "acme", "--space", "nowhere", "--auth", "BEARER"), "No Space"),
        (
            ("set", "acme", "--space", cast.space.slug, "--tenant", "x", "--auth", "BEARER"),
            "No customer 'x'",
        ),
        (("set", "acme", "--space", cast.space.slug, "--auth", "BASIC"), "does not offer 'BASIC'"),
    ]
    for args, message in cases:
        with pytest.raises(CommandError, match=message):
            run(*args, stdin=f'{{"token": "{TOKEN}"}}')


def test_changing_the_auth_method_of_a_name_is_refused(cast, service):
    make_acme(cast.space, service)
    run("set", "acme", "--space", cast.space.slug, "--auth", "BEARER", stdin='{"token": "abcd"}')
    with pytest.raises(CommandError, match="uses BEARER"):
        run("set", "acme", "--space", cast.space.slug, "--auth", "BASIC",
            stdin='{"username": "u", "password": "p"}')  # fmt: skip


def test_list_test_and_disconnect(cast, service):
    make_acme(cast.space, service)
    service.require = ("bearer", TOKEN)
    run(
        "set",
        "acme",
        "--space",
        cast.space.slug,
        "--auth",
        "BEARER",
        stdin=f'{{"token": "{TOKEN}"}}',
    )
    listing = run("list", "--space", cast.space.slug)
    assert "acme\tAcme (default)\tSpace-wide\tBEARER\tactive" in listing and TOKEN not in listing
    assert "works" in run("test", "acme", "--space", cast.space.slug)
    service.require = ("bearer", "other")
    with pytest.raises(CommandError, match="failed"):
        run("test", "acme", "--space", cast.space.slug)
    assert "disconnected" in run("disconnect", "acme", "--space", cast.space.slug)
    assert not Connection.objects.exists()
