"""Parameter validation: every mistake is INVALID_REQUEST with a message naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from apps.connectors.http_client import ConnectorError, HttpPolicy, http_request
from apps.executions.host import call_builtin_connector
from apps.runtime import HostError

from .loopback_server import LoopbackServer
from .netguard import NetGuard

URL = "http://127.0.0.1:9/"

CASES = [
    ("not an object", "params must be an object, got string"),
    (
        {"url": URL, "data": {}},
        "Unknown parameter 'data'; the parameters are method, url, headers, query, body, timeout",
    ),
    # method
    ({"url": URL, "method": 1}, 'method must be a string such as "GET", got number'),
    (
        {"url": URL, "method": "FETCH"},
        "method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, got 'FETCH'",
    ),
    (
        {"url": URL, "method": "CONNECT"},
        "method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, got 'CONNECT'",
    ),
    (
        {"url": URL, "method": "TRACE"},
        "method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, got 'TRACE'",
    ),
    # url
    ({}, "url is required"),
    ({"url": None}, "url is required"),
    ({"url": 42}, "url must be a string, got number"),
    ({"url": ["http://x/"]}, "url must be a string, got array"),
    ({"url": "   "}, "url must not be empty"),
    ({"url": "http://x/" + "a" * 8192}, "url is longer than 8192 characters"),
    (
        {"url": "example.com/path"},
        "url must be absolute, starting with http:// or https:// (got 'example.com/path')",
    ),
    ({"url": "file:///etc/passwd"}, "url must use http or https, not file:"),
    ({"url": "ftp://example.com/x"}, "url must use http or https, not ftp:"),
    ({"url": "gopher://example.com:70/_x"}, "url must use http or https, not gopher:"),
    ({"url": "data:text/plain,hi"}, "url must use http or https, not data:"),
    ({"url": "javascript:alert(1)"}, "url must use http or https, not javascript:"),
    ({"url": "ws://example.com/"}, "url must use http or https, not ws:"),
    ({"url": "http:///path"}, "url has no host"),
    (
        {"url": "http://user:pw@example.com/"},
        "url must not contain credentials (user:password@); send an Authorization header",
    ),
    (
        {"url": "http://example.com@127.0.0.1/"},
        "url must not contain credentials (user:password@); send an Authorization header",
    ),
    ({"url": "http://exa mple.com/"}, "url host 'exa%20mple.com' is not a valid host name"),
    (
        {"url": "http://example.com/\x00"},
        "url is not a valid URL: Invalid non-printable ASCII "
        "character in URL, '\\x00' at position 19.",
    ),
    ({"url": "http://example.com:99999/"}, "url port 99999 is out of range"),
    ({"url": "http://example.com:0/"}, "url port 0 is out of range"),
    ({"url": "http://example.com:-1/"}, "url port -1 is out of range"),
    ({"url": "http://example.com:1a/"}, "url is not a valid URL: Invalid port: '1a'"),
    # headers
    ({"url": URL, "headers": ["X: y"]}, "headers must be an object of names to strings, got array"),
    ({"url": URL, "headers": {"X-Count": 5}}, "headers['X-Count'] must be a string, got number"),
    ({"url": URL, "headers": {"X-None": None}}, "headers['X-None'] must be a string, got null"),
    ({"url": URL, "headers": {"Bad Name": "x"}}, "headers: 'Bad Name' is not a valid header name"),
    ({"url": URL, "headers": {"": "x"}}, "headers: '' is not a valid header name"),
    (
        {"url": URL, "headers": {"X-Evil": "a\r\nInjected: 1"}},
        "headers['X-Evil'] must be "
        "printable ASCII without line breaks; encode other text (e.g. percent- or "
        "base64-encoding)",
    ),
    (
        {"url": URL, "headers": {"X-Name": "Zoë"}},
        "headers['X-Name'] must be printable ASCII "
        "without line breaks; encode other text (e.g. percent- or base64-encoding)",
    ),
    (
        {"url": URL, "headers": {"Accept": "a", "accept": "b"}},
        "headers has both 'Accept' and 'accept'; keep one",
    ),
    (
        {"url": URL, "headers": {"Host": "internal"}},
        "headers['Host'] is set by the client and cannot be given",
    ),
    (
        {"url": URL, "headers": {"Content-Length": "5"}},
        "headers['Content-Length'] is set by the client and cannot be given",
    ),
    (
        {"url": URL, "headers": {"Transfer-Encoding": "chunked"}},
        "headers['Transfer-Encoding'] is set by the client and cannot be given",
    ),
    # query
    ({"url": URL, "query": "a=1"}, "query must be an object of names to values, got string"),
    ({"url": URL, "query": {"a": None}}, "query['a'] is null; omit the key or pass a string"),
    (
        {"url": URL, "query": {"a": {"b": 1}}},
        "query['a'] must be a string, number, boolean or an array of them, got object",
    ),
    (
        {"url": URL, "query": {"a": [1, [2]]}},
        "query['a'] must be a string, number, boolean or an array of them, got array",
    ),
    ({"url": URL, "query": {"a": float("nan")}}, "query['a'] must be a finite number, got nan"),
    # body
    (
        {"url": URL, "body": 5},
        "body must be an object, an array or a string, got number; use "
        "JSON.stringify() to send other values",
    ),
    (
        {"url": URL, "body": True},
        "body must be an object, an array or a string, got boolean; "
        "use JSON.stringify() to send other values",
    ),
    (
        {"url": URL, "body": {"x": float("inf")}},
        "body cannot be encoded as JSON: Out of range float values are not JSON compliant: inf",
    ),
    # timeout
    ({"url": URL, "timeout": "30"}, "timeout must be a number of seconds, got string"),
    ({"url": URL, "timeout": True}, "timeout must be a number of seconds, got boolean"),
    ({"url": URL, "timeout": 0}, "timeout must be a positive number of seconds, got 0"),
    ({"url": URL, "timeout": -1.5}, "timeout must be a positive number of seconds, got -1.5"),
    (
        {"url": URL, "timeout": float("inf")},
        "timeout must be a positive number of seconds, got inf",
    ),
]


@pytest.mark.parametrize(("params", "message"), CASES)
def test_invalid_params_are_refused_precisely(
    netguard: NetGuard, params: Any, message: str
) -> None:
    with pytest.raises(ConnectorError) as caught:
        http_request(params, HttpPolicy(allow_loopback=True))
    error = caught.value
    assert (error.code, error.message, error.permanent) == ("INVALID_REQUEST", message, True)
    assert str(error) == f"INVALID_REQUEST: {message}"
    # Validation happens before any lookup or connection.
    assert netguard.connections == []


def test_the_console_takes_allow_loopback_from_its_settings(settings, http: LoopbackServer) -> None:
    """FASTN_HTTP_ALLOW_LOOPBACK is read (and validated) in settings.py; the host passes it on."""
    settings.FASTN_HTTP_ALLOW_LOOPBACK = False
    with pytest.raises(HostError) as caught:
        call_builtin_connector("http", "request", {"url": http.url("/json")})
    assert "loopback address" in str(caught.value)

    settings.FASTN_HTTP_ALLOW_LOOPBACK = True
    answer = call_builtin_connector("http", "request", {"url": http.url("/json")})
    assert answer["status"] == 200
