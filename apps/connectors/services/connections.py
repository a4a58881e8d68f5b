"""Writes of connections: create, replace the credential (reconnect, a refreshed OAuth token),
disconnect, make default, record a status. Each is atomic and audited without the
credential's values (the audit row says which connector, auth method and scope).

Credential JSON per auth method (what the connect forms, the OAuth callback and
`manage.py connection set` store; anything else is refused, naming the field):

    NO_AUTH          none ({} or null)
    BASIC, DIGEST    {"username", "password"}
    BEARER           {"token"}
    API_KEY          {"apiKey"}; config {"in": "header"|"query", "name": "X-API-Key"} overrides
                     the definition's location and name
    OAUTH_2          {"accessToken", "refreshToken", "tokenType", "expiresAt" (epoch seconds),
                     "scope"}, or {"clientCredentials": true} for the client-credentials grant
                     (the runtime fetches the token; "clientId"/"clientSecret" optional, else
                     the Space's OAuth app's); none while the authorization is pending
    INPUT (Custom)   {"values": {field: value}} for the definition's fields

`config` holds what is not secret: the connector's connection fields (a Shopify shop),
the API key's location and name, `testUrl` for Test connection."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.connectors.credentials import seal
from apps.connectors.definition import ConnectorDefinition
from apps.connectors.models import AuthMethod, Connection, ConnectionStatus
from apps.connectors.selectors import resolve_connector
from apps.secrets.services import scope_detail
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Customer, Space

MAX_CREDENTIAL_CHARS = 64 * 1024
MAX_CONFIG_CHARS = 16 * 1024
NAME_MAX_LENGTH = 120
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_STRING_FIELDS = {
    AuthMethod.BASIC: ("username", "password"),
    AuthMethod.DIGEST: ("username", "password"),
    AuthMethod.BEARER: ("token",),
    AuthMethod.API_KEY: ("apiKey",),
}
OAUTH_FIELDS = ("accessToken", "refreshToken", "tokenType", "expiresAt", "scope")
RUNTIME_ACTOR = Actor.system("connector runtime")


# --- Validation -----------------------------------------------------------------------------


def connection_definition(space: Space, connector_slug: str) -> tuple[str, ConnectorDefinition]:
    """The connector's slug and the definition a connection is checked against: the
    built-in's, or the Space's own connector at its latest version. `connector_slug` may be
    the code name (`hubspotCrm`)."""
    resolved = resolve_connector(space, connector_slug or "", environment="test")
    if resolved is None:
        raise ValidationError(
            {"connector_slug": f"This Space has no connector {connector_slug!r}."}
        )
    slug = resolved.connector.slug if resolved.connector is not None else resolved.definition.slug
    return slug, resolved.definition


def validate_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": "A connection needs a name."})
    name = name.strip()
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError({"name": f"A name has at most {NAME_MAX_LENGTH} characters."})
    return name


def validate_auth_method(definition: ConnectorDefinition, auth_method: str) -> None:
    if definition.auth(auth_method) is None:
        offered = ", ".join(m.type for m in definition.auth_methods)
        raise ValidationError(
            {
                "auth_method": f"{definition.name} does not offer {auth_method!r}; "
                f"its auth methods are {offered}."
            }
        )


def validate_config(definition: ConnectorDefinition, auth_method: str, config: Any) -> dict:
    """The connection's non-secret settings: required connection fields present, an API key's
    location and name well formed, a test URL absolute."""
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise ValidationError({"config": "The configuration is a JSON object."})
    if len(json.dumps(config, default=str)) > MAX_CONFIG_CHARS:
        raise ValidationError(
            {"config": f"The configuration has at most {MAX_CONFIG_CHARS} characters."}
        )
    for field in definition.connection_fields:
        value = config.get(field["name"])
        if field["required"] and (not isinstance(value, str) or not value.strip()):
            raise ValidationError({"config": f"{field['label']} ({field['name']}) is required."})
    if auth_method == AuthMethod.API_KEY:
        if config.get("in", "header") not in ("header", "query"):
            raise ValidationError({"config": 'The API key goes in "header" or "query".'})
        name = config.get("name")
        if name is not None and (not isinstance(name, str) or not _HEADER_NAME.fullmatch(name)):
            raise ValidationError({"config": "The API key's name is not a valid header name."})
    test_url = config.get("testUrl")
    if test_url not in (None, "") and (
        not isinstance(test_url, str) or not re.match(r"https?://", test_url)
    ):
        raise ValidationError({"config": "The test URL starts with http:// or https://."})
    return config


def _fields_message(auth_method: str, expected: tuple[str, ...]) -> str:
    return f"{AuthMethod(auth_method).label} expects {', '.join(expected)}"


def validate_credential(
    definition: ConnectorDefinition, auth_method: str, credential: Any, *, pending: bool = False
) -> dict | None:
    """The credential to store for `auth_method`, or a ValidationError on `credential` naming
    the missing or unknown field (never echoing a value)."""
    if credential is not None and not isinstance(credential, dict):
        raise ValidationError({"credential": "The credential is a JSON object."})
    if credential is not None and len(json.dumps(credential, default=str)) > MAX_CREDENTIAL_CHARS:
        raise ValidationError(
            {"credential": f"The credential has at most {MAX_CREDENTIAL_CHARS} characters."}
        )
    if auth_method == AuthMethod.NO_AUTH:
        if credential:
            raise ValidationError({"credential": "No Auth takes no credential."})
        return None
    if auth_method == AuthMethod.OAUTH_2:
        return _oauth_credential(credential, pending=pending)
    if auth_method == AuthMethod.CUSTOM:
        return _input_credential(definition, credential)
    expected = _STRING_FIELDS[auth_method]
    credential = credential or {}
    unknown = sorted(set(credential) - set(expected))
    if unknown:
        raise ValidationError(
            {
                "credential": f"Unknown credential field {unknown[0]!r}; "
                f"{_fields_message(auth_method, expected)}."
            }
        )
    for field in expected:
        value = credential.get(field)
        if not isinstance(value, str):
            raise ValidationError(
                {"credential": f"{field} is required (a string); "
                 f"{_fields_message(auth_method, expected)}."}
            )  # fmt: skip
        # An empty password is a real thing (an API key sent as the Basic user name).
        if not value and field != "password":
            raise ValidationError({"credential": f"{field} must not be empty."})
    return {field: credential[field] for field in expected}


def _oauth_credential(credential: dict | None, *, pending: bool) -> dict | None:
    if not credential:
        if pending:
            return None
        raise ValidationError(
            {
                "credential": "OAuth 2.0 needs an accessToken (or clientCredentials: true for "
                "the client-credentials grant); connect through the console to authorize."
            }
        )
    for field in ("clientId", "clientSecret"):
        if credential.get(field) is not None and not isinstance(credential[field], str):
            raise ValidationError({"credential": f"{field} must be a string."})
    if credential.get("clientCredentials") is True and not credential.get("accessToken"):
        # The client's own id and secret, when not the Space's OAuth app's.
        return {
            "clientCredentials": True,
            **{k: credential[k] for k in ("clientId", "clientSecret") if credential.get(k)},
        }
    token = credential.get("accessToken")
    if not isinstance(token, str) or not token:
        raise ValidationError({"credential": "accessToken is required (a string)."})
    for field in ("refreshToken", "tokenType", "scope"):
        if credential.get(field) is not None and not isinstance(credential[field], str):
            raise ValidationError({"credential": f"{field} must be a string."})
    expires = credential.get("expiresAt")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int | float)):
        raise ValidationError({"credential": "expiresAt must be a number (epoch seconds)."})
    return credential


def _input_credential(definition: ConnectorDefinition, credential: dict | None) -> dict:
    spec = definition.auth(AuthMethod.CUSTOM)
    fields = [f for f in (spec.options.get("fields") or []) if isinstance(f, dict)]
    credential = credential or {}
    unknown = sorted(set(credential) - {"values"})
    if unknown:
        raise ValidationError(
            {"credential": f"Unknown credential field {unknown[0]!r}; Custom expects values."}
        )
    values = credential.get("values", {})
    if not isinstance(values, dict):
        raise ValidationError({"credential": "values is an object of field names to strings."})
    names = [str(f.get("name")) for f in fields]
    extra = sorted(set(values) - set(names)) if names else []
    if extra:
        raise ValidationError(
            {"credential": f"Unknown field {extra[0]!r}; the fields are {', '.join(names)}."}
        )
    for field in fields:
        name = str(field.get("name"))
        value = values.get(name)
        if value is None and field.get("required", True):
            raise ValidationError({"credential": f"values.{name} is required."})
        if value is not None and not isinstance(value, str):
            raise ValidationError({"credential": f"values.{name} must be a string."})
    for name, value in values.items():
        if not isinstance(value, str):
            raise ValidationError({"credential": f"values.{name} must be a string."})
    return {"values": values}


def oauth_expires_at(credential: dict | None) -> dt.datetime | None:
    expires = (credential or {}).get("expiresAt")
    if isinstance(expires, int | float) and not isinstance(expires, bool):
        return dt.datetime.fromtimestamp(expires, dt.UTC)
    return None


def _detail(connection: Connection, **extra: Any) -> dict:
    return {
        "connector": connection.connector_slug,
        "auth": connection.auth_method,
        "name": connection.name,
        **scope_detail(connection.customer),
        **extra,
    }


# --- Writes ---------------------------------------------------------------------------------


@transaction.atomic
def create_connection(
    space: Space,
    *,
    connector_slug: str,
    name: str,
    auth_method: str,
    credential: dict | None,
    config: dict | None = None,
    customer: Customer | None = None,
    actor: Actor,
    request=None,
    status: str = ConnectionStatus.ACTIVE,
) -> Connection:
    """A new connection, sealed and audited. The first one of its connector for its scope (the
    Space, or one customer) becomes that scope's default, which the runtime uses.

    1. validate: connector known to the Space, auth method offered, name free in the scope,
       credential fields and connection fields complete;
    2. seal the credential onto the new row (AAD bound to it) and insert it, as the default
       when the scope has none (a concurrent first insert makes this one a non-default);
    3. audit, in the same transaction."""
    connector_slug, definition = connection_definition(space, connector_slug)
    validate_auth_method(definition, auth_method)
    name = validate_name(name)
    if status not in ConnectionStatus.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    if customer is not None and customer.space_id != space.id:
        raise ValidationError({"customer": "This customer belongs to another Space."})
    config = validate_config(definition, auth_method, config)
    credential = validate_credential(
        definition, auth_method, credential, pending=status == ConnectionStatus.PENDING
    )
    scope = Connection.objects.filter(space=space, customer=customer, connector_slug=connector_slug)
    if scope.filter(name=name).exists():
        where = f"for {customer.name}" if customer is not None else "for the Space"
        raise ValidationError(
            {"name": f"A {definition.name} connection named {name!r} already exists {where}."}
        )
    now = timezone.now()
    connection = Connection(
        space=space,
        customer=customer,
        connector_slug=connector_slug,
        name=name,
        auth_method=auth_method,
        config=config,
        status=status,
        expires_at=oauth_expires_at(credential),
        created_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    if credential is not None:
        seal(connection, credential)
    connection.is_default = not scope.filter(is_default=True).exists()
    try:
        with transaction.atomic():
            connection.save(force_insert=True)
    except IntegrityError:
        # Another first connection of this scope became the default meanwhile.
        if not connection.is_default:
            raise
        connection.is_default = False
        connection.save(force_insert=True)
    audit_record(
        space=space,
        actor=actor,
        action="connection.create",
        resource=connection,
        request=request,
        detail=_detail(connection, default=connection.is_default, status=status),
    )
    return connection


def store_credential(
    connection: Connection,
    credential: dict | None,
    *,
    expires_at: dt.datetime | None = None,
    config: dict | None = None,
    status: str = ConnectionStatus.ACTIVE,
) -> Connection:
    """Seal and save a new credential on the row (no audit: the runtime's token refresh uses
    it directly; people's changes go through `replace_credential`). The caller holds the
    transaction (and, for a refresh, the row lock)."""
    if credential is None:
        connection.ciphertext, connection.nonce, connection.data_key = b"", b"", None
    else:
        seal(connection, credential)
    connection.expires_at = expires_at
    if config is not None:
        connection.config = config
    connection.status = status
    connection.last_error = ""
    connection.updated_at = timezone.now()
    connection.save(
        update_fields=[
            "ciphertext",
            "nonce",
            "data_key",
            "expires_at",
            "config",
            "status",
            "last_error",
            "updated_at",
        ]
    )
    return connection


@transaction.atomic
def replace_credential(
    connection: Connection,
    *,
    credential: dict,
    config: dict | None = None,
    actor: Actor,
    request=None,
    expires_at: dt.datetime | None = None,
) -> Connection:
    """Reconnect: a new credential (and optionally new settings) for the same connection,
    which becomes Active again. `expires_at` defaults to the credential's `expiresAt`."""
    locked = (
        Connection.objects.select_for_update(of=("self",))
        .select_related("space", "customer")
        .filter(pk=connection.pk, space_id=connection.space_id)
        .first()
    )
    if locked is None:
        raise ValidationError("This connection no longer exists.")
    _slug, definition = connection_definition(locked.space, locked.connector_slug)
    if config is not None:
        config = validate_config(definition, locked.auth_method, config)
    credential = validate_credential(definition, locked.auth_method, credential)
    store_credential(
        locked,
        credential,
        expires_at=expires_at or oauth_expires_at(credential),
        config=config,
    )
    audit_record(
        space=locked.space,
        actor=actor,
        action="connection.credential_replace",
        resource=locked,
        request=request,
        detail=_detail(locked, config_changed=config is not None),
    )
    _copy_state(locked, connection)
    return connection


def _copy_state(source: Connection, target: Connection) -> None:
    for field in (
        "ciphertext",
        "nonce",
        "data_key_id",
        "expires_at",
        "config",
        "status",
        "last_error",
        "updated_at",
        "is_default",
    ):
        setattr(target, field, getattr(source, field))


@transaction.atomic
def disconnect(connection: Connection, *, actor: Actor, request=None) -> None:
    """Delete the connection with its credential. When it was its scope's default, the newest
    remaining active connection of the scope becomes the default."""
    locked = (
        Connection.objects.select_for_update()
        .filter(pk=connection.pk, space_id=connection.space_id)
        .first()
    )
    if locked is None:
        return
    audit_record(
        space=connection.space,
        actor=actor,
        action="connection.disconnect",
        resource=locked,
        request=request,
        detail=_detail(connection),
    )
    was_default = locked.is_default
    locked.delete()
    if was_default:
        successor = (
            Connection.objects.select_for_update()
            .filter(
                space_id=locked.space_id,
                customer_id=locked.customer_id,
                connector_slug=locked.connector_slug,
                status=ConnectionStatus.ACTIVE,
            )
            .order_by("-created_at")
            .first()
        )
        if successor is not None:
            Connection.objects.filter(pk=successor.pk).update(is_default=True)


@transaction.atomic
def set_default(connection: Connection, *, actor: Actor, request=None) -> Connection:
    """Make this the connection the runtime uses for its connector in its scope."""
    scope = Connection.objects.select_for_update().filter(
        space_id=connection.space_id,
        customer_id=connection.customer_id,
        connector_slug=connection.connector_slug,
    )
    rows = list(scope.only("id", "is_default"))
    if not any(row.pk == connection.pk for row in rows):
        raise ValidationError("This connection no longer exists.")
    if connection.is_default and any(r.pk == connection.pk and r.is_default for r in rows):
        return connection
    # Clear first: the one-default constraint is checked per statement.
    scope.filter(is_default=True).exclude(pk=connection.pk).update(is_default=False)
    scope.filter(pk=connection.pk).update(is_default=True, updated_at=timezone.now())
    connection.is_default = True
    audit_record(
        space=connection.space,
        actor=actor,
        action="connection.set_default",
        resource=connection,
        request=request,
        detail=_detail(connection),
    )
    return connection


@transaction.atomic
def mark_status(connection: Connection, status: str, *, error: str = "") -> Connection:
    """Record what the last test, call or token refresh found. A change of status is audited
    (by the system: the runtime or Test connection found it); the error text is kept on the
    row only, since it may quote the service."""
    if status not in ConnectionStatus.values:
        raise ValueError(f"Unknown connection status {status!r}")
    previous = Connection.objects.filter(pk=connection.pk).values_list("status", flat=True).first()
    if previous is None:
        return connection
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).update(
        status=status, last_error=error[:4000], updated_at=now
    )
    connection.status, connection.last_error, connection.updated_at = status, error[:4000], now
    if previous != status:
        audit_record(
            space=connection.space,
            actor=RUNTIME_ACTOR,
            action="connection.status",
            resource=connection,
            detail=_detail(connection, previous=previous, status=status),
        )
    return connection
