"""`manage.py connection …`: connections from a shell, audited like the console.

    connection set CONNECTOR --space SLUG [--tenant ID] --auth METHOD [--name NAME]
                   [--config JSON] [--default]        the credential JSON from stdin
    connection list --space SLUG                      never a credential
    connection test CONNECTOR --space SLUG [--tenant ID] [--name NAME]
    connection disconnect CONNECTOR --space SLUG [--tenant ID] [--name NAME]

`set` is idempotent: a connection with the same name for the same connector and scope gets
the new credential (and --config, when given); otherwise it is created (the first of its
scope becomes the default; --default makes it so anyway). The credential is read from stdin,
never from an argument, so it stays out of shell history and process listings; on a terminal
it is asked for without echo. Its JSON per auth method:

    NO_AUTH: none          BASIC, DIGEST: {"username": "…", "password": "…"}
    BEARER: {"token": "…"} API_KEY: {"apiKey": "…"} (--config '{"in": "query", "name": "key"}')
    OAUTH_2: {"accessToken", "refreshToken", "expiresAt"} or {"clientCredentials": true}
    INPUT: {"values": {"field": "…"}}"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.connectors.calls import test_connection
from apps.connectors.models import AuthMethod, Connection
from apps.connectors.services import connections as services
from apps.spaces.audit import Actor
from apps.spaces.models import Customer, Space
from fastn_console.strictjson import JsonInputError, parse_json

ACTOR = Actor.system("manage.py connection")


class Command(BaseCommand):
    help = "Create or update, list, test and disconnect connections."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        set_ = actions.add_parser(
            "set", help="create a connection or replace its credential; the credential is stdin"
        )
        set_.add_argument("connector", help="connector slug (or its code name)")
        scope_arguments(set_)
        set_.add_argument("--auth", required=True, choices=AuthMethod.values, help="auth method")
        set_.add_argument("--config", help="non-secret settings as a JSON object")
        set_.add_argument("--default", action="store_true", help="make it the scope's default")

        list_ = actions.add_parser("list", help="list a Space's connections (no credentials)")
        list_.add_argument("--space", required=True, help="Space slug")

        for name, text in (
            ("test", "run the connector's test action with the connection"),
            ("disconnect", "delete the connection and its credential"),
        ):
            action = actions.add_parser(name, help=text)
            action.add_argument("connector", help="connector slug")
            scope_arguments(action)

    def handle(self, *args, action: str, **options):
        try:
            getattr(self, f"handle_{action}")(**options)
        except ValidationError as exc:
            raise CommandError(" ".join(_messages(exc))) from None

    # --- actions ----------------------------------------------------------------------------

    def handle_set(self, *, connector, space, tenant, name, auth, config, default, **options):
        target = find_space(space)
        customer = find_customer(target, tenant)
        slug, definition = services.connection_definition(target, connector)
        name = name or definition.name
        parsed_config = parse_object(config, "--config") if config is not None else None
        existing = find_connection(target, customer, slug, name)
        if existing is not None and existing.auth_method != auth:
            raise CommandError(
                f"Connection {name!r} uses {existing.auth_method}: disconnect it first, or "
                "choose another --name."
            )
        services.validate_auth_method(definition, auth)
        credential = None if auth == AuthMethod.NO_AUTH else read_credential(name)
        if existing is None:
            connection = services.create_connection(
                target,
                connector_slug=slug,
                name=name,
                auth_method=auth,
                credential=credential,
                config=parsed_config,
                customer=customer,
                actor=ACTOR,
            )
            verb = "created"
        else:
            connection = services.replace_credential(
                existing, credential=credential, config=parsed_config, actor=ACTOR
            )
            verb = "updated (new credential)"
        if default and not connection.is_default:
            services.set_default(connection, actor=ACTOR)
        note = "; it is the default" if connection.is_default else ""
        self.stdout.write(
            f"Connection {name!r} to {definition.name} ({auth}, {scope(customer)}) {verb}{note}."
        )

    def handle_list(self, *, space, **options):
        rows = Connection.objects.filter(space=find_space(space)).select_related("customer")
        for row in rows.order_by("connector_slug", "customer__external_id", "name"):
            used = row.last_used_at.isoformat() if row.last_used_at else "never"
            marks = " (default)" if row.is_default else ""
            self.stdout.write(
                f"{row.connector_slug}\t{row.name}{marks}\t{scope(row.customer)}\t"
                f"{row.auth_method}\t{row.status}\tlast used {used}"
            )

    def handle_test(self, *, connector, space, tenant, name, **options):
        connection = self.named(connector, space, tenant, name)
        outcome = test_connection(connection)
        if not outcome.ok:
            raise CommandError(f"Connection {connection.name!r} failed: {outcome.message}")
        self.stdout.write(f"Connection {connection.name!r} works: {outcome.message}")

    def handle_disconnect(self, *, connector, space, tenant, name, **options):
        connection = self.named(connector, space, tenant, name)
        services.disconnect(connection, actor=ACTOR)
        self.stdout.write(f"Connection {connection.name!r} disconnected.")

    def named(self, connector, space, tenant, name) -> Connection:
        target = find_space(space)
        customer = find_customer(target, tenant)
        slug, definition = services.connection_definition(target, connector)
        name = name or definition.name
        connection = find_connection(target, customer, slug, name)
        if connection is None:
            raise CommandError(f"No {definition.name} connection {name!r} ({scope(customer)}).")
        return connection


def scope_arguments(parser) -> None:
    parser.add_argument("--space", required=True, help="Space slug")
    parser.add_argument("--tenant", help="customer external id (x-fastn-space-tenantid)")
    parser.add_argument("--name", help="connection name (default: the connector's name)")


def find_space(slug: str) -> Space:
    space = Space.objects.filter(slug=slug).first()
    if space is None:
        raise CommandError(f"No Space with the slug {slug!r}.")
    return space


def find_customer(space: Space, tenant: str | None) -> Customer | None:
    if tenant is None:
        return None
    customer = Customer.objects.filter(space=space, external_id=tenant).first()
    if customer is None:
        raise CommandError(f"No customer {tenant!r} in the Space {space.slug!r}.")
    return customer


def find_connection(space, customer, slug: str, name: str) -> Connection | None:
    return (
        Connection.objects.select_related("space", "customer")
        .filter(space=space, customer=customer, connector_slug=slug, name=name)
        .first()
    )


def read_credential(name: str) -> dict:
    if sys.stdin is None:
        raise CommandError("Pipe the credential JSON into stdin.")
    if sys.stdin.isatty():
        text = getpass.getpass(f"Credential JSON for {name} (not echoed): ")
    else:
        text = sys.stdin.read()
    if not text.strip():
        raise CommandError(
            "No credential on stdin: pipe its JSON into the command, e.g. "
            '`echo \'{"token": "…"}\' | manage.py connection set …` (never as an argument).'
        )
    return parse_object(text, "The credential")


def parse_object(text: str, label: str) -> dict[str, Any]:
    try:
        value = parse_json(text, label=label)
    except JsonInputError as exc:  # its message names the position, never the value
        raise CommandError(f"{label} is not valid JSON: {exc.reason}.") from None
    if not isinstance(value, dict):
        raise CommandError(f"{label} must be a JSON object.")
    return value


def scope(customer: Customer | None) -> str:
    return f"customer {customer.external_id}" if customer is not None else "Space-wide"


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [f"{field}: {' '.join(m)}" for field, m in exc.message_dict.items()]
    return exc.messages
