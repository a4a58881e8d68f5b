"""Connector calls from workflows: `await fastn.connector.<slug>.<action>(params)`.

`ConnectorRun` serves one run's calls (the executions' host makes one per run):

1. resolve the connector for the run's environment (`selectors.resolve_connector`: DRAFT,
   test and named environments call a Space connector's latest version, live its live
   version) and the action; unknown ones fail naming what exists;
2. validate `params` against the action (`actions.validate_params`);
3. pick the connection: the run's customer's default (else newest active) connection for the
   connector, else the Space's — never another customer's — and decrypt its credential;
   resolution, connection and credential are cached for the rest of the run;
4. build the request (templates, path, query, headers, body), inject auth (`auth.py`), send
   it through the SSRF guard (`http_client.send_prepared`); a 429 is retried honouring
   Retry-After while it fits in the run's deadline; an OAuth 2.0 401 refreshes the token once;
   a Digest challenge is answered;
5. answer `{status, headers, body}` like `fastn.connector.http.request`, or fail with
   DATASOURCE_CONNECTION_ERROR carrying `step` and `datasourceDebug` (the service's status
   and body) when the service answered an error status.

`fastn.connector.http.request(...)` keeps its own shape (any status is an answer, no
retries); when the Space (or the run's customer) has an HTTP connection and the URL is under
its `baseUrl`, the connection's auth is added (headers the code sets itself win).

Every call leaves a trace row (`tracing.py`). Credentials never reach the sandbox: their
values (and Basic form) are redacted from what the service answers and added to the run's
redaction, so logs, output, steps and traces cannot show them either."""

from __future__ import annotations

import datetime as dt
import email.utils
import smtplib
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone

from apps.connectors import smtp, tracing
from apps.connectors.actions import (
    Outgoing,
    build_request,
    listing,
    suggestion,
    validate_params,
)
from apps.connectors.auth import (
    RECONNECT_HINT,
    AuthFailure,
    Binding,
    apply_auth,
    oauth_refresh,
    remember_credential,
)
from apps.connectors.credentials import CredentialUndecryptable, unseal
from apps.connectors.definition import Action, ConnectorDefinition
from apps.connectors.http_client import (
    ConnectorError,
    Exchange,
    HttpPolicy,
    http_exchange,
    prepare_request,
    send_prepared,
)
from apps.connectors.models import AuthMethod, Connection, ConnectionStatus
from apps.connectors.selectors import ResolvedConnector, resolve_connector, space_connector_names
from apps.connectors.services.connections import mark_status
from apps.runtime import HostError
from apps.runtime.redact import Redactor
from apps.secrets.errors import SecretError, SecretNotFound
from apps.secrets.services import secret_resolve
from fastn_console.strictjson import json_type

GENERIC = "http"
MAX_ATTEMPTS = 5  # requests per call when the service keeps answering 429
MIN_REQUEST_S = 1.0  # a retry must leave at least this much of the run for its request
DEFAULT_TIMEOUT_S = 30.0
LAST_USED_RESOLUTION = timedelta(minutes=1)
ERROR_BODY_CAP = 16 * 1024


def http_policy(**overrides: Any) -> HttpPolicy:
    return HttpPolicy(allow_loopback=settings.FASTN_HTTP_ALLOW_LOOPBACK, **overrides)


def _success(status: int) -> bool:
    return 200 <= status < 300 or status == 304


class ConnectorRun:
    """The connector calls of one run, with what they share cached for the run."""

    def __init__(
        self,
        space,
        *,
        customer=None,
        environment: str,
        execution_id: Any = None,
        deadline: float | None = None,
        policy: HttpPolicy | None = None,
    ) -> None:
        self.space = space
        self.customer = customer
        self.environment = environment
        self.execution_id = execution_id
        # Monotonic; a call never plans to run past it (the run is killed there anyway).
        self.deadline = deadline if deadline is not None else time.monotonic() + 120
        self.policy = policy or http_policy()
        self.redactor = Redactor()  # credentials and template secrets: kept from the sandbox
        self.run_redactor: Redactor | None = None
        self.resolved: dict[str, ResolvedConnector] = {}
        self.bindings: dict[str, Binding] = {}
        self.secrets: dict[str, str] = {}
        self.target = tracing.TraceTarget(
            space_id=space.id,
            customer_id=customer.id if customer is not None else None,
            execution_id=execution_id,
        )

    # --- what auth.py needs -------------------------------------------------------------------
    def attach_redactor(self, redactor: Redactor) -> None:
        self.run_redactor = redactor

    def remember(self, value: Any) -> None:
        if value is None or value == "":
            return
        self.redactor.add(value)
        if self.run_redactor is not None:
            self.run_redactor.add(value)

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()

    def secret(self, name: str) -> str:
        if name not in self.secrets:
            try:
                _type, raw = secret_resolve(self.space, name=name, customer=self.customer)
            except SecretNotFound:
                raise HostError(
                    "SECRET_NOT_FOUND",
                    f"A connector template uses {{{{secrets.{name}}}}}, which is not defined "
                    "in this Space (Settings → Secrets).",
                ) from None
            except SecretError as exc:
                raise HostError("SECRET_UNAVAILABLE", str(exc)) from None
            self.secrets[name] = raw
            self.remember(raw)
        return self.secrets[name]

    def trace_redactor(self) -> Redactor:
        return self.run_redactor if self.run_redactor is not None else self.redactor

    # --- the call -----------------------------------------------------------------------------
    def call(self, name: str, action_name: str, params: Any) -> Any:
        """Serve `fastn.connector.<name>.<action_name>(params)`; see the module docstring."""
        if name == GENERIC:
            return self.http_request(action_name, params)
        resolved = self.resolve(name)
        definition = resolved.definition
        if definition.protocol == "generic":
            return self.http_request(action_name, params, slug=definition.slug)
        action = definition.action(action_name)
        if action is None:
            names = [a.name for a in definition.actions]
            raise HostError(
                "ACTION_NOT_FOUND",
                f"Connector {definition.name} ({definition.code_name}) has no action "
                f"{action_name!r}; its actions are {listing(names) or 'none'}."
                f"{suggestion(action_name, names)}",
            )
        values = validate_params(definition, action, params)
        binding = self.binding(resolved)
        if definition.protocol == "smtp":
            return self.send_mail(binding, action, values)
        return self.rest(binding, action, values)

    def resolve(self, name: str) -> ResolvedConnector:
        resolved = self.resolved.get(name)
        if resolved is None:
            resolved = resolve_connector(self.space, name, environment=self.environment)
            if resolved is None:
                names = [code for _slug, code in space_connector_names(self.space)]
                raise HostError(
                    "CONNECTOR_NOT_FOUND",
                    f"No connector {name!r} in this Space; its connectors are "
                    f"{listing(names) or 'none'}.{suggestion(name, names)}",
                )
            self.resolved[name] = resolved
        return resolved

    def binding(self, resolved: ResolvedConnector, connection: Connection | None = None) -> Binding:
        """The connector's connection for this run, with its credential (cached)."""
        slug = resolved.connector.slug if resolved.connector else resolved.definition.slug
        binding = self.bindings.get(slug)
        if binding is not None and connection is None:
            if binding.connection is not None:
                _check_usable(binding.connection)  # it may have expired earlier in the run
            return binding
        if connection is None:
            connection = find_connection(self.space, self.customer, slug)
        if connection is None and not _works_without_connection(resolved.definition):
            raise HostError("CONNECTION_NOT_FOUND", self._no_connection(resolved.definition, slug))
        if connection is not None:
            _check_usable(connection)
        credential = None
        if connection is not None:
            try:
                credential = unseal(connection)
            except CredentialUndecryptable as exc:
                raise HostError(
                    "CONNECTION_INVALID", f"Connection {connection.name!r}: {exc}"
                ) from None
            _touch(connection)
        binding = Binding(
            connector_slug=slug,
            definition=resolved.definition,
            version_label=resolved.version_label,
            connection=connection,
            credential=credential,
        )
        remember_credential(binding, self)
        self.bindings[slug] = binding
        return binding

    def _no_connection(self, definition: ConnectorDefinition, slug: str) -> str:
        scope = (
            f"for customer {self.customer.external_id!r} or the Space"
            if self.customer is not None
            else "in this Space"
        )
        return (
            f"No {definition.name} connection {scope}: connect it in Integrations → "
            f"Connections (or `manage.py connection set {slug} --space {self.space.slug}"
            f"{f' --tenant {self.customer.external_id}' if self.customer is not None else ''}"
            " --auth METHOD`)."
        )

    # --- REST ---------------------------------------------------------------------------------
    def rest(
        self, binding: Binding, action: Action, values: dict, *, request: Outgoing | None = None
    ) -> dict:
        if request is None:
            request = build_request(binding, action, values, self)
        trace_id = tracing.trace_start(
            self.target,
            connector_slug=binding.connector_slug,
            action=action.name,
            connector_version=binding.version_label,
            connection=binding.connection,
            method=request.method,
            url=self.trace_redactor().text(request.full_url()),
        )
        started = time.monotonic()
        attempts = [0]
        exchange: Exchange | None = None
        try:
            apply_auth(request, binding, self)
            exchange = self.exchange(binding, request, attempts)
        except (HostError, ConnectorError) as exc:
            error = _host_error(exc, binding, action)
            self._finish(trace_id, request, None, started, attempts[0], error=error)
            raise error from None
        status = exchange.answer["status"]
        answer = self.redactor.value(exchange.answer) if self.redactor.active else exchange.answer
        if _success(status):
            self._finish(trace_id, request, exchange, started, attempts[0])
            return answer
        error = self.service_error(binding, action, status, answer, attempts[0])
        self._finish(trace_id, request, exchange, started, attempts[0], error=error)
        raise error

    def exchange(
        self, binding: Binding, request: Outgoing, attempts: list[int], *, retry_429: bool = True
    ) -> Exchange:
        """Send until the answer is final: answer a Digest challenge, refresh an OAuth token
        once on 401, wait out a 429 while the deadline allows (`retry_429`)."""
        refreshed = False
        while True:
            exchange = self.send(binding, request, attempts)
            status = exchange.answer["status"]
            if status == 401 and binding.method == AuthMethod.OAUTH_2 and not refreshed:
                refreshed = True
                stale = (binding.credential or {}).get("accessToken")
                oauth_refresh(binding, self, stale=stale)
                apply_auth(request, binding, self)
                continue
            if status == 429 and retry_429 and attempts[0] < MAX_ATTEMPTS:
                wait = retry_after(exchange, attempts[0])
                if self.remaining_s() - wait >= MIN_REQUEST_S:
                    time.sleep(wait)
                    continue
            return exchange

    def send(self, binding: Binding, request: Outgoing, attempts: list[int]) -> Exchange:
        if binding.method == AuthMethod.DIGEST:
            return self._send_digest(binding, request, attempts)
        return self._send_once(request, request.headers, attempts)

    def _send_once(
        self, request: Outgoing, headers: list[tuple[str, str]], attempts: list[int]
    ) -> Exchange:
        timeout = min(request.timeout_s or DEFAULT_TIMEOUT_S, self.remaining_s())
        if timeout <= 0:
            raise ConnectorError(
                "HTTP_TIMEOUT", "The run's time was up before the request", permanent=False
            )
        attempts[0] += 1
        return send_prepared(
            request.method,
            request.full_url(),
            headers,
            request.body,
            self.policy,
            timeout_s=timeout,
            private_headers=frozenset(request.private_headers),
        )

    def _send_digest(self, binding: Binding, request: Outgoing, attempts: list[int]) -> Exchange:
        """RFC 7616 through httpx.DigestAuth's flow: the first request goes without (or with
        the run's last challenge), a 401 challenge is answered once."""
        if binding.digest is None:
            credential = binding.credential or {}
            binding.digest = httpx.DigestAuth(credential["username"], credential["password"])
        flow = binding.digest.sync_auth_flow(
            httpx.Request(request.method, request.full_url(), headers=request.headers)
        )
        first = next(flow)
        exchange = self._send_once(request, _with_authorization(request, first), attempts)
        if exchange.answer["status"] != 401:
            return exchange
        challenge = httpx.Response(401, headers=exchange.header_items, request=first)
        try:
            second = flow.send(challenge)
        except StopIteration:
            return exchange  # no Digest challenge: the 401 is the answer
        return self._send_once(request, _with_authorization(request, second), attempts)

    def service_error(
        self, binding: Binding, action: Action, status: int, answer: dict, attempts: int
    ) -> HostError:
        body = answer.get("body")
        definition = binding.definition
        where = f"{definition.code_name}.{action.name}"
        message = f"{where} failed: {definition.name} answered HTTP {status}"
        reason = _reason(body)
        if reason:
            message += f": {reason}"
        if status == 429:
            message += f" (rate limited; gave up after {attempts} attempts within the run's time)"
        if status == 401 and binding.method == AuthMethod.OAUTH_2:
            message += f" even after refreshing the token; {RECONNECT_HINT}"
        return HostError(
            "DATASOURCE_CONNECTION_ERROR",
            message,
            permanent=status < 500 and status != 429,
            details={
                "step": action.name,
                "datasourceDebug": {
                    "name": action.name,
                    "connector": definition.slug,
                    "statusCode": status,
                    "jsonObject": tracing.capped_body(body, self.redactor)
                    if len(str(body)) > ERROR_BODY_CAP
                    else body,
                },
            },
        )

    def _finish(
        self,
        trace_id,
        request: Outgoing,
        exchange: Exchange | None,
        started: float,
        attempts: int,
        *,
        error: HostError | None = None,
    ) -> None:
        redactor = self.trace_redactor()
        response: dict[str, Any] = {}
        if exchange is not None:
            response = {
                "headers": tracing.masked_headers(exchange.header_items, redactor),
                "body": tracing.capped_body(exchange.answer.get("body"), redactor),
            }
        if error is not None:
            response["error"] = redactor.text(error.message)
        tracing.trace_finish(
            trace_id,
            ok=error is None,
            duration_ms=(time.monotonic() - started) * 1000,
            http_status=exchange.answer["status"] if exchange is not None else None,
            error_code=error.code if error is not None else "",
            error_message=redactor.text(error.message) if error is not None else "",
            attempts=attempts,
            request_bytes=len(request.body or b""),
            response_bytes=exchange.response_bytes if exchange is not None else 0,
            request={
                "headers": tracing.masked_headers(
                    request.headers, redactor, request.private_headers
                ),
                "body": tracing.capped_body(request.body_value, redactor),
            },
            response=response,
            url=redactor.text(exchange.url if exchange is not None else request.full_url()),
        )

    # --- the generic HTTP connector -----------------------------------------------------------
    def http_request(self, action_name: str, params: Any, *, slug: str = GENERIC) -> dict:
        if action_name != "request":
            raise HostError(
                "ACTION_NOT_FOUND",
                f"Connector HTTP (http) has no action {action_name!r}; its action is request: "
                "fastn.connector.http.request({method, url, headers, query, body, timeout}).",
            )
        method = params.get("method") if isinstance(params, dict) else None
        url = params.get("url") if isinstance(params, dict) else None
        binding = self.http_binding(url)
        if binding is not None:
            return self.http_with_connection(binding, params)
        redactor = self.trace_redactor()
        trace_id = tracing.trace_start(
            self.target,
            connector_slug=slug,
            action="request",
            method=str(method or "GET").upper()[:8],
            url=redactor.text(url) if isinstance(url, str) else "",
        )
        started = time.monotonic()
        remaining = max(0.001, self.remaining_s())
        policy = replace(
            self.policy,
            default_timeout_s=min(self.policy.default_timeout_s, remaining),
            max_timeout_s=min(self.policy.max_timeout_s, remaining),
        )
        try:
            exchange = http_exchange(params, policy)
        except ConnectorError as exc:
            error = HostError(exc.code, str(exc), permanent=exc.permanent)
            tracing.trace_finish(
                trace_id,
                ok=False,
                duration_ms=(time.monotonic() - started) * 1000,
                http_status=exc.status,
                error_code=exc.code,
                error_message=redactor.text(str(exc)),
                request=_http_trace_request(params, redactor),
                response={"error": redactor.text(str(exc))},
            )
            raise error from None
        tracing.trace_finish(
            trace_id,
            ok=True,
            duration_ms=(time.monotonic() - started) * 1000,
            http_status=exchange.answer["status"],
            request_bytes=exchange.request_bytes,
            response_bytes=exchange.response_bytes,
            request=_http_trace_request(params, redactor),
            response={
                "headers": tracing.masked_headers(exchange.header_items, redactor),
                "body": tracing.capped_body(exchange.answer.get("body"), redactor),
            },
            url=redactor.text(exchange.url),
        )
        return exchange.answer

    def http_binding(self, url: Any) -> Binding | None:
        """The Space's (or customer's) HTTP connection when `url` is under its base URL: its
        auth is then added to the request. Looked up once per run."""
        if GENERIC not in self.bindings:
            resolved = resolve_connector(self.space, GENERIC, environment=self.environment)
            connection = find_connection(self.space, self.customer, GENERIC) if resolved else None
            binding = None
            if connection is not None:
                binding = Binding(
                    connector_slug=GENERIC,
                    definition=resolved.definition,
                    version_label=resolved.version_label,
                    connection=connection,
                    credential=None,
                )
            self.bindings[GENERIC] = binding
        binding = self.bindings[GENERIC]
        if binding is None or not isinstance(url, str):
            return None
        if not under_base_url(url.strip(), str(binding.config.get("baseUrl") or "")):
            return None
        if not binding.extra.get("unsealed"):
            _check_usable(binding.connection)
            try:
                binding.credential = unseal(binding.connection)
            except CredentialUndecryptable as exc:
                raise HostError(
                    "CONNECTION_INVALID", f"Connection {binding.label!r}: {exc}"
                ) from None
            binding.extra["unsealed"] = True
            remember_credential(binding, self)
            _touch(binding.connection)
        return binding

    def http_with_connection(self, binding: Binding, params: dict) -> dict:
        """`fastn.connector.http.request` under the HTTP connection's base URL: the same
        request with the connection's auth (headers the code set itself win), a Digest
        challenge answered, an OAuth token refreshed once on 401; the answer as it is."""
        remaining = max(0.001, self.remaining_s())
        policy = replace(self.policy, max_timeout_s=min(self.policy.max_timeout_s, remaining))
        try:
            prepared = prepare_request(params, policy)
        except ConnectorError as exc:
            raise HostError(exc.code, str(exc), permanent=exc.permanent) from None
        request = Outgoing(
            method=prepared.method,
            url=prepared.url,
            body=prepared.body,
            body_value=params.get("body"),
            timeout_s=prepared.timeout_s,
        )
        own = {name.lower() for name, _value in prepared.headers}
        trace_id = tracing.trace_start(
            self.target,
            connector_slug=GENERIC,
            action="request",
            connector_version=binding.version_label,
            connection=binding.connection,
            method=prepared.method,
            url=self.trace_redactor().text(prepared.url),
        )
        started = time.monotonic()
        attempts = [0]
        try:
            apply_auth(request, binding, self)
            request.headers = prepared.headers + [
                (name, value) for name, value in request.headers if name.lower() not in own
            ]
            exchange = self.exchange(binding, request, attempts, retry_429=False)
        except (HostError, ConnectorError) as exc:
            error = (
                exc
                if isinstance(exc, HostError)
                else HostError(exc.code, str(exc), permanent=exc.permanent)
            )
            self._finish(trace_id, request, None, started, attempts[0], error=error)
            raise error from None
        self._finish(trace_id, request, exchange, started, attempts[0])
        return self.redactor.value(exchange.answer) if self.redactor.active else exchange.answer

    # --- SMTP ---------------------------------------------------------------------------------
    def send_mail(self, binding: Binding, action: Action, values: dict) -> dict:
        login = smtp_login(binding)
        server = smtp.server_config(binding.config, connection_name=binding.label)
        redactor = self.trace_redactor()
        trace_id = tracing.trace_start(
            self.target,
            connector_slug=binding.connector_slug,
            action=action.name,
            connector_version=binding.version_label,
            connection=binding.connection,
            method="SMTP",
            url=f"smtp://{server.host}:{server.port}",
        )
        started = time.monotonic()
        trace_request = {"body": tracing.capped_body(values, redactor)}
        try:
            answer = smtp.send_mail(
                values, server, login, self.policy, timeout_s=self.remaining_s()
            )
        except Exception as exc:
            error = self._smtp_error(exc, binding, action)
            tracing.trace_finish(
                trace_id,
                ok=False,
                duration_ms=(time.monotonic() - started) * 1000,
                http_status=_smtp_status(exc),
                error_code=error.code,
                error_message=redactor.text(error.message),
                request=trace_request,
                response={"error": redactor.text(error.message)},
            )
            raise error from None
        tracing.trace_finish(
            trace_id,
            ok=True,
            duration_ms=(time.monotonic() - started) * 1000,
            http_status=250,
            request_bytes=len(str(values.get("text") or "")) + len(str(values.get("html") or "")),
            request=trace_request,
            response={"body": answer},
        )
        return answer

    def _smtp_error(self, exc: Exception, binding: Binding, action: Action) -> HostError:
        if isinstance(exc, HostError):
            return exc
        if isinstance(exc, ConnectorError):
            return HostError(exc.code, str(exc), permanent=exc.permanent)
        code, said, permanent = smtp.smtp_failure(exc)
        where = f"{binding.definition.code_name}.{action.name}"
        if code is None:
            if isinstance(exc, OSError | smtplib.SMTPException):
                return HostError(
                    "CONNECTION_FAILED",
                    f"{where}: the SMTP exchange failed: {exc}",
                    permanent=False,
                )
            raise exc
        said = self.redactor.value(said)
        return HostError(
            "DATASOURCE_CONNECTION_ERROR",
            f"{where} failed: the SMTP server answered {code}: {_reason(said) or ''}".rstrip(": "),
            permanent=permanent,
            details={
                "step": action.name,
                "datasourceDebug": {
                    "name": action.name,
                    "connector": binding.definition.slug,
                    "statusCode": code,
                    "jsonObject": said,
                },
            },
        )


def smtp_login(binding: Binding) -> dict | None:
    """The SMTP login of an Email connection: {"username", "password"} from Basic, or from a
    Custom connection's fields (the built-in Email connector's), None with No Auth."""
    credential = binding.credential or {}
    if binding.method == AuthMethod.BASIC:
        return credential
    if binding.method == AuthMethod.CUSTOM:
        values = credential.get("values") or {}
        return {"username": values.get("username", ""), "password": values.get("password", "")}
    if binding.method == AuthMethod.NO_AUTH:
        return None
    raise HostError(
        "CONNECTION_INVALID",
        f"Email connections sign in with a username and password (Custom or Basic) or not at "
        f"all (No Auth), not with {binding.method}.",
    )


def _smtp_status(exc: Exception) -> int | None:
    code, _said, _permanent = smtp.smtp_failure(exc)
    return code


# --- helpers --------------------------------------------------------------------------------


def find_connection(space, customer, slug: str) -> Connection | None:
    """The connection a run uses: the customer's (default first, then the newest active, then
    the newest), else the Space's in the same order. One query."""
    rows = Connection.objects.select_related("data_key").filter(space=space, connector_slug=slug)
    if customer is None:
        rows = rows.filter(customer__isnull=True)
    else:
        rows = rows.filter(Q(customer=customer) | Q(customer__isnull=True))
    rows = rows.annotate(
        inactive=Case(
            When(status=ConnectionStatus.ACTIVE, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by(F("customer_id").asc(nulls_last=True), "-is_default", "inactive", "-created_at")
    return rows.first()


def _works_without_connection(definition: ConnectorDefinition) -> bool:
    """A public API (No Auth offered, nothing to fill in) needs no connection."""
    return (
        definition.auth("NO_AUTH") is not None
        and not any(f["required"] for f in definition.connection_fields)
        and "{{" not in definition.base_url
    )


def _check_usable(connection: Connection) -> None:
    if connection.status == ConnectionStatus.EXPIRED:
        raise AuthFailure(
            "CONNECTION_EXPIRED", f"connection {connection.name!r} expired: {RECONNECT_HINT}"
        )
    if connection.status == ConnectionStatus.PENDING:
        raise AuthFailure(
            "CONNECTION_PENDING",
            f"connection {connection.name!r} is not authorized yet: finish connecting it in "
            "Integrations → Connections",
        )


def _touch(connection: Connection) -> None:
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    if connection.last_used_at is None or connection.last_used_at <= stale:
        Connection.objects.filter(pk=connection.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)
        ).update(last_used_at=now)


def under_base_url(url: str, base: str) -> bool:
    """Whether `url` is `base` or below it, at a path boundary: a connection for
    https://api.example.com never lends its auth to https://api.example.com.evil.test."""
    base = base.strip().rstrip("/")
    if not base or "://" not in base:
        return False
    return url == base or url.startswith((base + "/", base + "?"))


def _with_authorization(request: Outgoing, signed: httpx.Request) -> list[tuple[str, str]]:
    value = signed.headers.get("authorization")
    headers = [(n, v) for n, v in request.headers if n.lower() != "authorization"]
    return [*headers, ("Authorization", value)] if value else headers


def retry_after(exchange: Exchange, attempt: int) -> float:
    """Seconds to wait before the next attempt: Retry-After (seconds or an HTTP date), else
    an exponential backoff from one second."""
    value = next((v for n, v in exchange.header_items if n.lower() == "retry-after"), None)
    if value is not None:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
    return float(2 ** (attempt - 1))


def _reason(body: Any) -> str:
    """A short reason from a service's error body, for the error message."""
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "detail", "title"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and value.strip():
                return value.strip()[:300]
    if isinstance(body, str) and body.strip() and len(body) <= 300 and "<" not in body:
        return body.strip()
    return ""


def _host_error(exc: HostError | ConnectorError, binding: Binding, action: Action) -> HostError:
    if isinstance(exc, HostError):
        return exc
    where = f"{binding.definition.code_name}.{action.name}"
    return HostError(exc.code, f"{where}: {exc.message}", permanent=exc.permanent)


def _http_trace_request(params: Any, redactor: Redactor) -> dict:
    if not isinstance(params, dict):
        return {"body": f"params must be an object, got {json_type(params)}"}
    headers = params.get("headers")
    return {
        "headers": tracing.masked_headers(headers, redactor) if isinstance(headers, dict) else {},
        "query": redactor.value(params.get("query")) if params.get("query") is not None else None,
        "body": tracing.capped_body(params.get("body"), redactor),
    }


# --- Test connection ------------------------------------------------------------------------


@dataclass(frozen=True)
class TestOutcome:
    ok: bool
    http_status: int | None
    message: str


def test_connection(connection: Connection) -> TestOutcome:
    """Try the connection as a workflow would: the connector's test action (with its params),
    else a GET of the connection's `testUrl`, with auth injected; an Email connection logs in
    to its SMTP server. Records the outcome on the row (Active, or Failed with the error;
    Expired when its OAuth token could not be refreshed) and the time of the test."""
    connection = (
        Connection.objects.select_related("space", "customer", "data_key")
        .filter(pk=connection.pk)
        .first()
    )
    if connection is None:
        return TestOutcome(False, None, "This connection no longer exists.")
    run = ConnectorRun(
        connection.space,
        customer=connection.customer,
        environment="test",
        deadline=time.monotonic() + DEFAULT_TIMEOUT_S,
    )
    outcome = _run_test(run, connection)
    if outcome is None:
        return TestOutcome(
            False,
            None,
            "Nothing to test: this connector has no test action; set a Test URL on the "
            "connection to test it.",
        )
    if outcome.ok:
        mark_status(connection, ConnectionStatus.ACTIVE)
    elif not _expired_now(connection):  # an OAuth token that could not be refreshed stays so
        mark_status(connection, ConnectionStatus.FAILED, error=outcome.message)
    Connection.objects.filter(pk=connection.pk).update(last_tested_at=timezone.now())
    return outcome


# Not a test, whatever pytest infers from its name when a test module imports it.
test_connection.__test__ = False  # type: ignore[attr-defined]


def _expired_now(connection: Connection) -> bool:
    return (
        Connection.objects.filter(pk=connection.pk).values_list("status", flat=True).first()
        == ConnectionStatus.EXPIRED
    )


def _run_test(run: ConnectorRun, connection: Connection) -> TestOutcome | None:
    resolved = resolve_connector(run.space, connection.connector_slug, environment="test")
    if resolved is None:
        return TestOutcome(False, None, f"The connector {connection.connector_slug} is gone.")
    definition = resolved.definition
    # Testing is how an Expired or Failed connection proves itself again.
    status = connection.status
    connection.status = ConnectionStatus.ACTIVE
    try:
        binding = run.binding(resolved, connection)
    except HostError as exc:
        return TestOutcome(False, None, exc.message)
    finally:
        connection.status = status
    try:
        if definition.protocol == "smtp":
            server = smtp.server_config(binding.config, connection_name=binding.label)
            login = smtp_login(binding)
            session = smtp.open_session(server, login, run.policy, timeout_s=run.remaining_s())
            code, _said = session.noop()
            session.quit()
            return TestOutcome(True, code, f"Logged in to {server.host}:{server.port}.")
        test_action = definition.action(str(definition.test.get("action") or ""))
        if test_action is not None:
            values = validate_params(definition, test_action, definition.test.get("params") or {})
            answer = run.rest(binding, test_action, values)
        elif binding.config.get("testUrl"):
            request = Outgoing(method="GET", url=str(binding.config["testUrl"]))
            answer = run.rest(binding, TEST_URL_ACTION, {}, request=request)
        else:
            return None
    except HostError as exc:
        debug = (exc.details or {}).get("datasourceDebug") or {}
        return TestOutcome(False, debug.get("statusCode"), exc.message)
    except ConnectorError as exc:
        return TestOutcome(False, exc.status, str(exc))
    except Exception as exc:  # an SMTP refusal or a dropped connection
        code, said, _permanent = smtp.smtp_failure(exc)
        if code is None and not isinstance(exc, OSError | smtplib.SMTPException):
            raise
        return TestOutcome(False, code, f"The SMTP server refused: {said or exc}")
    status = answer["status"]
    return TestOutcome(True, status, f"{definition.name} answered HTTP {status}.")


# A GET of the connection's test URL, traced as this action of the connector.
TEST_URL_ACTION = Action(name="testConnection", method="GET", path="/", title="Test connection")


__all__ = ["ConnectorRun", "TestOutcome", "find_connection", "test_connection"]
