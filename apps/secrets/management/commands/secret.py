"""`manage.py secret …`: manage secrets from a shell, audited like the console.

    secret set NAME --space SLUG [--tenant ID] [--type text|json]   value from stdin
    secret delete NAME --space SLUG [--tenant ID]
    secret list --space SLUG
    secret rotate-keys [--batch-size N]
    secret new-master-key [ID]

The value is read from stdin, never from an argument, so it stays out of shell history and
process listings. One trailing newline (the one `echo` adds) is dropped. On a terminal the
value is asked for without echo."""

from __future__ import annotations

import getpass
import sys
import uuid

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.secrets import crypto, services
from apps.secrets.errors import SecretError
from apps.secrets.models import Secret, SecretType
from apps.spaces.audit import Actor
from apps.spaces.models import Customer, Space

ACTOR = Actor.system("manage.py secret")


class Command(BaseCommand):
    help = "Set, delete and list secrets; rotate encryption keys."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        set_ = actions.add_parser("set", help="create or replace a secret; the value is stdin")
        set_.add_argument("name")
        set_.add_argument("--space", required=True, help="Space slug")
        set_.add_argument("--tenant", help="customer external id (or customer id)")
        set_.add_argument("--type", choices=SecretType.values, help="text (default) or json")

        delete = actions.add_parser("delete", help="delete a secret")
        delete.add_argument("name")
        delete.add_argument("--space", required=True, help="Space slug")
        delete.add_argument("--tenant", help="customer external id (or customer id)")

        list_ = actions.add_parser("list", help="list a Space's secrets (never their values)")
        list_.add_argument("--space", required=True, help="Space slug")

        rotate = actions.add_parser(
            "rotate-keys",
            help="re-wrap data keys under the current master key and re-encrypt every secret "
            "under a new data key, online",
        )
        rotate.add_argument("--batch-size", type=int, default=services.ROTATION_BATCH_SIZE)

        master = actions.add_parser("new-master-key", help="print a new FASTN_MASTER_KEY entry")
        master.add_argument("key_id", nargs="?", default="k1", metavar="ID")

    def handle(self, *args, action: str, **options):
        handler = getattr(self, "handle_" + action.replace("-", "_"))
        try:
            handler(**options)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        except SecretError as exc:
            raise CommandError(str(exc)) from None

    # --- actions ----------------------------------------------------------------------------

    def handle_set(self, *, name, space, tenant, type, **options):
        target = find_space(space)
        customer = find_customer(target, tenant)
        existing = find_secret(target, customer, name)
        if existing is not None and type and type != existing.type:
            raise CommandError(
                f"Secret {name} exists as {existing.get_type_display()}: delete it first to "
                "change its type."
            )
        value = read_value(name)
        if existing is None:
            services.secret_create(
                target, name=name, type=type or SecretType.TEXT, value=value, customer=customer,
                actor=ACTOR,
            )  # fmt: skip
            self.stdout.write(f"Secret {name} created ({scope(customer)}).")
        else:
            services.secret_rotate(existing, value=value, actor=ACTOR)
            self.stdout.write(f"Secret {name} updated ({scope(customer)}).")

    def handle_delete(self, *, name, space, tenant, **options):
        target = find_space(space)
        customer = find_customer(target, tenant)
        existing = find_secret(target, customer, name)
        if existing is None:
            raise CommandError(f"Secret {name} is not defined ({scope(customer)}).")
        services.secret_delete(existing, actor=ACTOR)
        self.stdout.write(f"Secret {name} deleted ({scope(customer)}).")

    def handle_list(self, *, space, **options):
        target = find_space(space)
        rows = Secret.objects.filter(space=target).select_related("customer")
        for secret in rows.order_by("name", "customer__name"):
            used = secret.last_used_at.isoformat() if secret.last_used_at else "never"
            self.stdout.write(
                f"{secret.name}\t{scope(secret.customer)}\t{secret.type}\t"
                f"updated {secret.updated_at.isoformat()}\tlast used {used}"
            )

    def handle_rotate_keys(self, *, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        report = services.datakey_rotate(actor=ACTOR, batch_size=batch_size)
        self.stdout.write(
            f"New data key {report.data_key_id} (wrapped by master key {report.master_key_id}); "
            f"{report.rewrapped} data key(s) re-wrapped, {report.reencrypted} secret(s) "
            "re-encrypted"
            + "".join(f", {count} {what}" for what, count in report.others.items())
            + "."
        )
        others = services.master_key_ids_in_use() - {report.master_key_id}
        if not others:
            self.stdout.write(
                f"Every data key is wrapped by {report.master_key_id}: other master keys can "
                "be removed from FASTN_MASTER_KEY."
            )
        if report.failed or report.failed_others:
            rows = [f"secret {pk}" for pk in report.failed] + report.failed_others
            raise CommandError(
                f"{len(rows)} value(s) could not be decrypted and were left as they are "
                f"(tampered with?): {', '.join(rows)}. Rotate secrets and reconnect "
                "connections from the console."
            )

    def handle_new_master_key(self, *, key_id, **options):
        try:
            self.stdout.write(crypto.new_master_key_entry(key_id))
        except ValueError as exc:
            raise CommandError(str(exc)) from None


def find_space(slug: str) -> Space:
    space = Space.objects.filter(slug=slug).first()
    if space is None:
        raise CommandError(f"No Space with the slug {slug!r}.")
    return space


def find_customer(space: Space, tenant: str | None) -> Customer | None:
    """`--tenant` is what API callers send in x-fastn-space-tenantid (the external id); the
    customer's own id is accepted too."""
    if tenant is None:
        return None
    customer = Customer.objects.filter(space=space, external_id=tenant).first()
    if customer is None and is_uuid(tenant):
        customer = Customer.objects.filter(space=space, id=tenant).first()
    if customer is None:
        raise CommandError(f"No customer {tenant!r} in the Space {space.slug!r}.")
    return customer


def find_secret(space: Space, customer: Customer | None, name: str) -> Secret | None:
    return (
        Secret.objects.select_related("space", "customer")
        .filter(space=space, customer=customer, name=name)
        .first()
    )


def read_value(name: str) -> str:
    if sys.stdin is None:
        raise CommandError("Pipe the value into stdin.")
    if sys.stdin.isatty():
        value = getpass.getpass(f"Value of {name} (not echoed): ")
    else:
        value = sys.stdin.read()
        value = value.removesuffix("\n").removesuffix("\r") if value.endswith("\n") else value
    if value == "":
        raise CommandError("No value on stdin: pipe the value into the command.")
    return value


def scope(customer: Customer | None) -> str:
    return f"customer {customer.external_id}" if customer is not None else "Space-wide"


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
