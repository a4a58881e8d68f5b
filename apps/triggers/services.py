"""Writes for triggers (the console's; the pipeline's own writes live beside the receiver).

Each function is atomic and writes its audit row in the same transaction; the capability checks
are the callers'. Validation of what a person types is the forms' (apps/triggers/forms.py):
these functions only guard what must hold whoever calls them — tenancy, and that a signing
secret is never returned twice nor written anywhere but the Space's encrypted secrets.

Signing secrets are Space secrets (apps.secrets), named by `signing_names(trigger)`; the
trigger keeps their names. A rotation copies the old value into the "previous" secret, which
the receiver also accepts until `signing_previous_until`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.connectors.models import Connection, ConnectionStatus
from apps.secrets.models import Secret, SecretType
from apps.secrets.services import secret_create, secret_decrypt, secret_delete, secret_rotate
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Customer, Outcome, Space
from apps.triggers import schedules, scheduling
from apps.triggers.catalog import Connector, connector_by_key
from apps.triggers.models import Kind, Route, Source, Subscription, Trigger
from apps.triggers.receive import Accepted, event_accept
from apps.triggers.signatures import new_signing_secret
from apps.workflows.models import Workflow

SIGNING_GRACE = timedelta(hours=24)

# The trigger fields each kind may set, besides name, description and customer.
COMMON_FIELDS = ("name", "description", "customer")
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    Kind.WEBHOOK: ("webhook_id", "auth", "execution_mode", "dedup_path", "dead_letter_enabled",
                   "max_attempts", "backoff"),
    Kind.SCHEDULER: ("schedule", "run_on_create", "catch_up", "overlap"),
    Kind.APP_EVENT: ("webhook_id", "auth", "connector", "connection", "event_name"),
}  # fmt: skip


@dataclass(frozen=True)
class RouteSpec:
    """One route as a form (or a file) describes it. `id` names an existing route of the
    trigger to keep (its id is the key of its deliveries), None for a new one."""

    workflow: Workflow
    environment: str
    headers: dict[str, str]
    filters: list[dict]
    payload: Any = None
    id: int | None = None


# --- Create, update, enable, delete ---------------------------------------------------------


@transaction.atomic
def trigger_create(
    space: Space,
    *,
    kind: str,
    fields: dict[str, Any],
    routes: list[RouteSpec],
    actor: Actor,
    request=None,
    enabled: bool = True,
) -> Trigger:
    """1. Check tenancy of the customer and the routes' workflows.
    2. Save the trigger (a taken Webhook ID is a ValidationError on `webhook_id`), then its
       routes; a schedule gets its next run, an HTTP app event is subscribed at once (an app
       event of a catalog connector is Not Subscribed until its first event arrives).
    3. Audit; a schedule that runs on create gets its first event in the same transaction.
    A trigger created disabled (a trigger file's `"enabled": false`) has no next run and does
    not run on create."""
    if kind not in Kind.values:
        raise ValidationError({"kind": f"Unknown trigger type {kind!r}."})
    trigger = Trigger(space=space, kind=kind, created_by_label=actor.label[:254])
    _assign(trigger, fields)
    trigger.enabled = enabled
    now = timezone.now()
    trigger.created_at = trigger.updated_at = now
    if kind == Kind.SCHEDULER and enabled:
        trigger.next_run_at = next_run_for(trigger, after=now)
    if kind == Kind.APP_EVENT:
        trigger.subscription, trigger.subscription_error = _subscribe(trigger)
    _save(trigger, force_insert=True)
    _routes_replace(trigger, routes)
    audit_record(
        space=space, actor=actor, action="trigger.create", resource=trigger, request=request,
        detail={"kind": kind, "routes": len(routes)},
    )  # fmt: skip
    if kind == Kind.SCHEDULER and trigger.run_on_create and enabled:
        _fire_on_create(trigger, now)
    return trigger


@transaction.atomic
def trigger_update(
    trigger: Trigger, *, fields: dict[str, Any], routes: list[RouteSpec], actor: Actor, request=None
) -> Trigger:
    """Save the form's fields and routes. The kind never changes; a schedule's next run is
    computed again from now (a changed schedule must not keep the old one's due time)."""
    before = {name: getattr(trigger, name) for name in _editable(trigger.kind)}
    _assign(trigger, fields)
    if trigger.kind == Kind.APP_EVENT and (
        before["connection"] != trigger.connection or before["event_name"] != trigger.event_name
    ):
        # Another account or event: what the provider was registered for no longer applies.
        trigger.subscription, trigger.subscription_error = _subscribe(trigger)
    now = timezone.now()
    trigger.updated_at = now
    # A changed schedule starts from now; otherwise next_run_at stays the firing loop's.
    rescheduled = trigger.kind == Kind.SCHEDULER and (
        before.get("schedule") != trigger.schedule or before.get("enabled") != trigger.enabled
    )
    if rescheduled:
        trigger.next_run_at = next_run_for(trigger, after=now) if trigger.enabled else None
    _save(trigger, loop_owned=LOOP_FIELDS if rescheduled else LOOP_FIELDS | {"next_run_at"})
    _routes_replace(trigger, routes)
    changed = sorted(name for name, value in before.items() if getattr(trigger, name) != value)
    audit_record(
        space=trigger.space, actor=actor, action="trigger.update", resource=trigger,
        request=request, detail={"kind": trigger.kind, "changed": changed, "routes": len(routes)},
    )  # fmt: skip
    return trigger


@transaction.atomic
def trigger_set_enabled(trigger: Trigger, *, enabled: bool, actor: Actor, request=None) -> bool:
    """Enable or disable; False when it already was. A schedule enabled again starts from now:
    the runs it missed while disabled are not due."""
    now = timezone.now()
    update: dict[str, Any] = {"enabled": enabled, "updated_at": now}
    if trigger.kind == Kind.SCHEDULER:
        update["next_run_at"] = next_run_for(trigger, after=now) if enabled else None
    if not Trigger.objects.filter(pk=trigger.pk, enabled=not enabled).update(**update):
        return False
    for name, value in update.items():
        setattr(trigger, name, value)
    audit_record(
        space=trigger.space, actor=actor, resource=trigger, request=request,
        action="trigger.enable" if enabled else "trigger.disable", detail={"kind": trigger.kind},
    )  # fmt: skip
    return True


@transaction.atomic
def trigger_delete(trigger: Trigger, *, actor: Actor, request=None) -> None:
    """Delete the trigger and its routes and request log; its events stay (they name it).
    The signing secrets it generated go with it; an app event's inbound URL answers 404 from
    then on (a webhook registered at the provider is removed there: Fastn never registered it)."""
    for secret in _generated_secrets(trigger):
        secret_delete(secret, actor=actor, request=request)
    audit_record(
        space=trigger.space, actor=actor, action="trigger.delete", resource=trigger,
        request=request, detail={"kind": trigger.kind, "webhook_id": trigger.webhook_id},
    )  # fmt: skip
    trigger.delete()


def _editable(kind: str) -> tuple[str, ...]:
    return COMMON_FIELDS + KIND_FIELDS[kind]


def _assign(trigger: Trigger, fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(_editable(trigger.kind))
    if unknown:
        raise ValidationError(f"Not a field of a {trigger.get_kind_display()} trigger: {unknown}")
    customer = fields.get("customer")
    if isinstance(customer, Customer) and customer.space_id != trigger.space_id:
        raise ValidationError({"customer": "This customer belongs to another Space."})
    for name, value in fields.items():
        setattr(trigger, name, value)
    if trigger.kind == Kind.SCHEDULER:
        try:
            schedule = schedules.schedule_from_dict(trigger.schedule or {})
        except schedules.ScheduleError as exc:
            raise ValidationError({"schedule": exc.message}) from None
        trigger.schedule = schedule.to_dict()
    if trigger.kind == Kind.APP_EVENT:
        _check_app_event(trigger)


def _check_app_event(trigger: Trigger) -> None:
    """The connector has the event, and the connection (needed by every connector but HTTP)
    is one of this Space's for that connector, and of the trigger's customer when both have
    one."""
    connector = connector_by_key(trigger.space, trigger.connector)
    if connector is None or connector.event(trigger.event_name) is None:
        raise ValidationError({"event_name": "Choose an event of the connector."})
    connection = trigger.connection
    if not connector.needs_connection:
        trigger.connection = None
        return
    if connection is None:
        raise ValidationError({"connection": NO_CONNECTION})
    if connection.space_id != trigger.space_id or connection.connector_slug != connector.key:
        raise ValidationError({"connection": f"Choose a connection of {connector.name}."})
    customer = trigger.customer_id
    if connection.customer_id and customer and connection.customer_id != customer:
        raise ValidationError(
            {"connection": "This connection belongs to another customer than the trigger."}
        )


# Written by the scheduler's firing loop (apps/triggers/scheduling.py), never by a form's save:
# a save racing a firing must not put back the values it read.
LOOP_FIELDS = frozenset({"last_run_at", "failures"})


def _save(trigger: Trigger, *, loop_owned: frozenset[str] = LOOP_FIELDS, **kwargs) -> None:
    if not kwargs.get("force_insert"):
        kwargs["update_fields"] = [
            f.name
            for f in Trigger._meta.concrete_fields
            if not f.primary_key and f.name not in loop_owned
        ]
    try:
        with transaction.atomic():
            trigger.full_clean(exclude=["space", "customer", "schedule"], validate_unique=False)
            trigger.save(**kwargs)
    except IntegrityError:
        raise ValidationError(
            {"webhook_id": f"The Webhook ID {trigger.webhook_id} is taken in this Space."}
        ) from None


def _routes_replace(trigger: Trigger, routes: list[RouteSpec]) -> None:
    """Make the trigger's routes the given ones, in order. A route that keeps its id keeps
    its row: deliveries of events in flight still find it, and are not made again."""
    foreign = [r.workflow.name for r in routes if r.workflow.space_id != trigger.space_id]
    if foreign:
        raise ValidationError({"routes": f"These workflows are not in this Space: {foreign}"})
    existing = {route.id: route for route in trigger.routes.all()}
    kept = {spec.id for spec in routes if spec.id in existing}
    Route.objects.filter(trigger=trigger).exclude(id__in=kept).delete()
    for position, spec in enumerate(routes):
        route = existing.get(spec.id) or Route(trigger=trigger)
        route.position = position
        route.workflow = spec.workflow
        route.environment = spec.environment
        route.headers = spec.headers
        route.filters = spec.filters
        route.payload = spec.payload if trigger.kind == Kind.SCHEDULER else None
        route.save()


# --- Schedules ------------------------------------------------------------------------------


def next_run_for(trigger: Trigger, *, after: datetime) -> datetime | None:
    """The first due time of the trigger's schedule strictly after `after` (and not before its
    Starts at), or None when it has none (apps/triggers/scheduling.py fires it)."""
    return scheduling.schedule_next_run(trigger, after=after)


def _fire_on_create(trigger: Trigger, now: datetime) -> None:
    """Run immediately on create: one event, as if the schedule had been due now (its key
    makes the create run once)."""
    scheduling.schedule_fire_now(
        trigger, source=Source.SCHEDULE, event_key=f"created:{trigger.id}", now=now
    )


@transaction.atomic
def trigger_run_now(trigger: Trigger, *, actor: Actor, request=None) -> Accepted:
    """Trigger Now: one event for a schedule, started by a person; each route runs with its
    payload."""
    if trigger.kind != Kind.SCHEDULER:
        raise ValidationError("Trigger Now starts schedules; send a test event to a webhook.")
    if not trigger.enabled:
        raise ValidationError(f"Trigger {trigger.name} is disabled: enable it first.")
    accepted = scheduling.schedule_fire_now(trigger)
    audit_record(
        space=trigger.space, actor=actor, action="trigger.run_now", resource=trigger,
        request=request, detail={"event": str(accepted.event.id)},
    )  # fmt: skip
    return accepted


@transaction.atomic
def trigger_send_test(trigger: Trigger, *, body: bytes, actor: Actor, request=None) -> Accepted:
    """Send test event: `body` as an event of the trigger, as if a sender had posted it with
    a JSON content type (authentication and signatures are the receiver's, not checked)."""
    if trigger.kind == Kind.SCHEDULER:
        raise ValidationError("A schedule has no body to test: use Trigger Now.")
    accepted = event_accept(
        trigger,
        source=Source.TEST,
        headers={"content-type": "application/json"},
        body=body,
        content_type="application/json",
    )
    audit_record(
        space=trigger.space, actor=actor, action="trigger.test_event", resource=trigger,
        request=request, detail={"event": str(accepted.event.id), "bytes": len(body)},
    )  # fmt: skip
    return accepted


# --- App events -----------------------------------------------------------------------------


NO_CONNECTION = (
    "No active connection found for this connector. Connect first to use it as a trigger source."
)


def _subscribe(trigger: Trigger) -> tuple[str, str]:
    """(subscription status, error). A connector whose events reach the inbound URL without
    an account (HTTP) is subscribed as soon as the trigger exists. Fastn cannot register a
    webhook at a provider for you (no connector definition says how), so a catalog
    connector's trigger is Not Subscribed while its connection is usable — the person
    registers the inbound URL at the provider — and becomes Subscribed when the first event
    arrives there (apps/triggers/receive.py: mark_subscribed). A connection that is gone,
    expired or failing makes it Failed, with the reason."""
    connector = connector_by_key(trigger.space, trigger.connector)
    if connector is None:
        return Subscription.FAILED, f"Unknown connector {trigger.connector!r}."
    if not connector.needs_connection:
        return Subscription.SUBSCRIBED, ""
    problem = _connection_problem(trigger, connector)
    if problem:
        return Subscription.FAILED, problem
    if trigger.subscription == Subscription.SUBSCRIBED:
        return Subscription.SUBSCRIBED, ""  # events already arrive: nothing to re-register
    return Subscription.NOT_SUBSCRIBED, ""


def _connection_problem(trigger: Trigger, connector: Connector) -> str:
    """Why the trigger's connection cannot receive events, or "" when it is active."""
    if trigger.connection_id is None:
        return f"The trigger has no connection (it was deleted): {NO_CONNECTION}"
    connection = Connection.objects.filter(
        pk=trigger.connection_id, space_id=trigger.space_id, connector_slug=connector.key
    ).first()
    if connection is None:
        return f"The connection was deleted: {NO_CONNECTION}"
    if connection.status != ConnectionStatus.ACTIVE:
        reason = f" ({connection.last_error})" if connection.last_error else ""
        return (
            f"The connection {connection.name} is {connection.get_status_display()}{reason}: "
            "reconnect it in Integrations → Connections, then retry."
        )
    return ""


@transaction.atomic
def trigger_retry_subscription(trigger: Trigger, *, actor: Actor, request=None) -> Trigger:
    """Retry Subscription: check the trigger's connection again (module `_subscribe`)."""
    if trigger.kind != Kind.APP_EVENT:
        raise ValidationError("Only app event triggers have a subscription.")
    status, error = _subscribe(trigger)
    Trigger.objects.filter(pk=trigger.pk).update(subscription=status, subscription_error=error)
    trigger.subscription, trigger.subscription_error = status, error
    audit_record(
        space=trigger.space, actor=actor, action="trigger.subscribe", resource=trigger,
        request=request,
        outcome=Outcome.FAILURE if status == Subscription.FAILED else Outcome.SUCCESS,
        detail={"connector": trigger.connector, "event": trigger.event_name, "status": status},
    )  # fmt: skip
    return trigger


# --- Signing --------------------------------------------------------------------------------


def signing_names(trigger: Trigger) -> tuple[str, str]:
    """The names of the Space secrets holding the trigger's current and previous signing
    secrets, when the console generated them."""
    base = f"TRIGGER_{trigger.id.hex.upper()}_SIGNING"
    return base, f"{base}_PREVIOUS"


def _secret_named(trigger: Trigger, name: str) -> Secret | None:
    if not name:
        return None
    return (
        Secret.objects.select_related("data_key", "space", "customer")
        .filter(space_id=trigger.space_id, customer__isnull=True, name=name)
        .first()
    )


def _generated_secrets(trigger: Trigger) -> list[Secret]:
    """The signing secrets this trigger made: a name given by a trigger file may be a secret
    the Space uses elsewhere, which removing signing must not delete."""
    ours = set(signing_names(trigger))
    names = {trigger.signing_secret_name, trigger.signing_previous_secret_name} & ours
    return [s for s in (_secret_named(trigger, name) for name in sorted(names)) if s]


def _lock(trigger: Trigger) -> Trigger:
    return Trigger.objects.select_for_update().select_related("space").get(pk=trigger.pk)


@transaction.atomic
def trigger_signing_enable(trigger: Trigger, *, actor: Actor, request=None) -> str:
    """Generate a signing secret and return it: the only time its value leaves the
    database. Refused when signing is already on (Rotate replaces a secret)."""
    locked = _lock(trigger)
    if locked.signing_secret_name:
        raise ValidationError("Signing is already on. Rotate the secret to replace it.")
    name, _previous = signing_names(locked)
    value = new_signing_secret()
    existing = _secret_named(locked, name)  # left behind by an earlier removal that failed
    if existing is not None:
        secret_rotate(existing, value=value, actor=actor, request=request)
    else:
        secret_create(
            locked.space, name=name, type=SecretType.TEXT, value=value, actor=actor,
            request=request,
        )  # fmt: skip
    _set_signing(trigger, name=name, previous="", until=None)
    audit_record(
        space=trigger.space, actor=actor, action="trigger.signing_enable", resource=trigger,
        request=request, detail={"secret": name},
    )  # fmt: skip
    return value


@transaction.atomic
def trigger_signing_rotate(
    trigger: Trigger, *, actor: Actor, request=None, grace: timedelta = SIGNING_GRACE
) -> str:
    """Replace the signing secret and return the new one. The old value moves to the
    previous secret and stays valid for `grace`, so senders can switch without failures.

    1. Lock the trigger (two rotations at once would lose the first one's old value).
    2. Copy the current value into the previous secret (made on the first rotation).
    3. Write the new value into the current secret; the grace period starts now."""
    locked = _lock(trigger)
    current = _secret_named(locked, locked.signing_secret_name)
    if current is None:
        raise ValidationError("Signing is off, or its secret was deleted: enable it again.")
    _name, previous_name = signing_names(locked)
    old_value = secret_decrypt(current)
    previous = _secret_named(locked, previous_name)
    if previous is not None:
        secret_rotate(previous, value=old_value, actor=actor, request=request)
    else:
        secret_create(
            locked.space, name=previous_name, type=SecretType.TEXT, value=old_value,
            actor=actor, request=request,
        )  # fmt: skip
    value = new_signing_secret()
    secret_rotate(current, value=value, actor=actor, request=request)
    until = timezone.now() + grace
    _set_signing(trigger, name=current.name, previous=previous_name, until=until)
    audit_record(
        space=trigger.space, actor=actor, action="trigger.signing_rotate", resource=trigger,
        request=request, detail={"secret": current.name, "previous_valid_until": until.isoformat()},
    )  # fmt: skip
    return value


@transaction.atomic
def trigger_signing_remove(trigger: Trigger, *, actor: Actor, request=None) -> None:
    """Stop verifying signatures; the secrets the console generated are deleted."""
    locked = _lock(trigger)
    if not locked.signing_secret_name:
        raise ValidationError("Signing is already off.")
    for secret in _generated_secrets(locked):
        secret_delete(secret, actor=actor, request=request)
    _set_signing(trigger, name="", previous="", until=None)
    audit_record(
        space=trigger.space, actor=actor, action="trigger.signing_remove", resource=trigger,
        request=request,
    )  # fmt: skip


@transaction.atomic
def trigger_signing_use(trigger: Trigger, *, name: str, actor: Actor, request=None) -> bool:
    """Verify signatures with the Space secret `name` (a trigger file's `signingSecret`), or
    stop with "". False when the trigger already uses it. The secret must exist; the console
    never reads its value here. A rotation's grace period ends (the previous secret belonged
    to the replaced one), and the secrets the console generated for this trigger are deleted
    once nothing names them, as Remove does."""
    locked = _lock(trigger)
    if name == locked.signing_secret_name:
        return False
    if name and _secret_named(locked, name) is None:
        raise ValidationError({"signing_secret_name": f"The Space has no secret named {name}."})
    for secret in _generated_secrets(locked):
        if secret.name != name:
            secret_delete(secret, actor=actor, request=request)
    _set_signing(trigger, name=name, previous="", until=None)
    audit_record(
        space=trigger.space, actor=actor, resource=trigger, request=request,
        action="trigger.signing_use" if name else "trigger.signing_remove",
        detail={"secret": name} if name else {},
    )  # fmt: skip
    return True


def _set_signing(trigger: Trigger, *, name: str, previous: str, until: datetime | None) -> None:
    now = timezone.now()
    Trigger.objects.filter(pk=trigger.pk).update(
        signing_secret_name=name,
        signing_previous_secret_name=previous,
        signing_previous_until=until,
        updated_at=now,
    )
    trigger.signing_secret_name = name
    trigger.signing_previous_secret_name = previous
    trigger.signing_previous_until = until
    trigger.updated_at = now
