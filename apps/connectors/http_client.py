"""The generic HTTP connector behind `fastn.connector.http.request(...)`.

User code chooses the URL, so this client is the one place where a workflow
could reach the console's own network or a cloud metadata service. For every
call it:

1. validates the parameters written in JS, naming the offending field
   (`INVALID_REQUEST`);
2. refuses non-HTTP schemes, cloud metadata host names and every address that
   is not public unicast — checking *all* addresses the resolver returns, so
   odd literals (`2130706433`, `0x7f.1`) are judged by what they resolve to;
3. connects to the address it checked: the URL handed to httpx carries that IP
   while the Host header, TLS SNI and certificate check keep the original host
   name, so no second DNS answer (rebinding) is ever used;
4. follows redirects itself, repeating 2–3 on every hop;
5. streams the body under a byte cap and a wall-clock deadline.

The answer is `{"status", "headers", "body"}`. Header names are lower-case and
repeated headers are joined with ", ". The body is parsed JSON when the
content-type says JSON (the text when it does not parse), text for textual
types, and base64 for anything else — then `"bodyEncoding": "base64"` is added.
"""

from __future__ import annotations

import base64
import codecs
import ipaddress
import json
import math
import re
import socket
import ssl
import time
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from apps.connectors.addresses import IPAddress, address_refusal
from fastn_console.strictjson import json_type

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PARAMS = ("method", "url", "headers", "query", "body", "timeout")

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# The client derives these from the URL and the body; letting code set them
# would allow a request whose framing disagrees with what is actually sent.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})
# Credentials that must not travel to another origin on a redirect.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Printable ASCII and tab: anything else is either a header-injection attempt
# (CR, LF, NUL) or text that has no single agreed wire encoding.
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
_HOSTNAME = re.compile(r"[A-Za-z0-9_.-]+")
_MAX_URL_LENGTH = 8192
_USER_AGENT = "fastn-console-http/0.1"

# Names that reach instance metadata without a routable address, so the
# address check alone may not see them for what they are.
_METADATA_HOSTNAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)


class ConnectorError(Exception):
    """A connector call that failed; `permanent` tells the caller whether a retry can help."""

    def __init__(
        self, code: str, message: str, *, permanent: bool, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.permanent = permanent
        self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class HttpPolicy:
    """Operator-side limits; user code can lower the timeout but never raise a limit. The caller
    builds it from its own configuration (the console: FASTN_HTTP_ALLOW_LOOPBACK in settings)."""

    allow_loopback: bool = False
    max_response_bytes: int = 5_000_000
    default_timeout_s: float = 30.0
    max_timeout_s: float = 120.0
    max_redirects: int = 5
    # A PEM bundle to trust instead of certifi's (private PKI, tests).
    ca_file: str | None = None


@dataclass
class _Hop:
    method: str
    url: httpx.URL
    headers: list[tuple[str, str]]
    body: bytes | None


def http_request(params: dict[str, Any], policy: HttpPolicy) -> dict[str, Any]:
    """Run one request written in JS as `{method, url, headers, query, body, timeout}`.

    1. Validate and normalise the parameters.
    2. Send the request to a checked address (see `_send`).
    3. On 301/302/303/307/308 with a Location, check the target and go back to
       2, at most `policy.max_redirects` times.
    4. Read the final body under the size cap and shape the answer.

    The whole call, redirects and body included, shares one deadline.
    """
    return http_exchange(params, policy).answer


def http_exchange(params: dict[str, Any], policy: HttpPolicy) -> Exchange:
    """`http_request` with what a trace records besides the answer."""
    hop, timeout = _validate(params, policy)
    return _exchange(hop, policy, time.monotonic() + timeout, frozenset())


@dataclass(frozen=True)
class PreparedRequest:
    """`{method, url, headers, query, body, timeout}` written in JS, validated and encoded:
    what `send_prepared` takes (the query is in the URL)."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes | None
    timeout_s: float


def prepare_request(params: dict[str, Any], policy: HttpPolicy) -> PreparedRequest:
    """Validate `http_request`'s parameters without sending (INVALID_REQUEST as there)."""
    hop, timeout = _validate(params, policy)
    return PreparedRequest(hop.method, str(hop.url), hop.headers, hop.body, timeout)


@dataclass
class Exchange:
    """What `send_prepared` answers: the JS-shaped answer and what a trace records."""

    answer: dict[str, Any]  # {"status", "headers", "body"} (+ "bodyEncoding")
    header_items: list[tuple[str, str]]  # the final response's headers, one pair per line
    url: str  # the final URL, after redirects
    request_bytes: int
    response_bytes: int


def send_prepared(
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
    policy: HttpPolicy,
    *,
    timeout_s: float,
    private_headers: frozenset[str] = frozenset(),
) -> Exchange:
    """Send a request the caller built (a connector action with its auth injected) through
    the same guard as `http_request`: the URL, the headers and every resolved address are
    checked, redirects are followed hop by hop with the same checks, the body is capped.
    Headers named in `private_headers` (lower case: an API key's header) are dropped, like
    Authorization, on a redirect to another origin."""
    if method not in METHODS:
        raise _invalid(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    hop = _Hop(
        method=method,
        url=_validate_url(url),
        headers=_checked_header_items(headers),
        body=body,
    )
    if not timeout_s > 0:
        raise ConnectorError("HTTP_TIMEOUT", "The request timed out", permanent=False)
    timeout = min(timeout_s, policy.max_timeout_s)
    return _exchange(hop, policy, time.monotonic() + timeout, private_headers)


def _exchange(
    hop: _Hop, policy: HttpPolicy, deadline: float, private_headers: frozenset[str]
) -> Exchange:
    request_bytes = len(hop.body or b"")
    redirects = 0
    while True:
        # A fresh pool per hop: a TLS connection verified for one host name must
        # never carry the request for another name that resolved to the same IP.
        with httpx.HTTPTransport(verify=_ssl_context(policy.ca_file), trust_env=False) as pool:
            response = _send(pool, hop, policy, deadline, redirects)
            try:
                target = _redirect_target(response, hop.url)
                if target is None:
                    answer, size = _read_response(response, hop, policy, deadline)
                    return Exchange(
                        answer=answer,
                        header_items=list(response.headers.multi_items()),
                        url=str(hop.url),
                        request_bytes=request_bytes,
                        response_bytes=size,
                    )
            finally:
                response.close()
        if redirects >= policy.max_redirects:
            raise ConnectorError(
                "TOO_MANY_REDIRECTS",
                f"Stopped after {policy.max_redirects} redirects; {hop.url} "
                f"redirects again to {target}",
                permanent=True,
                status=response.status_code,
            )
        redirects += 1
        hop = _follow(hop, response.status_code, target, private_headers)


# --- 1. parameters ------------------------------------------------------------


def _invalid(message: str) -> ConnectorError:
    return ConnectorError("INVALID_REQUEST", message, permanent=True)


def _validate(params: object, policy: HttpPolicy) -> tuple[_Hop, float]:
    if not isinstance(params, dict):
        raise _invalid(f"params must be an object, got {json_type(params)}")
    unknown = sorted(str(key) for key in params if key not in PARAMS)
    if unknown:
        # A typo such as `data:` or `params:` would otherwise be silently dropped.
        raise _invalid(f"Unknown parameter {unknown[0]!r}; the parameters are {', '.join(PARAMS)}")
    method = _validate_method(params.get("method"))
    url = _validate_url(params.get("url"))
    url = _merge_query(url, params.get("query"))
    headers = _validate_headers(params.get("headers"))
    body, content_type = _encode_body(params.get("body"))
    if content_type and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", content_type))
    timeout = _validate_timeout(params.get("timeout"), policy)
    return _Hop(method=method, url=url, headers=headers, body=body), timeout


def _validate_method(value: object) -> str:
    if value is None:
        return "GET"
    if not isinstance(value, str):
        raise _invalid(f'method must be a string such as "GET", got {json_type(value)}')
    # fetch() accepts lower-case method names, so JS authors will write them.
    method = value.strip().upper()
    if method not in METHODS:
        raise _invalid(f"method must be one of {', '.join(METHODS)}, got {value!r}")
    return method


def _validate_url(value: object) -> httpx.URL:
    if value is None:
        raise _invalid("url is required")
    if not isinstance(value, str):
        raise _invalid(f"url must be a string, got {json_type(value)}")
    # Like the WHATWG URL parser, ignore surrounding whitespace from templating.
    text = value.strip()
    if not text:
        raise _invalid("url must not be empty")
    if len(text) > _MAX_URL_LENGTH:
        raise _invalid(f"url is longer than {_MAX_URL_LENGTH} characters")
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise _invalid(f"url is not a valid URL: {exc}") from None
    if not url.scheme:
        raise _invalid(f"url must be absolute, starting with http:// or https:// (got {text!r})")
    problem = _url_problem(url)
    if problem:
        raise _invalid(f"url {problem}")
    return url.copy_with(fragment=None)


def _url_problem(url: httpx.URL) -> str | None:
    """What makes `url` unusable as a destination, for the first URL and every redirect."""
    if url.scheme not in ("http", "https"):
        return f"must use http or https, not {url.scheme}:"
    host = url.raw_host.decode("ascii")
    if not host:
        return "has no host"
    if url.port is not None and not 0 < url.port < 65536:
        return f"port {url.port} is out of range"
    if url.userinfo:
        # Also closes the `http://trusted@evil/` confusion; fetch() refuses these too.
        return "must not contain credentials (user:password@); send an Authorization header"
    if ":" in host:
        if "%" in host:
            # A zone picks an interface, which is a local-network decision.
            return "must not contain an IPv6 zone identifier"
    elif not _HOSTNAME.fullmatch(host):
        return f"host {host!r} is not a valid host name"
    return None


def _merge_query(url: httpx.URL, value: object) -> httpx.URL:
    if value is None:
        return url
    if not isinstance(value, dict):
        raise _invalid(f"query must be an object of names to values, got {json_type(value)}")
    pairs: list[tuple[str, str]] = []
    for name, item in value.items():
        items = item if isinstance(item, list) else [item]
        for element in items:
            pairs.append((str(name), _query_value(name, element)))
    if not pairs:
        return url
    # %20 rather than "+": every server decodes it, form decoders and others alike.
    encoded = urlencode(pairs, quote_via=quote, safe="")
    # Append to the raw query so the URL's own parameters keep their exact encoding.
    existing = url.query.decode("ascii")
    return url.copy_with(query=(f"{existing}&{encoded}" if existing else encoded).encode("ascii"))


def _query_value(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(f"query[{name!r}] must be a finite number, got {value}")
        # JS prints 3.0 as "3"; JSON may have turned an integer into a float.
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    if value is None:
        raise _invalid(f"query[{name!r}] is null; omit the key or pass a string")
    raise _invalid(
        f"query[{name!r}] must be a string, number, boolean or an array of them, "
        f"got {json_type(value)}"
    )


def _validate_headers(value: object) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise _invalid(f"headers must be an object of names to strings, got {json_type(value)}")
    return _checked_header_items(list(value.items()))


def _checked_header_items(items: list[tuple[Any, Any]]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for name, item in items:
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise _invalid(f"headers: {name!r} is not a valid header name")
        lowered = name.lower()
        if lowered in seen:
            raise _invalid(f"headers has both {seen[lowered]!r} and {name!r}; keep one")
        seen[lowered] = name
        if lowered in _RESERVED_HEADERS:
            raise _invalid(f"headers[{name!r}] is set by the client and cannot be given")
        if not isinstance(item, str):
            raise _invalid(f"headers[{name!r}] must be a string, got {json_type(item)}")
        if not _HEADER_VALUE.fullmatch(item):
            raise _invalid(
                f"headers[{name!r}] must be printable ASCII without line breaks; "
                "encode other text (e.g. percent- or base64-encoding)"
            )
        headers.append((name, item))
    return headers


def _encode_body(value: object) -> tuple[bytes | None, str | None]:
    """Return the bytes to send and the content-type to use when the caller set none."""
    if value is None:
        return None, None
    if isinstance(value, str):
        # fetch() labels a string body this way; code that means JSON sets its own type.
        return value.encode("utf-8"), "text/plain;charset=UTF-8"
    if isinstance(value, dict | list):
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise _invalid(f"body cannot be encoded as JSON: {exc}") from None
        return text.encode("utf-8"), "application/json"
    raise _invalid(
        f"body must be an object, an array or a string, got {json_type(value)}; "
        "use JSON.stringify() to send other values"
    )


def _validate_timeout(value: object, policy: HttpPolicy) -> float:
    if value is None:
        return min(policy.default_timeout_s, policy.max_timeout_s)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"timeout must be a number of seconds, got {json_type(value)}")
    if not math.isfinite(value) or value <= 0:
        raise _invalid(f"timeout must be a positive number of seconds, got {value}")
    return min(float(value), policy.max_timeout_s)


# --- 2. destinations ------------------------------------------------------------


def _hostname(url: httpx.URL) -> str:
    host = url.raw_host.decode("ascii")
    # "127.0.0.1." would skip the numeric parse and go to DNS; a root dot never
    # changes which host is meant, so judge (and name, for SNI) the host without it.
    return host[:-1] if host.endswith(".") else host


def _refused(message: str, redirects: int) -> ConnectorError:
    if redirects:
        message = f"{message} (reached through redirect {redirects})"
    return ConnectorError("DESTINATION_REFUSED", message, permanent=True)


def _checked_addresses(host: str, port: int, policy: HttpPolicy, redirects: int) -> list[IPAddress]:
    """Resolve `host` once and return its addresses, refusing if any one is refused.

    Refusing on any (not only the first) closes the trick of a name with one
    public and one private record, where the connection may land on either.
    """
    if host in _METADATA_HOSTNAMES:
        raise _refused(f"Refused to connect to {host} (cloud metadata host name)", redirects)
    if host.endswith(".internal"):
        raise _refused(f"Refused to connect to {host} (internal-only host name)", redirects)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise ConnectorError(
            "CONNECTION_FAILED",
            f"Could not resolve host {host}: {exc.strerror}",
            # An unknown name stays unknown; other resolver failures may pass.
            permanent=exc.errno == socket.EAI_NONAME,
        ) from None
    addresses: list[IPAddress] = []
    for family, _type, _proto, _canonname, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            raise _refused(f"Refused to connect to {host}: unsupported address family", redirects)
        ip = ipaddress.ip_address(sockaddr[0])
        reason = address_refusal(ip, allow_loopback=policy.allow_loopback)
        if reason:
            suffix = "" if str(ip) == host else f" for host {host}"
            raise _refused(f"Refused to connect to {ip} ({reason}){suffix}", redirects)
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise ConnectorError(
            "CONNECTION_FAILED", f"Host {host} resolved to no addresses", permanent=False
        )
    return addresses


def checked_addresses(host: str, port: int, policy: HttpPolicy) -> list[IPAddress]:
    """The addresses of `host`, every one checked like an HTTP destination's: for a
    connector that speaks another protocol (SMTP) and must connect to what was checked."""
    if not host or (not _HOSTNAME.fullmatch(host.strip("[]")) and ":" not in host):
        raise _invalid(f"host {host!r} is not a valid host name")
    return _checked_addresses(host.strip("[]").rstrip("."), port, policy, 0)


# --- 3. sending ---------------------------------------------------------------


@lru_cache(maxsize=4)
def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    return httpx.create_ssl_context(trust_env=False)


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ConnectorError("HTTP_TIMEOUT", "The request timed out", permanent=False)
    return remaining


def _send(
    transport: httpx.HTTPTransport,
    hop: _Hop,
    policy: HttpPolicy,
    deadline: float,
    redirects: int,
) -> httpx.Response:
    """Send `hop` to one of its host's checked addresses and return the streaming response.

    1. Resolve the host once and check every address.
    2. Rewrite the URL's host to the checked IP; send the original authority as
       Host and the original name as SNI, which httpcore also uses to verify
       the certificate — the IP is only where the socket goes.
    3. Try the addresses in resolver order, moving on only when the connection
       could not be opened (nothing was sent yet).
    """
    host = _hostname(hop.url)
    port = hop.url.port or (443 if hop.url.scheme == "https" else 80)
    addresses = _checked_addresses(host, port, policy, redirects)
    headers = [("Host", hop.url.netloc.decode("ascii"))]
    present = {name.lower() for name, _ in hop.headers}
    for name, value in (
        ("User-Agent", _USER_AGENT),
        ("Accept", "*/*"),
        # Only codings `_Decoder` can decode with a bound on the output size.
        ("Accept-Encoding", "gzip, deflate"),
    ):
        if name.lower() not in present:
            headers.append((name, value))
    headers.extend(hop.headers)
    last_error: httpx.ConnectError | None = None
    for ip in addresses:
        request = httpx.Request(
            hop.method,
            hop.url.copy_with(host=str(ip)),
            headers=headers,
            content=hop.body,
            extensions={
                "timeout": httpx.Timeout(_remaining(deadline)).as_dict(),
                "sni_hostname": host,
            },
        )
        try:
            return transport.handle_request(request)
        except httpx.ConnectError as exc:
            if _certificate_error(exc):
                raise _transport_error(exc, host, None) from None
            last_error = exc
        except httpx.HTTPError as exc:
            raise _transport_error(exc, host, None) from None
    assert last_error is not None
    raise _transport_error(last_error, host, None) from None


def _certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _transport_error(exc: httpx.HTTPError, host: str, status: int | None) -> ConnectorError:
    if isinstance(exc, httpx.TimeoutException):
        return ConnectorError(
            "HTTP_TIMEOUT", f"The request to {host} timed out", permanent=False, status=status
        )
    certificate = _certificate_error(exc)
    if certificate is not None:
        return ConnectorError(
            "CONNECTION_FAILED",
            f"TLS certificate verification failed for {host}: {certificate.verify_message}",
            permanent=True,
            status=status,
        )
    return ConnectorError(
        "CONNECTION_FAILED",
        f"Connection to {host} failed: {exc or type(exc).__name__}",
        permanent=False,
        status=status,
    )


def _redirect_target(response: httpx.Response, url: httpx.URL) -> httpx.URL | None:
    if response.status_code not in _REDIRECT_STATUSES:
        return None
    location = response.headers.get("location")
    if not location:
        # A redirect status without a target is just an answer to hand back.
        return None
    try:
        return url.join(location.strip()).copy_with(fragment=None)
    except httpx.InvalidURL:
        raise ConnectorError(
            "DESTINATION_REFUSED",
            f"Refused to follow redirect from {url} to an invalid URL: {location!r}",
            permanent=True,
            status=response.status_code,
        ) from None


def _follow(
    hop: _Hop, status: int, target: httpx.URL, private_headers: frozenset[str] = frozenset()
) -> _Hop:
    """The next hop after a redirect, with browser semantics for method and body."""
    problem = _url_problem(target)
    if problem:
        raise ConnectorError(
            "DESTINATION_REFUSED",
            f"Refused to follow redirect from {hop.url} to {target}: the URL {problem}",
            permanent=True,
            status=status,
        )
    method, body, headers = hop.method, hop.body, list(hop.headers)
    # 303 always means "now GET it"; 301/302 after POST are treated the same
    # way by every browser, and servers rely on it. 307/308 keep everything.
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = [(n, v) for n, v in headers if not n.lower().startswith("content-")]
    if not _same_origin(hop.url, target):
        headers = [
            (n, v)
            for n, v in headers
            if n.lower() not in _CREDENTIAL_HEADERS and n.lower() not in private_headers
        ]
    return _Hop(method=method, url=target, headers=headers, body=body)


def _same_origin(source: httpx.URL, target: httpx.URL) -> bool:
    def origin(url: httpx.URL) -> tuple[str, str, int]:
        return url.scheme, _hostname(url), url.port or (443 if url.scheme == "https" else 80)

    if origin(source) == origin(target):
        return True
    # An http → https upgrade on the default ports keeps talking to the same party.
    return (
        source.scheme == "http"
        and target.scheme == "https"
        and _hostname(source) == _hostname(target)
        and source.port is None
        and target.port is None
    )


# --- 4. the answer --------------------------------------------------------------


def _read_response(
    response: httpx.Response, hop: _Hop, policy: HttpPolicy, deadline: float
) -> tuple[dict[str, Any], int]:
    """The answer and the size of the body as received."""
    status = response.status_code
    headers: dict[str, str] = {}
    for name, value in response.headers.multi_items():
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if hop.method == "HEAD" or status in (204, 304) or status < 200:
        raw, decoded = b"", True
    else:
        raw, decoded = _read_body(response, hop, policy, deadline)
    answer: dict[str, Any] = {"status": status, "headers": headers}
    answer.update(_shape_body(raw, headers.get("content-type", ""), decoded=decoded))
    return answer, len(raw)


def _read_body(
    response: httpx.Response, hop: _Hop, policy: HttpPolicy, deadline: float
) -> tuple[bytes, bool]:
    """Return the body and whether its content-coding was undone.

    The cap applies to the raw and to the decoded bytes, and decompression is
    asked for at most cap + 1 bytes per chunk, so a small gzip bomb cannot
    inflate in memory.
    """
    limit = policy.max_response_bytes
    host = _hostname(hop.url)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(host, limit, response.status_code)
    decoder = _Decoder.for_coding(response.headers.get("content-encoding", ""))
    body = bytearray()
    received = 0
    try:
        for chunk in response.iter_raw():
            received += len(chunk)
            if received > limit:
                raise _too_large(host, limit, response.status_code)
            body += decoder.feed(chunk, limit - len(body) + 1) if decoder else chunk
            if len(body) > limit:
                raise _too_large(host, limit, response.status_code)
            # httpx's read timeout bounds each read, not the sum of a slow drip.
            if time.monotonic() > deadline:
                raise ConnectorError(
                    "HTTP_TIMEOUT",
                    f"The request to {host} timed out while reading the body",
                    permanent=False,
                    status=response.status_code,
                )
    except httpx.HTTPError as exc:
        raise _transport_error(exc, host, response.status_code) from None
    except zlib.error as exc:
        raise ConnectorError(
            "CONNECTION_FAILED",
            f"The response from {host} has a corrupt compressed body: {exc}",
            permanent=False,
            status=response.status_code,
        ) from None
    return bytes(body), decoder is not None or _identity(response)


def _identity(response: httpx.Response) -> bool:
    return response.headers.get("content-encoding", "").strip().lower() in ("", "identity")


def _too_large(host: str, limit: int, status: int) -> ConnectorError:
    return ConnectorError(
        "RESPONSE_TOO_LARGE",
        f"The response from {host} is larger than {limit} bytes",
        permanent=True,
        status=status,
    )


class _Decoder:
    """Bounded gzip/deflate decoding: never produces more than it is asked for."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._started = False
        # gzip has its own header; "deflate" is meant to be zlib-wrapped.
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | (16 if coding == "gzip" else 0))

    @classmethod
    def for_coding(cls, header: str) -> _Decoder | None:
        coding = header.strip().lower()
        return cls(coding) if coding in ("gzip", "x-gzip", "deflate") else None

    def feed(self, chunk: bytes, max_length: int) -> bytes:
        try:
            output = self._zlib.decompress(chunk, max_length)
        except zlib.error:
            if self._started or self._coding != "deflate":
                raise
            # Some servers send raw deflate without the zlib wrapper.
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            output = self._zlib.decompress(chunk, max_length)
        self._started = True
        return output


def _shape_body(raw: bytes, content_type: str, *, decoded: bool) -> dict[str, Any]:
    if not raw:
        return {"body": ""}
    media, _, parameters = content_type.partition(";")
    media = media.strip().lower()
    charset = _charset(parameters)
    if decoded and _is_json(media):
        text = raw.decode(charset or "utf-8-sig", errors="replace")
        try:
            return {"body": json.loads(text)}
        except ValueError:
            return {"body": text}
    if decoded and _is_text(media):
        return {"body": raw.decode(charset or "utf-8", errors="replace")}
    if decoded and not media:
        # Untyped bodies are usually text; keep them readable when they decode.
        try:
            return {"body": raw.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {"body": base64.b64encode(raw).decode("ascii"), "bodyEncoding": "base64"}


def _charset(parameters: str) -> str | None:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            name = value.strip().strip('"')
            try:
                return codecs.lookup(name).name
            except LookupError:
                return None
    return None


def _is_json(media: str) -> bool:
    return media in ("application/json", "text/json") or media.endswith("+json")


def _is_text(media: str) -> bool:
    kind, _, subtype = media.partition("/")
    return (
        kind == "text"
        or subtype
        in (
            "json",
            "xml",
            "javascript",
            "ecmascript",
            "x-www-form-urlencoded",
            "x-ndjson",
            "graphql",
            "yaml",
            "x-yaml",
        )
        or subtype.endswith(("+json", "+xml", "+yaml"))
    )
