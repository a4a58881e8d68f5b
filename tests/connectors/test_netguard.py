"""The test fence itself: it must stop every non-loopback attempt, whoever makes it."""

from __future__ import annotations

import socket

import httpx
import pytest

from .loopback_server import LoopbackServer
from .netguard import BlockedConnectionError, NetGuard


def test_blocks_socket_connect_to_a_private_address(netguard: NetGuard) -> None:
    with socket.socket() as sock, pytest.raises(BlockedConnectionError):
        sock.connect(("10.0.0.1", 80))
    assert [a.destination for a in netguard.blocked] == [repr(("10.0.0.1", 80))]
    netguard.forget_blocked()


def test_blocks_connect_ex_and_ipv6(netguard: NetGuard) -> None:
    with socket.socket(socket.AF_INET6) as sock, pytest.raises(BlockedConnectionError):
        sock.connect_ex(("2606:4700:4700::1111", 443, 0, 0))
    assert [a.via for a in netguard.blocked] == ["socket.connect_ex"]
    netguard.forget_blocked()


def test_blocks_connect_by_host_name(netguard: NetGuard) -> None:
    # connect() would resolve the name in C, out of the fence's sight.
    with socket.socket() as sock, pytest.raises(BlockedConnectionError):
        sock.connect(("localhost", 80))
    assert len(netguard.blocked) == 1
    netguard.forget_blocked()


def test_blocks_create_connection_and_udp(netguard: NetGuard) -> None:
    with pytest.raises(BlockedConnectionError):
        socket.create_connection(("169.254.169.254", 80), timeout=1)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        pytest.raises(BlockedConnectionError),
    ):
        udp.sendto(b"x", ("8.8.8.8", 53))
    assert [a.via for a in netguard.blocked] == ["socket.create_connection", "socket.sendto"]
    netguard.forget_blocked()


def test_blocks_dns_lookups_of_unknown_names(netguard: NetGuard) -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.com", 80)
    with pytest.raises(socket.gaierror):
        socket.gethostbyname("example.org")
    assert [a.destination for a in netguard.blocked] == ["example.com", "example.org"]
    netguard.forget_blocked()


def test_blocks_plain_httpx_too(netguard: NetGuard) -> None:
    # Independent of the connector's own guard: a client that skips it is still stopped.
    with pytest.raises(httpx.ConnectError):
        httpx.get("http://10.1.2.3:8080/", timeout=1)
    assert [a.destination for a in netguard.blocked] == [repr(("10.1.2.3", 8080))]
    netguard.forget_blocked()


def test_numeric_forms_resolve_locally(netguard: NetGuard) -> None:
    answers = socket.getaddrinfo("0x7f.1", 80, type=socket.SOCK_STREAM)
    assert [answer[4][0] for answer in answers] == ["127.0.0.1"]
    assert netguard.blocked == []


def test_fake_answers_respect_the_requested_family(netguard: NetGuard) -> None:
    netguard.add_host("dual.example", "192.0.2.1", "2001:db8::1")
    assert {a[4][0] for a in socket.getaddrinfo("dual.example", 443)} == {
        "192.0.2.1",
        "2001:db8::1",
    }
    v6 = socket.getaddrinfo("dual.example", 443, socket.AF_INET6)
    assert [a[4] for a in v6] == [("2001:db8::1", 443, 0, 0)]
    assert socket.gethostbyname("DUAL.example.") == "192.0.2.1"


def test_loopback_connections_are_allowed_and_recorded(
    netguard: NetGuard, http: LoopbackServer
) -> None:
    with socket.create_connection(("127.0.0.1", http.port), timeout=2):
        pass
    assert [a.destination for a in netguard.connections] == [repr(("127.0.0.1", http.port))]
