"""Triggers as files, so teams can keep them in git beside their workflows.

One JSON file per trigger, `<trigger-id>.json`, marked `"format": "fastn.trigger/1"`. Routes
name their workflow by slug and their environment by slug, a customer by its external id, and
a signing secret by the name of a Space secret (`"signingSecret": {"secret": "NAME"}`) and an
app event's connection by its name and customer (`"connection": {"name": "Shop", "customer":
null}`): a file never holds a secret value or a credential. The README's "Triggers as files"
section lists every key.

Reading is strict: an unknown key, a key of another kind of trigger, or a schedule field that
the preset does not use is refused, so a typo never passes silently. Every problem names the
file and the field (`orders.json: routes[1].filters[0].operator: …`).

Import (`trigger_import`):
1. Read and check every file, each against the Space (workflows, environments, customers,
   secrets) and then all together (ids and Webhook IDs given twice, Webhook IDs taken by
   other triggers). Any problem: nothing is written.
2. In one transaction, through the console's services (so audit rows, next runs and
   subscriptions are the same as the console's): create, or update a trigger whose id the
   file names, unless the file already matches it ("unchanged").

A file whose id is not a trigger of this Space creates a new trigger with a new id, whether
the id belongs to another Space or to none: an import never reaches another Space's trigger,
and answers the same for both (a Space learns nothing of another's ids)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.connectors.models import Connection
from apps.environments.models import DRAFT, LIVE, TEST, Environment
from apps.secrets.models import NAME_MAX_LENGTH, Secret, name_validator
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Customer, Space
from apps.triggers import schedules, services
from apps.triggers.catalog import Connector, app_event_connectors, connector_by_key
from apps.triggers.filters import OPERATORS, FilterError, parse_filters, parse_path
from apps.triggers.forms import (
    FILTER_VALUE_MAX,
    HEADER_NAME,
    HEADER_VALUE_MAX,
    MAX_HEADERS,
    MAX_ROUTES,
    PAYLOAD_MAX_CHARS,
    ROW_PREFIX,
    USED_BY_PRESET,
)
from apps.triggers.models import (
    Backoff,
    CatchUp,
    ExecutionMode,
    Kind,
    Overlap,
    Route,
    Trigger,
    WebhookAuth,
    new_webhook_id,
    webhook_id_validator,
)
from apps.triggers.services import RouteSpec
from apps.workflows.models import Workflow
from fastn_console.strictjson import JsonInputError, parse_json

FORMAT = "fastn.trigger/1"
# A Connection's sealed credential: never read to write a file.
CONNECTION_SECRET = ("connection__ciphertext", "connection__nonce")
MAX_FILE_BYTES = 1024 * 1024
NAME_MAX = 120
DESCRIPTION_MAX = 1000
DEDUP_PATH_MAX = 200

COMMON_KEYS = ("format", "id", "kind", "name", "description", "enabled", "customer")
KIND_KEYS: dict[str, tuple[str, ...]] = {
    Kind.WEBHOOK: ("webhookId", "auth", "executionMode", "dedupPath", "deadLetterQueue",
                   "maxAttempts", "backoff", "signingSecret"),
    Kind.SCHEDULER: ("schedule", "runOnCreate", "catchUp", "overlap"),
    Kind.APP_EVENT: ("connector", "connection", "event", "webhookId", "auth", "signingSecret"),
}  # fmt: skip
ROUTE_KEYS: dict[str, tuple[str, ...]] = {
    Kind.WEBHOOK: ("workflow", "environment", "headers", "filters"),
    Kind.SCHEDULER: ("workflow", "environment", "headers", "payload"),
    Kind.APP_EVENT: ("workflow", "environment", "headers", "filters"),
}
# The schedule's fields in a file; only `startsAt` is spelt differently from schedules.py.
SCHEDULE_KEYS = {"preset": "preset", "timezone": "timezone", "every": "every", "unit": "unit",
                 "time": "time", "weekdays": "weekdays", "day": "day", "cron": "cron",
                 "startsAt": "starts_at"}  # fmt: skip
SCHEDULE_FILE_KEY = {model: key for key, model in SCHEDULE_KEYS.items()}
# Service (model) field → its key in a file, to name the field of a service's ValidationError.
FILE_KEY = {"webhook_id": "webhookId", "signing_secret_name": "signingSecret.secret",
            "schedule": "schedule", "event_name": "event", "customer": "customer",
            "routes": "routes", "name": "name", "description": "description",
            "connection": "connection"}  # fmt: skip
# Header names that usually carry a credential: export warns that route headers are plain.
CREDENTIAL_HEADER = re.compile(r"auth|cookie|token|secret|passw|api[-_]?key|access[-_]?key", re.I)


class TriggerFileError(Exception):
    """What is wrong with the files: one line per file at fault, each naming the file and the
    field (`orders.json: routes[0].workflow: …`)."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Problem(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


# --- Writing --------------------------------------------------------------------------------


def to_file(trigger: Trigger, routes: list[Route]) -> dict[str, Any]:
    """The file of a trigger, keys in a fixed order and free-form JSON (headers, payloads,
    filter values) with sorted keys, so an unchanged trigger exports byte-identical files."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "id": str(trigger.id),
        "kind": trigger.kind,
        "name": trigger.name,
        "description": trigger.description,
        "enabled": trigger.enabled,
        "customer": trigger.customer.external_id if trigger.customer_id else None,
    }
    for key in KIND_KEYS[trigger.kind]:
        document[key] = _kind_value(trigger, key)
    document["routes"] = [_route_file(trigger.kind, route) for route in routes]
    return document


def _kind_value(trigger: Trigger, key: str) -> Any:
    if key == "signingSecret":
        name = trigger.signing_secret_name
        return {"secret": name} if name else None
    if key == "schedule":
        return schedule_file(trigger.schedule)
    if key == "connection":
        return connection_file(trigger.connection)
    attribute = {"webhookId": "webhook_id", "executionMode": "execution_mode",
                 "dedupPath": "dedup_path", "deadLetterQueue": "dead_letter_enabled",
                 "maxAttempts": "max_attempts", "runOnCreate": "run_on_create",
                 "catchUp": "catch_up", "event": "event_name"}.get(key, key)  # fmt: skip
    return getattr(trigger, attribute)


def connection_file(connection: Connection | None) -> dict[str, Any] | None:
    """A connection by its name and its customer's external id (never its credential)."""
    if connection is None:
        return None
    customer = connection.customer.external_id if connection.customer_id else None
    return {"name": connection.name, "customer": customer}


def schedule_file(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored schedule (Schedule.to_dict()) as a file writes it: its preset, time zone and
    the fields that preset uses, then Starts at when there is one."""
    preset = stored.get("preset", "")
    result = {"preset": preset, "timezone": stored.get("timezone")}
    for name in USED_BY_PRESET.get(preset, ()):
        result[name] = stored.get(name)
    if stored.get("starts_at"):
        result["startsAt"] = stored["starts_at"]
    return result


def _route_file(kind: str, route: Route) -> dict[str, Any]:
    document: dict[str, Any] = {
        "workflow": route.workflow.slug,
        "environment": route.environment,
        "headers": _sorted(route.headers or {}),
    }
    if kind == Kind.SCHEDULER:
        document["payload"] = _sorted(route.payload)
    else:
        document["filters"] = [_filter_row(row) for row in route.filters or []]
    return document


def _filter_row(row: dict[str, Any]) -> dict[str, Any]:
    value = row.get("value")
    if row.get("operator") == "exists" and value is None:
        value = True
    return {"path": row.get("path"), "operator": row.get("operator"), "value": _sorted(value)}


def _sorted(value: Any) -> Any:
    """JSON with every object's keys sorted: PostgreSQL's jsonb does not keep their order."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def file_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def credential_headers(document: dict[str, Any]) -> list[str]:
    """The route headers of a file whose names suggest a credential (export warns)."""
    return [
        f"routes[{index}].headers.{name}"
        for index, route in enumerate(document["routes"])
        for name in route["headers"]
        if CREDENTIAL_HEADER.search(name)
    ]


def _space_triggers(space: Space) -> list[tuple[Trigger, list[Route]]]:
    triggers = (
        Trigger.objects.filter(space=space)
        .select_related("customer", "connection__customer")
        .defer(*CONNECTION_SECRET)
        .prefetch_related("routes__workflow")
        .order_by("kind", "name", "id")
    )
    return [(t, sorted(t.routes.all(), key=lambda r: (r.position, r.id))) for t in triggers]


def trigger_export(space: Space, *, directory: Path, actor: Actor) -> list[tuple[Path, dict]]:
    """Write every trigger of the Space as `<trigger-id>.json` into `directory`; audited."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for trigger, routes in _space_triggers(space):
        document = to_file(trigger, routes)
        path = directory / f"{trigger.id}.json"
        path.write_bytes(file_text(document).encode("utf-8"))
        written.append((path, document))
    with transaction.atomic():
        audit_record(
            space=space, actor=actor, action="trigger.export",
            resource_label=f"{len(written)} triggers",
            detail={"ids": [d["id"] for _p, d in written], "directory": str(directory)},
        )  # fmt: skip
    return written


# --- Reading --------------------------------------------------------------------------------


def collect(paths: list[str]) -> list[tuple[str, Any]]:
    """(label, parsed JSON) of every file named by `paths`: files, or directories (each
    `*.json` in them). The label is the path as given, for messages."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(path.glob("*.json")))
        elif path.is_file():
            found.append(path)
        else:
            raise TriggerFileError([f"{path}: no such file or directory."])
    files, problems, seen = [], [], set()
    for path in found:
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        try:
            files.append((str(path), _read(path)))
        except _Problem as problem:
            problems.append(f"{path}: {problem.message}")
    if problems:
        raise TriggerFileError(problems)
    if not files:
        raise TriggerFileError(["No trigger files found (expected <trigger-id>.json files)."])
    return files


def _read(path: Path) -> Any:
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise _Problem("", f"larger than {MAX_FILE_BYTES // 1024} KiB; not a trigger file.")
    try:
        return parse_json(data, label="The file")
    except JsonInputError as exc:
        raise _Problem("", f"not valid JSON: {exc.reason}.") from None


@dataclass
class Plan:
    """One file, checked: what to write, and the file as the trigger will export it."""

    source: str
    trigger: Trigger | None  # the trigger of this Space it updates; None creates one
    kind: str
    fields: dict[str, Any]
    routes: list[RouteSpec]
    enabled: bool
    signing: str
    document: dict[str, Any]

    @property
    def webhook_id(self) -> str:
        return self.fields.get("webhook_id", self.trigger.webhook_id if self.trigger else "")


@dataclass
class _Space:
    """What the files are checked against, read once: the Space's triggers named by the files,
    workflows, environments, customers and Space secrets."""

    space: Space
    triggers: dict[str, Trigger]
    routes: dict[str, list[Route]]
    workflows: dict[str, Workflow]
    environments: list[str]
    customers: dict[str, Customer]
    secrets: set[str]
    webhook_ids: dict[str, Trigger] = field(default_factory=dict)
    connections: list[Connection] = field(default_factory=list)

    @classmethod
    def load(cls, space: Space, ids: set[uuid.UUID]) -> _Space:
        triggers = {
            str(t.id): t
            for t in Trigger.objects.filter(space=space, id__in=ids)
            .select_related("space", "customer", "connection__customer")
            .defer(*CONNECTION_SECRET)
            .prefetch_related("routes__workflow")
        }
        named = Environment.objects.filter(space=space, builtin=False).order_by("slug")
        return cls(
            space=space,
            triggers=triggers,
            routes={
                key: sorted(t.routes.all(), key=lambda r: (r.position, r.id))
                for key, t in triggers.items()
            },
            workflows={w.slug: w for w in Workflow.objects.filter(space=space)},
            environments=[DRAFT, TEST, LIVE, *named.values_list("slug", flat=True)],
            customers={c.external_id: c for c in Customer.objects.filter(space=space)},
            secrets=set(
                Secret.objects.filter(space=space, customer__isnull=True).values_list(
                    "name", flat=True
                )
            ),
            webhook_ids={
                t.webhook_id: t
                for t in Trigger.objects.filter(space=space).only("id", "name", "webhook_id")
            },
            connections=list(
                Connection.objects.filter(space=space)
                .select_related("customer")
                .defer("ciphertext", "nonce")
            ),
        )


def validate(space: Space, files: list[tuple[str, Any]]) -> list[Plan]:
    """Check every file (see the module docstring); TriggerFileError lists every file at
    fault, each with its first problem."""
    ids = {_uuid(data.get("id")) for _source, data in files if isinstance(data, dict)}
    known = _Space.load(space, {i for i in ids if i is not None})
    plans, problems = [], []
    for source, data in files:
        try:
            plans.append(from_file(known, source, data))
        except _Problem as problem:
            where = f"{problem.field}: " if problem.field else ""
            problems.append(f"{source}: {where}{problem.message}")
    if problems:
        raise TriggerFileError(problems)
    problems = _check_together(known, plans)
    if problems:
        raise TriggerFileError(problems)
    return plans


def _check_together(known: _Space, plans: list[Plan]) -> list[str]:
    """Ids and Webhook IDs given twice in the files, and Webhook IDs that other triggers of
    the Space (not updated by these files) hold."""
    problems = []
    by_id: dict[str, str] = {}
    for plan in plans:
        if plan.trigger is None:
            continue
        key = str(plan.trigger.id)
        if key in by_id:
            problems.append(f"{plan.source}: id: {key} is also the id in {by_id[key]}.")
        by_id.setdefault(key, plan.source)
    updated = {plan.trigger.pk for plan in plans if plan.trigger is not None}
    by_webhook: dict[str, str] = {}
    for plan in plans:
        if plan.kind == Kind.SCHEDULER:
            continue
        webhook_id = plan.webhook_id
        if webhook_id in by_webhook:
            problems.append(
                f'{plan.source}: webhookId: "{webhook_id}" is also the webhookId in '
                f"{by_webhook[webhook_id]}; a Webhook ID is unique in the Space."
            )
            continue
        by_webhook[webhook_id] = plan.source
        holder = known.webhook_ids.get(webhook_id)
        if holder is not None and holder.pk not in updated:
            problems.append(
                f'{plan.source}: webhookId: "{webhook_id}" is taken by the trigger '
                f'"{holder.name}" ({holder.id}) of this Space; a Webhook ID is unique in the '
                "Space."
            )
    return problems


def _uuid(value: Any) -> uuid.UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def from_file(known: _Space, source: str, data: Any) -> Plan:
    """One file as a Plan, or _Problem naming the field."""
    if not isinstance(data, dict):
        raise _Problem("", "a trigger file is a JSON object.")
    _check_format(data)
    kind = _choice(data, "kind", Kind.values, required=True)
    _refuse_unknown(data, COMMON_KEYS + KIND_KEYS[kind] + ("routes",), kind=kind)
    given_id = data.get("id")
    if given_id is not None and _uuid(given_id) is None:
        raise _Problem("id", "a trigger id is a UUID such as 3f0c…; leave it out to create one.")
    trigger = known.triggers.get(str(_uuid(given_id))) if given_id else None
    if trigger is not None and trigger.kind != kind:
        raise _Problem(
            "kind",
            f"the trigger {trigger.id} is a {trigger.kind} trigger; a kind cannot change "
            '(leave "id" out to create a new trigger).',
        )
    fields: dict[str, Any] = {
        "name": _text(data, "name", required=True, max_length=NAME_MAX),
        "description": _text(data, "description", max_length=DESCRIPTION_MAX),
        "customer": _customer(known, data),
    }
    fields |= KIND_FIELDS[kind](known, data, trigger)
    enabled = _bool(data, "enabled", True)
    signing = _signing(known, data) if "signingSecret" in KIND_KEYS[kind] else ""
    routes, route_rows = _routes(known, kind, data, trigger)
    candidate = _candidate(known.space, kind, fields, enabled, signing, trigger)
    return Plan(
        source=source,
        trigger=trigger,
        kind=kind,
        fields=fields,
        routes=routes,
        enabled=enabled,
        signing=signing,
        document=to_file(candidate, route_rows),
    )


def _candidate(
    space: Space, kind: str, fields: dict, enabled: bool, signing: str, trigger: Trigger | None
) -> Trigger:
    """An unsaved trigger holding the file's values, to export it for comparison."""
    candidate = Trigger(space=space, kind=kind, enabled=enabled, signing_secret_name=signing)
    if trigger is not None:
        candidate.id = trigger.id
    for name, value in fields.items():
        setattr(candidate, name, value)
    return candidate


def _check_format(data: dict) -> None:
    value = data.get("format")
    if value is None:
        raise _Problem("format", f'missing; a trigger file starts with "format": "{FORMAT}".')
    if value != FORMAT:
        raise _Problem(
            "format", f"{json.dumps(value)} is not supported; this console reads {FORMAT}."
        )


def _refuse_unknown(data: dict, allowed: tuple[str, ...], *, kind: str) -> None:
    every = set(COMMON_KEYS) | {"routes"} | {k for keys in KIND_KEYS.values() for k in keys}
    for key in data:
        if key in allowed:
            continue
        if key in every:
            raise _Problem(key, f"not a key of a {kind} trigger.")
        raise _Problem(key, f"unknown key; a {kind} trigger has {', '.join(allowed)}.")


def _text(
    data: dict, key: str, *, required: bool = False, max_length: int, default: str = ""
) -> str:
    if key not in data:
        if required:
            raise _Problem(key, "required.")
        return default
    value = data[key]
    if not isinstance(value, str) or (required and not value.strip()):
        raise _Problem(key, f"must be a{' non-empty' if required else ''} string.")
    if len(value) > max_length:
        raise _Problem(key, f"at most {max_length} characters.")
    return value.strip() if required else value


def _bool(data: dict, key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise _Problem(key, "must be true or false.")
    return value


def _choice(
    data: dict, key: str, choices: list[str], *, default: str = "", required: bool = False
) -> str:
    if key not in data and not required:
        return default
    value = data.get(key)
    if key not in data:
        raise _Problem(key, f"required; use {', '.join(choices)}.")
    if value not in choices:
        raise _Problem(key, f"unknown value {json.dumps(value)}; use {', '.join(choices)}.")
    return value


def _customer(known: _Space, data: dict) -> Customer | None:
    value = data.get("customer")
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Problem("customer", "the customer's external id (a string), or null.")
    customer = known.customers.get(value)
    if customer is None:
        raise _Problem("customer", f'no customer with the external id "{value}" in this Space.')
    return customer


def _signing(known: _Space, data: dict) -> str:
    value = data.get("signingSecret")
    if value is None:
        return ""
    if not isinstance(value, dict) or set(value) != {"secret"}:
        raise _Problem(
            "signingSecret",
            'name a Space secret: {"secret": "NAME"}, or null; a file never holds the value.',
        )
    name = value["secret"]
    try:
        if not isinstance(name, str) or len(name) > NAME_MAX_LENGTH:
            raise ValidationError("")
        name_validator(name)
    except ValidationError:
        raise _Problem(
            "signingSecret.secret",
            "a secret name in UPPER_SNAKE_CASE (capital letters, digits and underscores).",
        ) from None
    if name not in known.secrets:
        raise _Problem(
            "signingSecret.secret",
            f"the Space has no secret named {name}; create it first "
            f"(python manage.py secret set {name} --space {known.space.slug}).",
        )
    return name


# --- Each kind's keys -----------------------------------------------------------------------


def _receiver_fields(data: dict, trigger: Trigger | None) -> dict[str, Any]:
    if "webhookId" in data:
        webhook_id = data["webhookId"]
        try:
            if not isinstance(webhook_id, str):
                raise ValidationError("")
            webhook_id_validator(webhook_id)
        except ValidationError:
            raise _Problem("webhookId", webhook_id_validator.message) from None
    else:
        webhook_id = trigger.webhook_id if trigger else new_webhook_id()
    return {
        "webhook_id": webhook_id,
        "auth": _choice(data, "auth", WebhookAuth.values, default=WebhookAuth.API_KEY),
    }


def _webhook_fields(known: _Space, data: dict, trigger: Trigger | None) -> dict[str, Any]:
    dedup_path = _text(data, "dedupPath", max_length=DEDUP_PATH_MAX)
    if dedup_path:
        try:
            parse_path(dedup_path)
        except FilterError as exc:
            raise _Problem("dedupPath", f"not a valid path: {exc.message}.") from None
    attempts = data.get("maxAttempts", 3)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 10:
        raise _Problem("maxAttempts", "a whole number from 1 to 10.")
    return _receiver_fields(data, trigger) | {
        "execution_mode": _choice(
            data, "executionMode", ExecutionMode.values, default=ExecutionMode.PARALLEL
        ),
        "dedup_path": dedup_path,
        "dead_letter_enabled": _bool(data, "deadLetterQueue", True),
        "max_attempts": attempts,
        "backoff": _choice(data, "backoff", Backoff.values, default=Backoff.EXPONENTIAL),
    }


def _scheduler_fields(known: _Space, data: dict, trigger: Trigger | None) -> dict[str, Any]:
    return {
        "schedule": _schedule(known, data.get("schedule")),
        "run_on_create": _bool(data, "runOnCreate", False),
        "catch_up": _choice(data, "catchUp", CatchUp.values, default=CatchUp.SKIP),
        "overlap": _choice(data, "overlap", Overlap.values, default=Overlap.ALLOW),
    }


def _schedule(known: _Space, value: Any) -> dict[str, Any]:
    """The file's schedule as schedules.py stores it; its time zone defaults to the Space's."""
    if not isinstance(value, dict):
        raise _Problem("schedule", 'required: an object such as {"preset": "daily", ...}.')
    for key in value:
        if key not in SCHEDULE_KEYS:
            raise _Problem(
                f"schedule.{key}", f"unknown key; a schedule has {', '.join(SCHEDULE_KEYS)}."
            )
    preset = value.get("preset")
    used = USED_BY_PRESET.get(preset, ())
    for key in value:
        if key not in ("preset", "timezone", "startsAt") and key not in used:
            raise _Problem(
                f"schedule.{key}",
                f"not used by the {preset} preset (it uses {', '.join(used) or 'nothing'}).",
            )
    data = {SCHEDULE_KEYS[key]: item for key, item in value.items()}
    data.setdefault("timezone", known.space.time_zone)
    try:
        return schedules.schedule_from_dict(data).to_dict()
    except schedules.ScheduleError as exc:
        key = SCHEDULE_FILE_KEY.get(exc.field, exc.field)
        raise _Problem(f"schedule.{key}", _sentence(exc.message)) from None


def _app_event_fields(known: _Space, data: dict, trigger: Trigger | None) -> dict[str, Any]:
    key = _text(data, "connector", required=True, max_length=80)
    connector = connector_by_key(known.space, key)
    if connector is None:
        names = ", ".join(c.key for c in app_event_connectors(known.space))
        raise _Problem("connector", f'no connector "{key}" with events in this Space; use {names}.')
    if trigger is not None and trigger.connector != key:
        raise _Problem("connector", f"the trigger's connector is {trigger.connector}; it cannot "
                       "change (its subscription is there).")  # fmt: skip
    event = _text(data, "event", required=True, max_length=120)
    if connector.event(event) is None:
        names = ", ".join(e.key for e in connector.events)
        raise _Problem("event", f'{connector.name} has no event "{event}"; use {names}.')
    return _receiver_fields(data, trigger) | {
        "connector": key,
        "connection": _connection(known, connector, data.get("connection")),
        "event_name": event,
    }


def _connection(known: _Space, connector: Connector, value: Any) -> Connection | None:
    """The connection a file names: {"name", "customer": external id or null}, one of the
    Space's connections of the connector (HTTP's Inbound webhook takes none)."""
    if not connector.needs_connection:
        if value is not None:
            raise _Problem("connection", f"{connector.name}'s events need no connection: null.")
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise _Problem(
            "connection",
            f'required: {{"name": "<connection name>", "customer": null}}, a {connector.name} '
            "connection of this Space (Integrations → Connections).",
        )
    unknown = set(value) - {"name", "customer"}
    if unknown:
        raise _Problem(f"connection.{sorted(unknown)[0]}", "unknown key; use name and customer.")
    customer = value.get("customer")
    if customer is not None and not isinstance(customer, str):
        raise _Problem("connection.customer", "the customer's external id (a string), or null.")
    found = [
        c
        for c in known.connections
        if c.connector_slug == connector.key
        and c.name == value["name"]
        and (c.customer.external_id if c.customer_id else None) == customer
    ]
    whose = f' of the customer "{customer}"' if customer else " (Space-wide)"
    if not found:
        raise _Problem(
            "connection", f'no {connector.name} connection "{value["name"]}"{whose} in this Space.'
        )
    if len(found) > 1:
        raise _Problem(
            "connection",
            f'{len(found)} {connector.name} connections are named "{value["name"]}"{whose}: '
            "rename one so that the file names a single connection.",
        )
    return found[0]


KIND_FIELDS = {
    Kind.WEBHOOK: _webhook_fields,
    Kind.SCHEDULER: _scheduler_fields,
    Kind.APP_EVENT: _app_event_fields,
}


# --- Routes ---------------------------------------------------------------------------------


def _routes(
    known: _Space, kind: str, data: dict, trigger: Trigger | None
) -> tuple[list[RouteSpec], list[Route]]:
    """The routes as RouteSpecs for the services, and as unsaved Routes for the comparison.
    A route that targets the same workflow and environment as one of the trigger's keeps its
    id, so deliveries of events in flight still find it."""
    rows = data.get("routes")
    if not isinstance(rows, list) or not rows:
        raise _Problem("routes", "required: a list of at least one route (a workflow to start).")
    if len(rows) > MAX_ROUTES:
        raise _Problem("routes", f"at most {MAX_ROUTES} routes.")
    existing = list(known.routes.get(str(trigger.id), [])) if trigger else []
    already = {route.workflow_id for route in existing}
    specs, unsaved = [], []
    for index, row in enumerate(rows):
        spec = _route(known, kind, f"routes[{index}]", row, already)
        target = (spec.workflow.pk, spec.environment)
        match = next((r for r in existing if (r.workflow_id, r.environment) == target), None)
        if match is not None:
            existing.remove(match)
            spec = replace(spec, id=match.id)
        specs.append(spec)
        unsaved.append(
            Route(
                workflow=spec.workflow,
                environment=spec.environment,
                headers=spec.headers,
                filters=spec.filters,
                payload=spec.payload,
            )
        )
    return specs, unsaved


def _route(known: _Space, kind: str, where: str, row: Any, already: set) -> RouteSpec:
    if not isinstance(row, dict):
        raise _Problem(where, "a route is an object with workflow, environment and headers.")
    allowed = ROUTE_KEYS[kind]
    for key in row:
        if key == "filters" and kind == Kind.SCHEDULER:
            raise _Problem(f"{where}.filters", "a scheduler's routes have no filters (a "
                           "schedule has no body); each route has a payload instead.")  # fmt: skip
        if key == "payload" and kind != Kind.SCHEDULER:
            raise _Problem(f"{where}.payload", "only a scheduler's routes have a payload; "
                           "the event's body is the run's input.")  # fmt: skip
        if key not in allowed:
            raise _Problem(f"{where}.{key}", f"unknown key; a route has {', '.join(allowed)}.")
    workflow = _route_workflow(known, where, row, already)
    environment = row.get("environment", LIVE)
    if environment not in known.environments:
        raise _Problem(
            f"{where}.environment",
            f"no environment {json.dumps(environment)} in this Space; use "
            f"{', '.join(known.environments)}.",
        )
    return RouteSpec(
        workflow=workflow,
        environment=environment,
        headers=_headers(f"{where}.headers", row.get("headers", {})),
        filters=_filters(f"{where}.filters", row.get("filters", [])),
        payload=_payload(f"{where}.payload", row.get("payload")),
    )


def _route_workflow(known: _Space, where: str, row: dict, already: set) -> Workflow:
    slug = row.get("workflow")
    if not isinstance(slug, str) or not slug:
        raise _Problem(f"{where}.workflow", "required: the slug of a workflow of this Space.")
    workflow = known.workflows.get(slug)
    if workflow is None:
        raise _Problem(f"{where}.workflow", f'no workflow with the slug "{slug}" in this Space.')
    # The console offers only active workflows; a route the trigger already has may stay.
    if not workflow.enabled and workflow.pk not in already:
        raise _Problem(f"{where}.workflow", f'the workflow "{slug}" is disabled; enable it first.')
    return workflow


def _headers(where: str, value: Any) -> dict[str, str]:
    """The same rules as the console's header rows."""
    if not isinstance(value, dict):
        raise _Problem(where, 'an object of header names and values, e.g. {"x-source": "shop"}.')
    if len(value) > MAX_HEADERS:
        raise _Problem(where, f"at most {MAX_HEADERS} headers.")
    seen: set[str] = set()
    for name, text in value.items():
        if not HEADER_NAME.match(name):
            raise _Problem(where, f"{json.dumps(name)} is not a header name (1 to 100 letters, "
                           "digits or - _ . characters).")  # fmt: skip
        if name.lower() in seen:
            raise _Problem(f"{where}.{name}", "given twice (header names ignore case).")
        seen.add(name.lower())
        one_line = isinstance(text, str) and "\n" not in text and "\r" not in text
        if not one_line or len(text) > HEADER_VALUE_MAX:
            raise _Problem(
                f"{where}.{name}", f"one line of text of at most {HEADER_VALUE_MAX} characters."
            )
    return dict(value)


def _filters(where: str, rows: Any) -> list[dict]:
    """The filter rows, checked by filters.parse_filters (as the console's are), with the
    operator named in full when it is unknown; `exists` rows get their explicit value."""
    try:
        parse_filters(rows)
    except FilterError as exc:
        if exc.row is None:
            raise _Problem(where, f"{exc.message}.") from None
        at = f"{where}[{exc.row}]"
        if exc.field == "operator":
            given = rows[exc.row].get("operator")
            raise _Problem(
                f"{at}.operator",
                f"unknown operator {json.dumps(given)}; use {', '.join(OPERATORS)}.",
            ) from None
        field = f".{exc.field}" if exc.field else ""
        raise _Problem(f"{at}{field}", _sentence(ROW_PREFIX.sub("", exc.message))) from None
    normalized = []
    for index, row in enumerate(rows):
        if len(json.dumps(row.get("value"))) > FILTER_VALUE_MAX:
            raise _Problem(
                f"{where}[{index}].value", f"at most {FILTER_VALUE_MAX} characters of JSON."
            )
        normalized.append(_filter_row(row))
    return normalized


def _payload(where: str, value: Any) -> Any:
    if value is not None and len(json.dumps(value)) > PAYLOAD_MAX_CHARS:
        raise _Problem(where, f"at most {PAYLOAD_MAX_CHARS // 1024} KiB of JSON.")
    return value


def _sentence(message: str) -> str:
    message = message.strip()
    return message if message.endswith(".") else f"{message}."


# --- Import ---------------------------------------------------------------------------------


@dataclass
class ImportReport:
    # (file, "created" | "updated" | "unchanged", the trigger's id), in the files' order.
    results: list[tuple[str, str, str]] = field(default_factory=list)

    def of(self, status: str) -> list[tuple[str, str]]:
        return [(source, trigger_id) for source, s, trigger_id in self.results if s == status]

    @property
    def changed_anything(self) -> bool:
        return any(status != "unchanged" for _source, status, _id in self.results)


def trigger_import(space: Space, *, files: list[tuple[str, Any]], actor: Actor) -> ImportReport:
    """Check every file, then write them all in one transaction (the module docstring)."""
    plans = validate(space, files)
    order = {plan.source: index for index, plan in enumerate(plans)}
    report = ImportReport()
    with transaction.atomic():
        # Updates first: a Webhook ID that a file moves from one trigger to a new one is free
        # by the time the new trigger is saved.
        for plan in sorted(plans, key=lambda plan: plan.trigger is None):
            try:
                report.results.append((plan.source, *_write(space, plan, actor)))
            except ValidationError as exc:
                raise TriggerFileError([_service_problem(plan.source, exc)]) from None
        report.results.sort(key=lambda result: order[result[0]])
        if report.changed_anything:
            audit_record(
                space=space, actor=actor, action="trigger.import",
                resource_label=f"{len(plans)} triggers",
                detail={status: [i for _s, i in report.of(status)]
                        for status in ("created", "updated", "unchanged")},
            )  # fmt: skip
    return report


def _write(space: Space, plan: Plan, actor: Actor) -> tuple[str, str]:
    """Create or update the plan's trigger: (what was done, the trigger's id)."""
    trigger = plan.trigger
    if trigger is None:
        trigger = services.trigger_create(
            space, kind=plan.kind, fields=plan.fields, routes=plan.routes, actor=actor,
            enabled=plan.enabled,
        )  # fmt: skip
        if plan.signing:
            services.trigger_signing_use(trigger, name=plan.signing, actor=actor)
        return "created", str(trigger.id)
    if plan.document == to_file(trigger, _current_routes(trigger)):
        return "unchanged", str(trigger.id)
    services.trigger_update(trigger, fields=plan.fields, routes=plan.routes, actor=actor)
    if trigger.enabled != plan.enabled:
        services.trigger_set_enabled(trigger, enabled=plan.enabled, actor=actor)
    services.trigger_signing_use(trigger, name=plan.signing, actor=actor)
    return "updated", str(trigger.id)


def _current_routes(trigger: Trigger) -> list[Route]:
    return list(trigger.routes.select_related("workflow").order_by("position", "id"))


def _service_problem(source: str, exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        key, errors = next(iter(exc.message_dict.items()))
        return f"{source}: {FILE_KEY.get(key, key)}: {_sentence(errors[0])}"
    return f"{source}: {_sentence(' '.join(exc.messages))}"
