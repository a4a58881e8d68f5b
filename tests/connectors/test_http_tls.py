"""HTTPS while connecting by IP: SNI, Host and certificate checks keep the original host name.

The loopback TLS server's certificate names only api.example.test (no IP
address), so a handshake that succeeds proves the client verified the name,
not the address it connected to.
"""

from __future__ import annotations

import pytest

from apps.connectors.http_client import ConnectorError, HttpPolicy, http_request

from .conftest import TLS_HOSTNAME, TlsFiles
from .loopback_server import LoopbackServer
from .netguard import NetGuard


@pytest.fixture
def policy(tls_files: TlsFiles) -> HttpPolicy:
    return HttpPolicy(allow_loopback=True, ca_file=str(tls_files.ca))


def test_https_by_name_sends_sni_and_host_for_the_name_to_the_checked_ip(
    netguard: NetGuard, https: LoopbackServer, policy: HttpPolicy
) -> None:
    netguard.add_host(TLS_HOSTNAME, "127.0.0.1")
    answer = http_request({"url": https.url("/echo", host=TLS_HOSTNAME)}, policy)
    assert answer["status"] == 200
    assert answer["body"]["headers"]["host"] == f"{TLS_HOSTNAME}:{https.port}"
    assert https.sni_names == [TLS_HOSTNAME]
    assert [a.destination for a in netguard.connections] == [repr(("127.0.0.1", https.port))]
    assert netguard.lookups_of(TLS_HOSTNAME) == 1


def test_https_name_with_trailing_dot_uses_the_bare_name_for_sni(
    netguard: NetGuard, https: LoopbackServer, policy: HttpPolicy
) -> None:
    netguard.add_host(TLS_HOSTNAME, "127.0.0.1")
    answer = http_request({"url": https.url("/json", host=TLS_HOSTNAME + ".")}, policy)
    assert answer["status"] == 200
    assert https.sni_names == [TLS_HOSTNAME]


def test_certificate_is_checked_against_the_name_not_the_address(
    netguard: NetGuard, https: LoopbackServer, policy: HttpPolicy
) -> None:
    # Same IP, same server, different name: the certificate does not cover it.
    netguard.add_host("other.example.test", "127.0.0.1")
    with pytest.raises(ConnectorError) as caught:
        http_request({"url": https.url("/json", host="other.example.test")}, policy)
    error = caught.value
    assert (error.code, error.permanent) == ("CONNECTION_FAILED", True)
    assert error.message.startswith("TLS certificate verification failed for other.example.test")
    assert https.sni_names == ["other.example.test"]
    assert https.requests == []


def test_https_to_an_ip_literal_verifies_the_ip(https: LoopbackServer, policy: HttpPolicy) -> None:
    with pytest.raises(ConnectorError) as caught:
        http_request({"url": https.url("/json")}, policy)
    assert caught.value.message.startswith("TLS certificate verification failed for 127.0.0.1")
    assert https.requests == []


def test_default_trust_store_rejects_the_private_ca(
    netguard: NetGuard, https: LoopbackServer
) -> None:
    netguard.add_host(TLS_HOSTNAME, "127.0.0.1")
    with pytest.raises(ConnectorError) as caught:
        http_request(
            {"url": https.url("/json", host=TLS_HOSTNAME)}, HttpPolicy(allow_loopback=True)
        )
    assert "certificate verification failed" in caught.value.message
    assert https.requests == []


def test_https_redirect_rechecks_and_keeps_sni_per_hop(
    netguard: NetGuard, https: LoopbackServer, policy: HttpPolicy
) -> None:
    netguard.add_host(TLS_HOSTNAME, "127.0.0.1")
    answer = http_request(
        {"url": https.url("/redirect", host=TLS_HOSTNAME, to="/echo", status=307)}, policy
    )
    assert answer["body"]["headers"]["host"] == f"{TLS_HOSTNAME}:{https.port}"
    assert netguard.lookups_of(TLS_HOSTNAME) == 2
    assert set(https.sni_names) == {TLS_HOSTNAME}


def test_redirect_to_another_name_on_the_same_ip_gets_its_own_tls_check(
    netguard: NetGuard, https: LoopbackServer, policy: HttpPolicy
) -> None:
    # Reusing the connection verified for api.example.test would skip the
    # check for other.example.test, whose name the certificate does not cover.
    netguard.add_host(TLS_HOSTNAME, "127.0.0.1")
    netguard.add_host("other.example.test", "127.0.0.1")
    target = https.url("/json", host="other.example.test")
    with pytest.raises(ConnectorError) as caught:
        http_request({"url": https.url("/redirect", host=TLS_HOSTNAME, to=target)}, policy)
    assert "TLS certificate verification failed for other.example.test" in caught.value.message
    assert [request["path"] for request in https.requests] == ["/redirect"]
