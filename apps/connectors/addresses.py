"""Which IP addresses an outbound connector may contact: public unicast only.

The tables name the ranges a refusal message should mention; the stdlib's
registry (`is_global`) and "IPv6 global unicast is 2000::/3" catch the rest.
IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are
judged by the address they carry.
"""

from __future__ import annotations

import ipaddress

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_IPV4_REFUSED = tuple(
    (ipaddress.IPv4Network(cidr), label)
    for cidr, label in (
        # Metadata endpoints first, so the refusal names them precisely.
        ("169.254.169.254/32", "cloud metadata address"),
        ("169.254.170.2/32", "cloud metadata address"),
        ("100.100.100.200/32", "cloud metadata address"),
        # Azure's WireServer sits on a public-looking address.
        ("168.63.129.16/32", "cloud metadata address"),
        ("0.0.0.0/8", "unspecified address"),
        ("10.0.0.0/8", "private address"),
        ("100.64.0.0/10", "carrier-grade NAT address"),
        ("127.0.0.0/8", "loopback address"),
        ("169.254.0.0/16", "link-local address"),
        ("172.16.0.0/12", "private address"),
        ("192.0.0.0/24", "IETF protocol assignment address"),
        ("192.0.2.0/24", "documentation address"),
        ("192.88.99.0/24", "6to4 relay anycast address"),
        ("192.168.0.0/16", "private address"),
        ("198.18.0.0/15", "benchmarking address"),
        ("198.51.100.0/24", "documentation address"),
        ("203.0.113.0/24", "documentation address"),
        ("224.0.0.0/4", "multicast address"),
        ("255.255.255.255/32", "broadcast address"),
        ("240.0.0.0/4", "reserved address"),
    )
)

_IPV6_REFUSED = tuple(
    (ipaddress.IPv6Network(cidr), label)
    for cidr, label in (
        ("fd00:ec2::254/128", "cloud metadata address"),
        ("::/128", "unspecified address"),
        ("::1/128", "loopback address"),
        # Local-use NAT64 may embed the IPv4 address at several offsets, and is
        # local by definition: refuse the whole prefix.
        ("64:ff9b:1::/48", "local-use NAT64 address"),
        ("100::/64", "discard-only address"),
        ("2001::/32", "Teredo address"),
        ("2001:2::/48", "benchmarking address"),
        ("2001:10::/28", "deprecated ORCHID address"),
        ("2001:db8::/32", "documentation address"),
        ("2001::/23", "IETF protocol assignment address"),
        ("3fff::/20", "documentation address"),
        ("fc00::/7", "unique-local address"),
        ("fe80::/10", "link-local address"),
        ("fec0::/10", "site-local address"),
        ("ff00::/8", "multicast address"),
    )
)

_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_LOOPBACK_V4 = ipaddress.IPv4Network("127.0.0.0/8")
_LOOPBACK_V6 = ipaddress.IPv6Address("::1")


def address_refusal(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why `ip` must not be contacted, or None for a public unicast address.

    `allow_loopback` admits exactly 127.0.0.0/8 and ::1: loopback reached
    through IPv4-mapped, NAT64 or 6to4 forms stays refused, so the switch
    opens no more than it says.
    """
    if allow_loopback and (
        (isinstance(ip, ipaddress.IPv4Address) and ip in _LOOPBACK_V4) or ip == _LOOPBACK_V6
    ):
        return None
    if isinstance(ip, ipaddress.IPv4Address):
        return _ipv4_refusal(ip)
    return _ipv6_refusal(ip)


def _ipv4_refusal(ip: ipaddress.IPv4Address) -> str | None:
    for network, label in _IPV4_REFUSED:
        if ip in network:
            return label
    # The table names the common ranges; the stdlib registry catches the rest.
    if ip.is_multicast or ip.is_reserved or not ip.is_global:
        return "non-public address"
    return None


def _ipv6_refusal(ip: ipaddress.IPv6Address) -> str | None:
    for network, label in _IPV6_REFUSED:
        if ip in network:
            return label
    # Forms that carry an IPv4 address are as dangerous as that address.
    embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _IPV4_MAPPED:
        reason = _ipv4_refusal(embedded)
        return f"IPv4-mapped {reason}" if reason else None
    if ip in _NAT64:
        reason = _ipv4_refusal(embedded)
        return f"NAT64 {reason}" if reason else None
    if ip in _IPV4_COMPATIBLE:
        reason = _ipv4_refusal(embedded)
        return f"IPv4-compatible {reason}" if reason else "deprecated IPv4-compatible address"
    if ip in _SIX_TO_FOUR:
        # 6to4 carries its IPv4 address in bits 16–47, right after 2002::.
        reason = _ipv4_refusal(ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF))
        return f"6to4 {reason}" if reason else None
    # Only 2000::/3 is allocated for global unicast; the rest is reserved.
    if ip not in _GLOBAL_UNICAST_V6:
        return "reserved address"
    if not ip.is_global:
        return "non-public address"
    return None
