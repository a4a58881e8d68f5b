"""A test-time network fence: nothing leaves loopback, even if the code under test is wrong.

Tests of an SSRF guard must not rely on that guard to stay safe, so this
fence works below it, at the socket layer:

- `socket.socket.connect`, `connect_ex`, `sendto` and `sendmsg` and
  `socket.create_connection` raise `BlockedConnectionError` for any
  destination that is not a loopback IP literal (a host name passed straight
  to `connect` would be resolved by C code out of our sight, so it is
  blocked too), and every attempt is recorded;
- `socket.getaddrinfo`, `gethostbyname` and `gethostbyname_ex` answer from a
  table the test fills (`add_host`), accept numeric forms (which libc parses
  without the network: `2130706433`, `0x7f.1`…) and `localhost`, and refuse
  every other name, because a real lookup would send a DNS packet.

Reuse it from another test package's conftest:

    from tests.connectors.netguard import netguard  # noqa: F401

and request the `netguard` fixture (autouse it there if every test needs it).
The fixture fails the test at teardown if anything was blocked, so a test
passes only if no packet was even attempted towards a non-loopback address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

_LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


class BlockedConnectionError(ConnectionRefusedError):
    """Raised instead of opening a non-loopback connection during tests."""


@dataclass(frozen=True)
class Attempt:
    via: str
    destination: str
    allowed: bool


def is_loopback_literal(host: object) -> bool:
    """True only for an IP literal that stays on this machine."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


class NetGuard:
    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self.lookups: list[str] = []
        self._hosts: dict[str, list[list[str]]] = {}

    # --- what tests use --------------------------------------------------

    def add_host(self, name: str, *addresses: str) -> None:
        """Make `name` resolve to `addresses` (a fake DNS answer, in this order)."""
        self.add_changing_host(name, list(addresses))

    def add_changing_host(self, name: str, *answers: list[str]) -> None:
        """Answer successive lookups of `name` with successive `answers`, then the
        last one again: a DNS-rebinding server in miniature."""
        for answer in answers:
            for address in answer:
                ipaddress.ip_address(address)
        self._hosts[_normalise(name)] = [list(answer) for answer in answers]

    def add_unresolvable(self, name: str) -> None:
        """Make `name` fail to resolve, as a missing DNS record does."""
        self.add_changing_host(name, [])

    @property
    def blocked(self) -> list[Attempt]:
        return [attempt for attempt in self.attempts if not attempt.allowed]

    @property
    def connections(self) -> list[Attempt]:
        return [
            attempt
            for attempt in self.attempts
            if attempt.allowed and attempt.via in ("socket.connect", "socket.connect_ex")
        ]

    def lookups_of(self, name: str) -> int:
        return self.lookups.count(_normalise(name))

    def forget_blocked(self) -> None:
        """For tests of the fence itself, after they have asserted on `blocked`."""
        self.attempts = [attempt for attempt in self.attempts if attempt.allowed]

    # --- the fence ---------------------------------------------------------

    def check(self, via: str, family: int, address: object) -> None:
        if family == getattr(socket, "AF_UNIX", object()):
            return
        host = address[0] if isinstance(address, tuple) and address else address
        allowed = family in (socket.AF_INET, socket.AF_INET6) and is_loopback_literal(host)
        self.attempts.append(Attempt(via=via, destination=repr(address), allowed=allowed))
        if not allowed:
            raise BlockedConnectionError(f"netguard blocked {via} to {address!r}")

    def resolve(
        self,
        real: Callable[..., list[Any]],
        host: object,
        port: object,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[Any]:
        if host is None:
            # Passive or loopback lookups never touch DNS.
            return real(host, port, family, type, proto, flags)
        name = _normalise(host)
        self.lookups.append(name)
        if name in self._hosts:
            answers = self._hosts[name]
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if not answer:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return _fake_answer(answer, port, family, type, proto)
        try:
            # AI_NUMERICHOST makes libc parse literals (in all their odd forms)
            # and fail on names instead of asking a DNS server.
            return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            if name in _LOOPBACK_NAMES:
                return _fake_answer(["127.0.0.1", "::1"], port, family, type, proto)
            self.attempts.append(Attempt(via="dns lookup", destination=name, allowed=False))
            raise socket.gaierror(
                socket.EAI_NONAME, f"netguard: DNS lookup of {name!r} is blocked"
            ) from None

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        guard = self
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_sendto = socket.socket.sendto
        real_sendmsg = socket.socket.sendmsg
        real_create_connection = socket.create_connection
        real_getaddrinfo = socket.getaddrinfo

        def connect(self: socket.socket, address: Any) -> None:
            guard.check("socket.connect", self.family, address)
            return real_connect(self, address)

        def connect_ex(self: socket.socket, address: Any) -> int:
            guard.check("socket.connect_ex", self.family, address)
            return real_connect_ex(self, address)

        def sendto(self: socket.socket, data: Any, *args: Any) -> int:
            guard.check("socket.sendto", self.family, args[-1])
            return real_sendto(self, data, *args)

        def sendmsg(self: socket.socket, buffers: Any, *args: Any, **kwargs: Any) -> int:
            address = kwargs.get("address", args[2] if len(args) > 2 else None)
            if address is not None:
                guard.check("socket.sendmsg", self.family, address)
            return real_sendmsg(self, buffers, *args, **kwargs)

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
            host = address[0]
            if _is_ip_literal(host):
                family = socket.AF_INET6 if ":" in str(host) else socket.AF_INET
                guard.check("socket.create_connection", family, address)
            # Names go on through the fenced getaddrinfo and connect.
            return real_create_connection(address, *args, **kwargs)

        def getaddrinfo(*args: Any, **kwargs: Any) -> list[Any]:
            return guard.resolve(real_getaddrinfo, *args, **kwargs)

        def gethostbyname(host: str) -> str:
            return getaddrinfo(host, None, socket.AF_INET)[0][4][0]

        def gethostbyname_ex(host: str) -> tuple[str, list[str], list[str]]:
            answers = getaddrinfo(host, None, socket.AF_INET)
            return host, [], list(dict.fromkeys(answer[4][0] for answer in answers))

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket.socket, "sendto", sendto)
        monkeypatch.setattr(socket.socket, "sendmsg", sendmsg)
        monkeypatch.setattr(socket, "create_connection", create_connection)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket, "gethostbyname", gethostbyname)
        monkeypatch.setattr(socket, "gethostbyname_ex", gethostbyname_ex)


def _normalise(host: object) -> str:
    text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    text = text.lower()
    return text[:-1] if text.endswith(".") else text


def _is_ip_literal(host: object) -> bool:
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    return True


def _fake_answer(
    addresses: list[str], port: object, family: int, type: int, proto: int
) -> list[Any]:
    number = int(port) if isinstance(port, int | str) and str(port).isdigit() else 0
    answers: list[Any] = []
    for address in addresses:
        ip = ipaddress.ip_address(address)
        answer_family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
        if family not in (0, answer_family):
            continue
        sockaddr = (address, number) if ip.version == 4 else (address, number, 0, 0)
        answers.append(
            (
                answer_family,
                type or socket.SOCK_STREAM,
                proto or socket.IPPROTO_TCP,
                "",
                sockaddr,
            )
        )
    if not answers:
        raise socket.gaierror(socket.EAI_NONAME, "netguard: no address of the requested family")
    return answers


@pytest.fixture
def netguard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetGuard]:
    guard = NetGuard()
    guard.install(monkeypatch)
    yield guard
    blocked = guard.blocked
    assert not blocked, f"non-loopback network access was attempted: {blocked}"
