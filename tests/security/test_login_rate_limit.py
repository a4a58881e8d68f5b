"""The login rate limiter counts per client address: X-Forwarded-For (with a trusted hop count)
only BEHIND_PROXY, so people behind one proxy don't share a limit, and a client not behind a
proxy cannot escape its limit by writing the header itself."""

from __future__ import annotations

import itertools
import uuid

import pytest
from django.test import RequestFactory

from apps.spaces.clientip import client_ip
from apps.spaces.models import AuditEvent
from tests.conftest import PASSWORD

LOGIN = "/accounts/login/"
PROXY = "127.0.0.1"  # the reverse proxy's address as the console sees it
_prefix = itertools.count(1)


def address() -> str:
    """A fresh client address for each use (allauth counts IPv6 per /64), unique across runs
    against the same Redis. Only ever a string in a header: nothing is sent to it."""
    return f"2001:db8:{uuid.uuid4().int % 0xFFFF:x}:{next(_prefix):x}::7"


@pytest.fixture
def limited(settings):
    """Three login attempts a minute per address, nothing else limited."""
    settings.ACCOUNT_RATE_LIMITS = {"login": "3/m/ip", "login_failed": False}
    return settings


def attempt(client, *, remote=PROXY, forwarded=None, password="wrong-password-here"):  # noqa: S107
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(LOGIN, {"login": "owner@example.com", "password": password}, **extra)


def test_behind_a_proxy_each_forwarded_client_has_its_own_limit(client, cast, limited):
    limited.BEHIND_PROXY = True
    ada, bob = address(), address()
    assert [attempt(client, forwarded=ada).status_code for _ in range(3)] == [200, 200, 200]
    assert attempt(client, forwarded=ada).status_code == 429
    # Another person behind the same proxy is not locked out by Ada's attempts.
    assert attempt(client, forwarded=bob).status_code == 200
    # Ada can't get out by prefixing an address of her choice: only the proxy's entry counts.
    assert attempt(client, forwarded=f"{address()}, {ada}").status_code == 429


def test_with_two_trusted_proxies_the_second_entry_from_the_right_is_the_client(
    client, cast, limited
):
    limited.BEHIND_PROXY = True
    limited.FASTN_TRUSTED_PROXY_COUNT = 2
    ada, cdn = address(), "198.51.100.10"
    for _ in range(3):
        assert attempt(client, forwarded=f"{ada}, {cdn}").status_code == 200
    assert attempt(client, forwarded=f"{ada}, {cdn}").status_code == 429
    assert attempt(client, forwarded=f"{address()}, {cdn}").status_code == 200


def test_not_behind_a_proxy_a_spoofed_header_does_not_escape_the_limit(client, cast, limited):
    limited.BEHIND_PROXY = False
    direct = address()
    for _ in range(3):
        assert attempt(client, remote=direct, forwarded=address()).status_code == 200
    assert attempt(client, remote=direct, forwarded=address()).status_code == 429
    assert attempt(client, remote=direct).status_code == 429


def test_the_audit_log_records_the_forwarded_client_behind_a_proxy(client, cast, settings):
    settings.BEHIND_PROXY = True
    ada = "2001:db8::42"
    response = attempt(client, forwarded=f"203.0.113.9, {ada}", password=PASSWORD)
    assert response.status_code == 302
    login = AuditEvent.objects.filter(space=cast.space, action="auth.login").latest("id")
    assert login.ip_address == ada


@pytest.mark.parametrize(
    ("behind", "count", "meta", "expected"),
    [
        (
            False,
            1,
            {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"},
            "192.0.2.1",
        ),
        (
            True,
            1,
            {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.5"},
            "203.0.113.5",
        ),
        (
            True,
            2,
            {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.5, 10.0.0.2"},
            "203.0.113.5",
        ),
        # A chain shorter than the hop count: the leftmost entry, written by a trusted proxy.
        (
            True,
            3,
            {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"},
            "203.0.113.5",
        ),
        # Ports and brackets are dropped; IPv6 is normalised.
        (
            True,
            1,
            {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5:4431"},
            "203.0.113.5",
        ),
        (
            True,
            1,
            {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "[2001:DB8:0::1]:443"},
            "2001:db8::1",
        ),
        # Garbage or no header: the proxy's own address, never an error.
        (True, 1, {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "unknown"}, "10.0.0.1"),
        (True, 1, {"REMOTE_ADDR": "10.0.0.1"}, "10.0.0.1"),
        (False, 1, {"REMOTE_ADDR": ""}, None),
    ],
)
def test_client_ip(settings, behind, count, meta, expected):
    settings.BEHIND_PROXY = behind
    settings.FASTN_TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/")
    request.META.update(meta)
    assert client_ip(request) == expected
