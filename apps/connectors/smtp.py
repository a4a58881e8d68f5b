"""The Email connector (protocol `smtp`): actions send mail through the connection's server.

Connection config: `host` (required), `port` (default 587), `security` — "starttls"
(default; refused when the server does not offer it), "ssl" or "tls" (implicit TLS, the
default on port 465) or "none" — and `fromAddress` (or `from`), the default sender. Auth:
the username and password of SMTP AUTH (a Custom connection's `username` and `password`
fields, as the built-in Email connector has it, or Basic), or No Auth.

Action parameters read by name: `to` (a string or an array), `cc`, `bcc`, `from`, `replyTo`,
`subject`, `text`, `html`, `headers` (an object of extra header lines). The answer:
`{"status": 250, "messageId": "<…>", "accepted": [...], "rejected": [...]}`.

The SMTP host gets the same guard as an HTTP destination: it is resolved once, every address
is checked (loopback only with FASTN_HTTP_ALLOW_LOOPBACK) and the socket connects to the
checked address, while TLS verifies the certificate for the host name."""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid
from typing import Any

from apps.connectors.http_client import ConnectorError, HttpPolicy, checked_addresses
from apps.runtime import HostError

DEFAULT_PORT = 587
TIMEOUT_S = 30.0
SECURITY = ("starttls", "tls", "none")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str
    sender: str


def server_config(config: dict, *, connection_name: str) -> SmtpServer:
    host = str(config.get("host") or "").strip()
    if not host:
        raise HostError(
            "CONNECTION_INVALID",
            f"Connection {connection_name!r} has no SMTP host: set it in Integrations → "
            "Connections.",
        )
    try:
        port = int(config.get("port") or DEFAULT_PORT)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise HostError("CONNECTION_INVALID", f"Connection {connection_name!r}: bad SMTP port.")
    security = str(config.get("security") or ("tls" if port == 465 else "starttls")).lower()
    if security == "ssl":
        security = "tls"
    if security not in SECURITY:
        raise HostError(
            "CONNECTION_INVALID",
            f"Connection {connection_name!r}: security is one of {', '.join(SECURITY)}.",
        )
    return SmtpServer(
        host, port, security, str(config.get("fromAddress") or config.get("from") or "")
    )


class _Guarded:
    """Connect to the address that was checked, not to whatever the name resolves to now."""

    address: str

    def _get_socket(self, host, port, timeout):
        return socket.create_connection((self.address, port), timeout)


class _GuardedSMTP(_Guarded, smtplib.SMTP):
    pass


class _GuardedSMTPSSL(_Guarded, smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        raw = socket.create_connection((self.address, port), timeout)
        return self.context.wrap_socket(raw, server_hostname=self._host)


def _tls_context(policy: HttpPolicy) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=policy.ca_file) if policy.ca_file else (
        ssl.create_default_context()
    )  # fmt: skip


def open_session(
    server: SmtpServer,
    credential: dict | None,
    policy: HttpPolicy,
    *,
    timeout_s: float,
) -> smtplib.SMTP:
    """A logged-in SMTP session on a checked address (the caller quits it).

    1. Resolve the host and check every address; try them in order.
    2. Greet; upgrade with STARTTLS unless security is "tls" (already) or "none".
    3. Log in when the connection has a username."""
    addresses = checked_addresses(server.host, server.port, policy)
    timeout = max(0.1, min(TIMEOUT_S, timeout_s))
    context = _tls_context(policy)
    last: OSError | None = None
    for address in addresses:
        session: smtplib.SMTP
        if server.security == "tls":
            session = _GuardedSMTPSSL(local_hostname=socket.gethostname(), timeout=timeout,
                                      context=context)  # fmt: skip
        else:
            session = _GuardedSMTP(local_hostname=socket.gethostname(), timeout=timeout)
        session.address = str(address)
        try:
            session.connect(server.host, server.port)
            break
        except OSError as exc:
            session.close()
            last = exc
    else:
        raise ConnectorError(
            "CONNECTION_FAILED",
            f"Could not connect to the SMTP server {server.host}:{server.port}: {last}",
            permanent=False,
        )
    try:
        session.ehlo()
        if server.security == "starttls":
            if not session.has_extn("starttls"):
                raise HostError(
                    "CONNECTION_INVALID",
                    f"The SMTP server {server.host} does not offer STARTTLS; set the "
                    "connection's security to tls, or to none to send without encryption.",
                )
            session.starttls(context=context)
            session.ehlo()
        username = (credential or {}).get("username")
        if username:
            session.login(username, (credential or {}).get("password", ""))
    except BaseException:
        _quit(session)
        raise
    return session


def _quit(session: smtplib.SMTP) -> None:
    try:
        session.quit()
    except (smtplib.SMTPException, OSError):
        session.close()


def _addresses(value: Any, name: str) -> list[str]:
    items = value if isinstance(value, list) else [value] if value else []
    found = []
    for item in items:
        if not isinstance(item, str):
            raise HostError("INVALID_REQUEST", f"{name} must be a string or an array of strings")
        found += [address for _name, address in getaddresses([item]) if address]
    return found


def build_message(values: dict, server: SmtpServer, credential: dict | None):
    """The message and its envelope (sender, recipients, Bcc included)."""
    sender = values.get("from") or server.sender or (credential or {}).get("username") or ""
    if not isinstance(sender, str) or "@" not in sender:
        raise HostError(
            "INVALID_REQUEST",
            "from is required: pass it, or set the connection's default sender (from)",
        )
    to = _addresses(values.get("to"), "to")
    cc = _addresses(values.get("cc"), "cc")
    bcc = _addresses(values.get("bcc"), "bcc")
    if not to + cc + bcc:
        raise HostError("INVALID_REQUEST", "to is required (an address or an array of them)")
    message = EmailMessage()
    try:
        message["From"] = sender
        if values.get("to"):
            message["To"] = ", ".join(_as_list(values["to"]))
        if values.get("cc"):
            message["Cc"] = ", ".join(_as_list(values["cc"]))
        if values.get("replyTo"):
            message["Reply-To"] = ", ".join(_as_list(values["replyTo"]))
        message["Subject"] = str(values.get("subject") or "")
        domain = sender.rpartition("@")[2].strip("> ") or None
        message["Message-ID"] = make_msgid(domain=domain)
        for name, value in (values.get("headers") or {}).items():
            message[str(name)] = str(value)
    except ValueError as exc:  # a line break in a header: an injection attempt or a mistake
        raise HostError("INVALID_REQUEST", f"Invalid header: {exc}") from None
    text, html = values.get("text"), values.get("html")
    message.set_content(str(text) if text is not None else "")
    if html is not None:
        message.add_alternative(str(html), subtype="html")
    _sender_name, envelope_from = getaddresses([sender])[0]
    return message, envelope_from or sender, to + cc + bcc


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def send_mail(
    values: dict,
    server: SmtpServer,
    credential: dict | None,
    policy: HttpPolicy,
    *,
    timeout_s: float,
) -> dict:
    message, envelope_from, recipients = build_message(values, server, credential)
    session = open_session(server, credential, policy, timeout_s=timeout_s)
    try:
        refused = session.send_message(message, from_addr=envelope_from, to_addrs=recipients)
    finally:
        _quit(session)
    return {
        "status": 250,
        "messageId": message["Message-ID"],
        "accepted": [r for r in recipients if r not in refused],
        "rejected": sorted(refused),
    }


def smtp_failure(exc: Exception) -> tuple[int | None, Any, bool]:
    """(SMTP code, what the server said, permanent) of a failed SMTP exchange, or
    (None, None, False) when it is not the server's answer (a network error)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        rejected = {
            address: {"code": code, "message": _text(reply)}
            for address, (code, reply) in exc.recipients.items()
        }
        code = next(iter(exc.recipients.values()))[0] if exc.recipients else 550
        return code, {"rejected": rejected}, code >= 500
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code, {"code": exc.smtp_code, "message": _text(exc.smtp_error)}, (
            exc.smtp_code >= 500
        )  # fmt: skip
    return None, None, False


def _text(reply: Any) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
