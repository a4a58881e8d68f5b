"""The SSRF guard: what the HTTP connector refuses to reach, and that it connects where it checked.

Every refusal test asserts two things: the connector raised
DESTINATION_REFUSED, and the network fence saw no attempt to reach a
non-loopback address (nor, for initial URLs, any connection at all).
"""

from __future__ import annotations

import ipaddress

import pytest

from apps.connectors.addresses import address_refusal
from apps.connectors.http_client import ConnectorError, HttpPolicy, http_request

from .loopback_server import LoopbackServer
from .netguard import NetGuard

DEFAULT = HttpPolicy()
LOOPBACK = HttpPolicy(allow_loopback=True)


def refusal(netguard: NetGuard, url: str, policy: HttpPolicy = DEFAULT) -> str:
    with pytest.raises(ConnectorError) as caught:
        http_request({"url": url}, policy)
    error = caught.value
    assert (error.code, error.permanent) == ("DESTINATION_REFUSED", True), str(error)
    assert netguard.blocked == []
    assert netguard.connections == []
    return error.message


LITERALS = [
    ("http://10.0.0.1/", "10.0.0.1 (private address)"),
    ("http://10.255.255.255:8080/x", "10.255.255.255 (private address)"),
    ("http://172.16.0.1/", "172.16.0.1 (private address)"),
    ("http://172.31.255.254/", "172.31.255.254 (private address)"),
    ("http://192.168.1.1/", "192.168.1.1 (private address)"),
    ("https://192.168.0.10/", "192.168.0.10 (private address)"),
    ("http://127.0.0.1/", "127.0.0.1 (loopback address)"),
    ("http://127.255.255.254/", "127.255.255.254 (loopback address)"),
    ("http://[::1]/", "::1 (loopback address)"),
    ("http://169.254.1.1/", "169.254.1.1 (link-local address)"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 (cloud metadata address)"),
    ("http://169.254.170.2/v2/credentials", "169.254.170.2 (cloud metadata address)"),
    ("http://100.100.100.200/latest/meta-data/", "100.100.100.200 (cloud metadata address)"),
    ("http://168.63.129.16/machine", "168.63.129.16 (cloud metadata address)"),
    ("http://[fd00:ec2::254]/latest/", "fd00:ec2::254 (cloud metadata address)"),
    ("http://[fe80::1]/", "fe80::1 (link-local address)"),
    ("http://100.64.0.1/", "100.64.0.1 (carrier-grade NAT address)"),
    ("http://100.127.255.254/", "100.127.255.254 (carrier-grade NAT address)"),
    ("http://0.0.0.0/", "0.0.0.0 (unspecified address)"),
    ("http://0.1.2.3/", "0.1.2.3 (unspecified address)"),
    ("http://[::]/", ":: (unspecified address)"),
    ("http://224.0.0.1/", "224.0.0.1 (multicast address)"),
    ("http://239.255.255.250/", "239.255.255.250 (multicast address)"),
    ("http://[ff02::1]/", "ff02::1 (multicast address)"),
    ("http://255.255.255.255/", "255.255.255.255 (broadcast address)"),
    ("http://240.0.0.1/", "240.0.0.1 (reserved address)"),
    ("http://192.0.0.8/", "192.0.0.8 (IETF protocol assignment address)"),
    ("http://192.0.2.1/", "192.0.2.1 (documentation address)"),
    ("http://198.51.100.7/", "198.51.100.7 (documentation address)"),
    ("http://203.0.113.9/", "203.0.113.9 (documentation address)"),
    ("http://[2001:db8::1]/", "2001:db8::1 (documentation address)"),
    ("http://[3fff::1]/", "3fff::1 (documentation address)"),
    ("http://198.18.0.1/", "198.18.0.1 (benchmarking address)"),
    ("http://198.19.255.1/", "198.19.255.1 (benchmarking address)"),
    ("http://[2001:2::1]/", "2001:2::1 (benchmarking address)"),
    ("http://192.88.99.1/", "192.88.99.1 (6to4 relay anycast address)"),
    ("http://[fc00::1]/", "fc00::1 (unique-local address)"),
    ("http://[fd12:3456:789a::1]/", "fd12:3456:789a::1 (unique-local address)"),
    ("http://[fec0::1]/", "fec0::1 (site-local address)"),
    ("http://[100::1]/", "100::1 (discard-only address)"),
    ("http://[2001::1]/", "2001::1 (Teredo address)"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "(Teredo address)"),
    ("http://[::ffff:10.0.0.1]/", "::ffff:a00:1 (IPv4-mapped private address)"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1 (IPv4-mapped loopback address)"),
    ("http://[::ffff:169.254.169.254]/", "(IPv4-mapped cloud metadata address)"),
    ("http://[::ffff:7f00:1]/", "::ffff:7f00:1 (IPv4-mapped loopback address)"),
    ("http://[0:0:0:0:0:ffff:c0a8:0101]/", "(IPv4-mapped private address)"),
    ("http://[::10.0.0.1]/", "::a00:1 (IPv4-compatible private address)"),
    ("http://[::8.8.8.8]/", "::808:808 (deprecated IPv4-compatible address)"),
    ("http://[64:ff9b::10.0.0.1]/", "64:ff9b::a00:1 (NAT64 private address)"),
    ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe (NAT64 cloud metadata address)"),
    ("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1 (NAT64 loopback address)"),
    ("http://[64:ff9b:1::a00:1]/", "64:ff9b:1::a00:1 (local-use NAT64 address)"),
    ("http://[2002:a00:1::1]/", "2002:a00:1::1 (6to4 private address)"),
    ("http://[2002:7f00:1::]/", "2002:7f00:1:: (6to4 loopback address)"),
    ("http://[2002:a9fe:a9fe::1]/", "2002:a9fe:a9fe::1 (6to4 cloud metadata address)"),
    ("http://[5f00::1]/", "5f00::1 (reserved address)"),
]


@pytest.mark.parametrize(("url", "expected"), LITERALS)
def test_refuses_non_public_literal(netguard: NetGuard, url: str, expected: str) -> None:
    assert expected in refusal(netguard, url)


ODD_FORMS = [
    # The resolver turns these into 127.0.0.1; the check sees what it produced.
    ("http://2130706433/", "127.0.0.1 (loopback address) for host 2130706433"),
    ("http://0x7f000001/", "127.0.0.1 (loopback address) for host 0x7f000001"),
    ("http://0x7f.0.0.1/", "127.0.0.1 (loopback address) for host 0x7f.0.0.1"),
    ("http://0x7f.1/", "127.0.0.1 (loopback address) for host 0x7f.1"),
    ("http://127.1/", "127.0.0.1 (loopback address) for host 127.1"),
    ("http://017700000001/", "127.0.0.1 (loopback address) for host 017700000001"),
    ("http://0177.1/", "127.0.0.1 (loopback address) for host 0177.1"),
    ("http://127.0.0.1./", "127.0.0.1 (loopback address)"),
    ("http://0/", "0.0.0.0 (unspecified address) for host 0"),
    ("http://167772161/", "10.0.0.1 (private address) for host 167772161"),
    ("http://0xa9.0xfe.0xa9.0xfe/", "169.254.169.254 (cloud metadata address)"),
    ("http://0xa9fea9fe/", "169.254.169.254 (cloud metadata address)"),
    ("http://192.168.257/", "192.168.1.1 (private address) for host 192.168.257"),
    ("http://127。0。0。1/", "127.0.0.1 (loopback address)"),
]


@pytest.mark.parametrize(("url", "expected"), ODD_FORMS)
def test_refuses_odd_literal_forms(netguard: NetGuard, url: str, expected: str) -> None:
    assert expected in refusal(netguard, url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # httpx refuses a dotted quad with leading zeros outright, which is safe too.
        ("http://0177.0.0.1/", "url is not a valid URL: Invalid IPv4 address: '0177.0.0.1'"),
        ("http://0251.0376.0251.0376/", "Invalid IPv4 address: '0251.0376.0251.0376'"),
        ("http://010.0.0.1/", "Invalid IPv4 address: '010.0.0.1'"),
        # Percent-escapes in a host would be decoded by some resolvers, never by ours.
        ("http://127%2E0%2E0%2E1/", "url host '127%2e0%2e0%2e1' is not a valid host name"),
    ],
)
def test_ambiguous_hosts_are_rejected_before_any_lookup(
    netguard: NetGuard, url: str, expected: str
) -> None:
    with pytest.raises(ConnectorError) as caught:
        http_request({"url": url}, DEFAULT)
    assert caught.value.code == "INVALID_REQUEST"
    assert expected in caught.value.message
    assert netguard.lookups == []
    assert netguard.connections == []


def test_ipv6_zone_identifier_is_rejected(netguard: NetGuard) -> None:
    with pytest.raises(ConnectorError) as caught:
        http_request({"url": "http://[fe80::1%25eth0]/"}, DEFAULT)
    assert caught.value.code == "INVALID_REQUEST"
    assert caught.value.message == "url must not contain an IPv6 zone identifier"
    assert netguard.connections == []


@pytest.mark.parametrize(
    "host",
    [
        "metadata.google.internal",
        "METADATA.Google.Internal.",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
    ],
)
def test_refuses_cloud_metadata_names_without_resolving(netguard: NetGuard, host: str) -> None:
    message = refusal(netguard, f"http://{host}/computeMetadata/v1/")
    assert message.endswith("(cloud metadata host name)")
    assert netguard.lookups == []


def test_refuses_internal_only_names(netguard: NetGuard) -> None:
    message = refusal(netguard, "http://db.prod.internal/")
    assert message == "Refused to connect to db.prod.internal (internal-only host name)"
    assert netguard.lookups == []


def test_refuses_name_resolving_to_private_address_with_the_host_in_the_message(
    netguard: NetGuard,
) -> None:
    netguard.add_host("internal.example", "10.0.0.1")
    message = refusal(netguard, "http://internal.example/")
    assert message == "Refused to connect to 10.0.0.1 (private address) for host internal.example"


@pytest.mark.parametrize(
    "addresses",
    [("8.8.8.8", "10.0.0.1"), ("10.0.0.1", "8.8.8.8"), ("2606:4700::1111", "fd00::1")],
)
def test_refuses_name_if_any_resolved_address_is_refused(
    netguard: NetGuard, addresses: tuple[str, str]
) -> None:
    netguard.add_host("mixed.example", *addresses)
    message = refusal(netguard, "http://mixed.example/")
    assert "for host mixed.example" in message


@pytest.mark.parametrize(
    ("address", "label"),
    [
        ("::ffff:169.254.169.254", "IPv4-mapped cloud metadata address"),
        ("fd00:ec2::254", "cloud metadata address"),
        ("64:ff9b::c0a8:1", "NAT64 private address"),
        ("0.0.0.0", "unspecified address"),  # noqa: S104 - a DNS answer, not a bind
    ],
)
def test_refuses_names_resolving_to_disguised_addresses(
    netguard: NetGuard, address: str, label: str
) -> None:
    netguard.add_host("disguised.example", address)
    assert f"({label}) for host disguised.example" in refusal(netguard, "http://disguised.example/")


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "localhost.localdomain"])
def test_refuses_localhost_by_what_it_resolves_to(netguard: NetGuard, host: str) -> None:
    message = refusal(netguard, f"http://{host}:8000/admin")
    assert message.startswith("Refused to connect to 127.0.0.1 (loopback address) for host ")


def test_default_policy_refuses_loopback_server(netguard: NetGuard, http: LoopbackServer) -> None:
    assert "(loopback address)" in refusal(netguard, http.url("/json"))
    assert http.requests == []


# --- allow_loopback opens loopback and nothing else ---------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://10.0.0.1/", "(private address)"),
        ("http://192.168.0.1/", "(private address)"),
        ("http://169.254.169.254/latest/meta-data/", "(cloud metadata address)"),
        ("http://[::ffff:10.0.0.1]/", "(IPv4-mapped private address)"),
        ("http://[::ffff:127.0.0.1]/", "(IPv4-mapped loopback address)"),
        ("http://[64:ff9b::7f00:1]/", "(NAT64 loopback address)"),
        ("http://[2002:7f00:1::]/", "(6to4 loopback address)"),
        ("http://[::127.0.0.1]/", "(IPv4-compatible loopback address)"),
        ("http://0.0.0.0/", "(unspecified address)"),
        ("http://[::]/", "(unspecified address)"),
        ("http://[fd00:ec2::254]/", "(cloud metadata address)"),
        ("http://[fe80::1]/", "(link-local address)"),
        ("http://100.64.0.1/", "(carrier-grade NAT address)"),
        ("http://metadata.google.internal/", "(cloud metadata host name)"),
    ],
)
def test_allow_loopback_still_refuses_everything_else(
    netguard: NetGuard, url: str, expected: str
) -> None:
    assert expected in refusal(netguard, url, LOOPBACK)


def test_allow_loopback_still_refuses_names_resolving_to_private(netguard: NetGuard) -> None:
    netguard.add_host("internal.example", "127.0.0.1", "10.0.0.1")
    message = refusal(netguard, "http://internal.example/", LOOPBACK)
    assert message == "Refused to connect to 10.0.0.1 (private address) for host internal.example"


def test_allow_loopback_reaches_ipv4_loopback(netguard: NetGuard, http: LoopbackServer) -> None:
    assert http_request({"url": http.url("/json")}, LOOPBACK)["status"] == 200
    assert [a.destination for a in netguard.connections] == [repr(("127.0.0.1", http.port))]


def test_allow_loopback_reaches_ipv6_loopback(
    netguard: NetGuard, server_v6: LoopbackServer
) -> None:
    answer = http_request({"url": server_v6.url("/json")}, LOOPBACK)
    assert answer["body"] == {"hello": "world", "n": 1}
    assert all(a.destination.startswith("('::1'") for a in netguard.connections)


def test_allow_loopback_accepts_odd_loopback_forms(
    netguard: NetGuard, http: LoopbackServer
) -> None:
    # Allowed because the resolver says 127.0.0.1, not because of the spelling.
    answer = http_request({"url": f"http://2130706433:{http.port}/echo"}, LOOPBACK)
    assert answer["body"]["headers"]["host"] == f"2130706433:{http.port}"


# --- redirects are checked hop by hop ----------------------------------------


REDIRECT_TARGETS = [
    ("http://10.0.0.1/", "Refused to connect to 10.0.0.1 (private address)"),
    ("http://169.254.169.254/latest/meta-data/", "(cloud metadata address)"),
    ("http://[::ffff:10.0.0.1]/", "(IPv4-mapped private address)"),
    ("http://[fd00:ec2::254]/", "(cloud metadata address)"),
    ("http://[64:ff9b::a9fe:a9fe]/", "(NAT64 cloud metadata address)"),
    ("http://167772161/", "10.0.0.1 (private address) for host 167772161"),
    ("http://metadata.google.internal/computeMetadata/v1/", "(cloud metadata host name)"),
    ("file:///etc/passwd", "the URL must use http or https, not file:"),
    ("ftp://example.com/x", "the URL must use http or https, not ftp:"),
    ("gopher://127.0.0.1:6379/_INFO", "the URL must use http or https, not gopher:"),
    ("data:text/plain,hello", "the URL must use http or https, not data:"),
    ("dict://127.0.0.1:11211/stats", "the URL must use http or https, not dict:"),
    ("http://user:secret@example.com/", "must not contain credentials"),
]


@pytest.mark.parametrize(("target", "expected"), REDIRECT_TARGETS)
@pytest.mark.parametrize("status", [302, 307])
def test_refuses_redirect_to_forbidden_destination(
    netguard: NetGuard, http: LoopbackServer, target: str, expected: str, status: int
) -> None:
    with pytest.raises(ConnectorError) as caught:
        http_request({"url": http.url("/redirect", to=target, status=status)}, LOOPBACK)
    error = caught.value
    assert (error.code, error.permanent) == ("DESTINATION_REFUSED", True)
    assert expected in error.message
    assert netguard.blocked == []
    assert len(http.requests) == 1


def test_refusal_on_a_later_hop_names_the_redirect(
    netguard: NetGuard, http: LoopbackServer
) -> None:
    netguard.add_host("internal.example", "10.0.0.1")
    second = http.url("/redirect", to="http://internal.example/admin")
    with pytest.raises(ConnectorError) as caught:
        http_request({"url": http.url("/redirect", to=second)}, LOOPBACK)
    assert caught.value.message == (
        "Refused to connect to 10.0.0.1 (private address) for host internal.example "
        "(reached through redirect 2)"
    )
    assert netguard.blocked == []
    assert len(http.requests) == 2


def test_redirect_to_mapped_loopback_is_refused_even_with_allow_loopback(
    netguard: NetGuard, http: LoopbackServer
) -> None:
    target = f"http://[::ffff:127.0.0.1]:{http.port}/json"
    with pytest.raises(ConnectorError) as caught:
        http_request({"url": http.url("/redirect", to=target)}, LOOPBACK)
    assert "(IPv4-mapped loopback address)" in caught.value.message
    assert len(http.requests) == 1


def test_redirect_to_a_name_that_resolves_privately_is_refused(
    netguard: NetGuard, http: LoopbackServer
) -> None:
    netguard.add_host("looks-public.example", "93.184.215.14", "172.20.0.5")
    target = "https://looks-public.example/"
    with pytest.raises(ConnectorError) as caught:
        http_request({"url": http.url("/redirect", to=target, status=308)}, LOOPBACK)
    assert "172.20.0.5 (private address) for host looks-public.example" in caught.value.message
    assert netguard.blocked == []


# --- the connection goes to the address that was checked --------------------------


def test_resolves_once_and_ignores_a_rebinding_answer(
    netguard: NetGuard, http: LoopbackServer
) -> None:
    # A rebinding DNS server answers loopback to the check and a private
    # address afterwards; only one lookup may happen, so the second never counts.
    netguard.add_changing_host("rebind.example", ["127.0.0.1"], ["10.0.0.1"])
    answer = http_request({"url": http.url("/echo", host="rebind.example")}, LOOPBACK)
    assert answer["body"]["headers"]["host"] == f"rebind.example:{http.port}"
    assert netguard.lookups_of("rebind.example") == 1
    assert [a.destination for a in netguard.connections] == [repr(("127.0.0.1", http.port))]


def test_connects_to_the_checked_public_address_and_nowhere_else(netguard: NetGuard) -> None:
    # The fence stops the connection before any packet; what matters is where it was aimed.
    netguard.add_host("public.example", "93.184.215.14")
    with pytest.raises(ConnectorError) as caught:
        http_request({"url": "http://public.example:8080/"}, DEFAULT)
    assert caught.value.code == "CONNECTION_FAILED"
    assert [a.destination for a in netguard.blocked] == [repr(("93.184.215.14", 8080))]
    assert netguard.lookups_of("public.example") == 1
    netguard.forget_blocked()


def test_tries_the_next_checked_address_when_one_cannot_connect(
    netguard: NetGuard, http: LoopbackServer
) -> None:
    # ::1 has no server on this port, so the IPv4 answer must be used next.
    netguard.add_host("two.example", "::1", "127.0.0.1")
    answer = http_request({"url": http.url("/json", host="two.example")}, LOOPBACK)
    assert answer["status"] == 200
    assert netguard.lookups_of("two.example") == 1


# --- the address table on its own ---------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "169.253.255.255",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1"])
def test_allow_loopback_admits_plain_loopback_only(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert address_refusal(ip) == "loopback address"
    assert address_refusal(ip, allow_loopback=True) is None
