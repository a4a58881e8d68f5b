"""Every check of what a person types into the trigger forms.

A trigger form is two parts: the trigger's own fields (`WebhookForm`, `SchedulerForm`,
`AppEventForm`) and its routes (`RouteSet`, one `RouteForm` per route, each with header rows,
filter rows and, for schedules, a payload). Rows are posted as parallel lists
(`route-<key>-header-name`, `route-<key>-header-value`, …), so a form shown again after an
error keeps every row exactly as typed, with the error beside the row at fault."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.core.exceptions import ValidationError

from apps.connectors.models import Connection, ConnectionStatus
from apps.spaces.models import Customer, Space
from apps.spaces.timezones import time_zone_choices
from apps.triggers import schedules
from apps.triggers.catalog import HTTP_KEY, AppEvent, app_event_connectors, catalog_lookup
from apps.triggers.filters import MAX_ROWS, OPERATORS, FilterError, parse_filters, parse_path
from apps.triggers.models import (
    Backoff,
    CatchUp,
    ExecutionMode,
    Kind,
    Overlap,
    Route,
    Subscription,
    Trigger,
    WebhookAuth,
    new_webhook_id,
    webhook_id_validator,
)
from apps.triggers.selectors import route_environments, route_workflows
from apps.triggers.services import NO_CONNECTION, RouteSpec
from fastn_console.strictjson import JsonInputError, parse_json

MAX_ROUTES = 20
MAX_HEADERS = 30
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}\Z")
HEADER_VALUE_MAX = 2000
ROUTE_KEY = re.compile(r"^[A-Za-z0-9_]{1,24}\Z")
PAYLOAD_MAX_CHARS = 64 * 1024
FILTER_VALUE_MAX = 2000
NUL_MESSAGE = "Contains a NUL character, which cannot be stored."
ROW_PREFIX = re.compile(r"^row \d+: ")

OPERATOR_LABELS = {
    "eq": "equals",
    "neq": "does not equal",
    "gt": "greater than",
    "lt": "less than",
    "in": "is one of",
    "contains": "contains",
    "exists": "exists",
}
OPERATOR_CHOICES = [(op, f"{op} ({OPERATOR_LABELS[op]})") for op in OPERATORS]


# --- The trigger's own fields ---------------------------------------------------------------


class TriggerForm(forms.Form):
    """Name, Description and Tenant: what every kind of trigger has."""

    kind: str = ""

    name = forms.CharField(max_length=120)
    description = forms.CharField(
        required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    customer = forms.ModelChoiceField(
        label="Tenant",
        queryset=Customer.objects.none(),
        required=False,
        empty_label="All tenants (Space-wide)",
        help_text="A trigger of one customer starts its runs for that customer.",
    )

    def __init__(self, space: Space, data=None, *, trigger: Trigger | None = None):
        self.space, self.trigger = space, trigger
        super().__init__(data, initial=self.initial_from(trigger) if trigger else None)
        self.fields["customer"].queryset = Customer.objects.filter(space=space)

    def initial_from(self, trigger: Trigger) -> dict[str, Any]:
        return {
            "name": trigger.name,
            "description": trigger.description,
            "customer": trigger.customer_id,
        }

    def trigger_fields(self) -> dict[str, Any]:
        """The cleaned values, as services.trigger_create / trigger_update take them."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "customer": data["customer"],
        }


def webhook_id_field() -> forms.CharField:
    return forms.CharField(
        label="Webhook ID",
        max_length=64,
        required=False,
        validators=[webhook_id_validator],
        widget=forms.TextInput(attrs={"class": "mono", "autocomplete": "off"}),
        help_text="The last part of the URL. Unique in the Space; empty makes a new one.",
    )


def auth_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Authentication",
        choices=[
            (WebhookAuth.API_KEY, "API key (header x-fastn-key or x-fastn-access-key)"),
            (WebhookAuth.NONE, "None (public)"),
        ],
        initial=WebhookAuth.API_KEY,
        widget=forms.RadioSelect,
        help_text="With an API key, a request must carry one of the Space's API keys.",
    )


class ReceiverMixin:
    """Webhook ID and Authentication, shared by webhooks and app events."""

    def clean_webhook_id(self) -> str:
        value = self.cleaned_data["webhook_id"].strip()
        if not value:
            return self.trigger.webhook_id if self.trigger else new_webhook_id()
        taken = Trigger.objects.filter(space=self.space, webhook_id=value)
        if self.trigger is not None:
            taken = taken.exclude(pk=self.trigger.pk)
        if taken.exists():
            raise ValidationError(f"The Webhook ID {value} is taken in this Space.")
        return value


class WebhookForm(ReceiverMixin, TriggerForm):
    kind = Kind.WEBHOOK

    webhook_id = webhook_id_field()
    auth = auth_field()
    execution_mode = forms.ChoiceField(
        label="Execution mode",
        choices=ExecutionMode.choices,
        initial=ExecutionMode.PARALLEL,
        widget=forms.RadioSelect,
        help_text="Sequential: one run at a time for this trigger, in arrival order.",
    )
    dedup_path = forms.CharField(
        label="Deduplication key",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"class": "mono", "placeholder": "data.id"}),
        help_text="A path in the body whose value identifies an event: a second event with "
        "the same value within 24 hours is answered as a duplicate and not run.",
    )
    dead_letter_enabled = forms.BooleanField(
        label="Enable Dead Letter Queue",
        required=False,
        initial=True,
        help_text="Keep deliveries that failed after their attempts, to replay them.",
    )
    max_attempts = forms.IntegerField(
        label="Delivery max attempts", min_value=1, max_value=10, initial=3
    )
    backoff = forms.ChoiceField(
        label="Backoff", choices=Backoff.choices, initial=Backoff.EXPONENTIAL
    )
    enable_signing = forms.BooleanField(
        label="Enable signing",
        required=False,
        help_text="Generate a signing secret: requests must then carry a valid signature. "
        "The secret is shown once, after saving.",
    )

    def __init__(self, space: Space, data=None, *, trigger: Trigger | None = None):
        super().__init__(space, data, trigger=trigger)
        if trigger is not None:
            del self.fields["enable_signing"]  # the Signing panel manages it from then on
        else:
            self.fields["webhook_id"].initial = new_webhook_id()

    def initial_from(self, trigger: Trigger) -> dict[str, Any]:
        return super().initial_from(trigger) | {
            name: getattr(trigger, name) for name in ADVANCED_WEBHOOK_FIELDS
        }

    def clean_dedup_path(self) -> str:
        value = self.cleaned_data["dedup_path"].strip()
        if value:
            try:
                parse_path(value)
            except FilterError as exc:
                raise ValidationError(f"Not a valid path: {exc.message}.") from None
        return value

    def trigger_fields(self) -> dict[str, Any]:
        return super().trigger_fields() | {
            name: self.cleaned_data[name] for name in ADVANCED_WEBHOOK_FIELDS
        }


ADVANCED_WEBHOOK_FIELDS = ("webhook_id", "auth", "execution_mode", "dedup_path",
                           "dead_letter_enabled", "max_attempts", "backoff")  # fmt: skip


@dataclass(frozen=True)
class ConnectionOption:
    value: str
    label: str
    selectable: bool  # active (or the trigger's own): the others are listed, disabled


@dataclass(frozen=True)
class EventRow:
    event: AppEvent
    checked: bool
    subscribed: bool
    schema: str  # the payload schema as indented JSON ("" when the definition has none)


class AppEventForm(ReceiverMixin, TriggerForm):
    """Connector (fixed once the trigger exists), Connection and Event. The connection and
    event choices are the chosen connector's: the form is built for one connector (the
    trigger's, the posted one, or `connector` from the page's query string)."""

    kind = Kind.APP_EVENT

    connector = forms.ChoiceField(label="Connector")
    connection = forms.ChoiceField(label="Connection", required=False)
    event_name = forms.ChoiceField(label="Event", widget=forms.RadioSelect)
    webhook_id = webhook_id_field()
    auth = auth_field()

    def __init__(
        self, space: Space, data=None, *, trigger: Trigger | None = None, connector: str = ""
    ):
        super().__init__(space, data, trigger=trigger)
        self.connectors = app_event_connectors(space)
        choices = [(c.key, c.name) for c in self.connectors]
        if trigger is not None:
            # The reference: a trigger's connector cannot change (its subscription is there).
            self.fields["connector"].disabled = True
            key = trigger.connector
            if catalog_lookup(self.connectors, key) is None:
                choices.append((key, key))  # no longer in the catalog: still shown
        else:
            self.fields["webhook_id"].initial = new_webhook_id()
            key = (data.get("connector") if data is not None else connector) or HTTP_KEY
            self.fields["connector"].initial = key
        self.fields["connector"].choices = choices
        self.chosen = catalog_lookup(self.connectors, key)
        events = self.chosen.events if self.chosen else ()
        self.fields["event_name"].choices = [(e.key, e.name) for e in events]
        if len(events) == 1 and trigger is None:
            self.fields["event_name"].initial = events[0].key
        self.connection_options = self._connection_options(space, trigger)
        self.fields["connection"].choices = [("", "Choose a connection")] + [
            (o.value, o.label) for o in self.connection_options if o.selectable
        ]

    def _connection_options(self, space: Space, trigger: Trigger | None) -> list[ConnectionOption]:
        if self.chosen is None or not self.chosen.needs_connection:
            return []
        rows = (
            Connection.objects.filter(space=space, connector_slug=self.chosen.key)
            .select_related("customer")
            .defer("ciphertext", "nonce")
            .order_by("customer__name", "name", "id")
        )
        own = trigger.connection_id if trigger is not None else None
        return [
            ConnectionOption(
                str(c.id),
                f"{c.name} ({c.customer.name if c.customer_id else 'Space-wide'}"
                + ("" if c.status == ConnectionStatus.ACTIVE else f", {c.get_status_display()}")
                + ")",
                c.status == ConnectionStatus.ACTIVE or c.id == own,
            )
            for c in rows
        ]

    @property
    def has_active_connection(self) -> bool:
        return any(o.selectable for o in self.connection_options)

    def event_rows(self) -> list[EventRow]:
        """Each event of the chosen connector with its subscription on this trigger."""
        chosen = str(self["event_name"].value() or "")
        trigger = self.trigger
        rows = []
        for event in self.chosen.events if self.chosen else ():
            subscribed = bool(
                trigger is not None
                and trigger.event_name == event.key
                and trigger.subscription == Subscription.SUBSCRIBED
            )
            schema = json.dumps(event.payload_schema, indent=2) if event.payload_schema else ""
            rows.append(EventRow(event, event.key == chosen, subscribed, schema))
        return rows

    def initial_from(self, trigger: Trigger) -> dict[str, Any]:
        return super().initial_from(trigger) | {
            "connector": trigger.connector,
            "connection": str(trigger.connection_id) if trigger.connection_id else "",
            "event_name": trigger.event_name,
            "webhook_id": trigger.webhook_id,
            "auth": trigger.auth,
        }

    def clean(self):
        data = super().clean()
        if self.chosen is None:
            if "connector" in data:
                self.add_error("connector", "Choose a connector of this Space that has events.")
            return data
        self.connection_row = None
        if self.chosen.needs_connection:
            value = data.get("connection")
            if not value:
                self.add_error("connection", NO_CONNECTION)
            else:
                # The choices are this Space's connections of the connector: only those pass.
                self.connection_row = (
                    Connection.objects.defer("ciphertext", "nonce")
                    .filter(pk=value, space=self.space, connector_slug=self.chosen.key)
                    .first()
                )
                if self.connection_row is None:  # deleted since the page was built
                    self.add_error("connection", NO_CONNECTION)
        return data

    def trigger_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return super().trigger_fields() | {
            "connector": data["connector"],
            "connection": self.connection_row,
            "event_name": data["event_name"],
            "webhook_id": data["webhook_id"],
            "auth": data["auth"],
        }


# --- Schedules ------------------------------------------------------------------------------

PRESETS = [
    ("interval", "Interval"),
    ("daily", "Daily"),
    ("weekly", "Weekly"),
    ("monthly", "Monthly"),
    ("custom", "Custom"),
]
UNITS = [("minutes", "minutes"), ("hours", "hours"), ("days", "days")]
# Shown Sunday first (S M T W T F S); the values are the schedules module's 0 = Monday.
WEEKDAYS = [("6", "S"), ("0", "M"), ("1", "T"), ("2", "W"), ("3", "T"), ("4", "F"), ("5", "S")]
WEEKDAY_NAMES = dict(zip("0123456", ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                     "Saturday", "Sunday"), strict=True))  # fmt: skip
USED_BY_PRESET = {
    "interval": ("every", "unit"),
    "daily": ("time",),
    "weekly": ("weekdays", "time"),
    "monthly": ("day", "time"),
    "custom": ("cron",),
}
SCHEDULE_FIELDS = ("preset", "every", "unit", "time", "weekdays", "day", "cron", "starts_at",
                   "timezone")  # fmt: skip


class SchedulerForm(TriggerForm):
    kind = Kind.SCHEDULER

    preset = forms.ChoiceField(
        label="Schedule", choices=PRESETS, initial="interval", widget=forms.RadioSelect
    )
    every = forms.IntegerField(label="Run every", min_value=1, initial=5, required=False)
    unit = forms.ChoiceField(choices=UNITS, initial="minutes", required=False)
    time = forms.TimeField(
        label="Time",
        initial="09:00",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    weekdays = forms.MultipleChoiceField(
        label="Days",
        choices=WEEKDAYS,
        initial=["0"],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    day = forms.IntegerField(label="Day of the month", min_value=1, max_value=31, required=False,
                             initial=1)  # fmt: skip
    cron = forms.CharField(
        label="Cron expression",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"class": "mono", "placeholder": "*/15 9-17 * * 1-5"}),
        help_text="Five fields: minute, hour, day of the month, month, day of the week.",
    )
    starts_at = forms.DateTimeField(
        label="Starts at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In the schedule's time zone. Empty: start now.",
    )
    timezone = forms.ChoiceField(label="Timezone", choices=time_zone_choices)
    run_on_create = forms.BooleanField(label="Run immediately on create", required=False)
    catch_up = forms.ChoiceField(
        label="Missed runs",
        choices=CatchUp.choices,
        initial=CatchUp.SKIP,
        help_text="After downtime: skip the runs that were missed, or run once for all of them.",
    )
    overlap = forms.ChoiceField(
        label="Overlapping runs",
        choices=Overlap.choices,
        initial=Overlap.ALLOW,
        help_text="When a run is due while the previous run of this schedule is still running.",
    )

    def __init__(self, space: Space, data=None, *, trigger: Trigger | None = None):
        super().__init__(space, data, trigger=trigger)
        self.fields["timezone"].initial = space.time_zone
        self.schedule: schedules.Schedule | None = None
        if trigger is not None:
            del self.fields["run_on_create"]

    def initial_from(self, trigger: Trigger) -> dict[str, Any]:
        schedule = dict(trigger.schedule or {})
        zone = schedule.get("timezone") or trigger.space.time_zone
        shown = {k: schedule[k] for k in SCHEDULE_FIELDS if schedule.get(k) not in (None, "")}
        shown["weekdays"] = [str(day) for day in schedule.get("weekdays") or []]
        shown["starts_at"] = _wall_clock(schedule.get("starts_at"), zone)
        return (
            super().initial_from(trigger)
            | shown
            | {
                "catch_up": trigger.catch_up,
                "overlap": trigger.overlap,
            }
        )

    def weekday_toggles(self) -> list[tuple[str, str, str, bool]]:
        """(value, letter, day name, checked) of each day toggle, Sunday first."""
        chosen = {str(v) for v in self["weekdays"].value() or []}
        return [(v, letter, WEEKDAY_NAMES[v], v in chosen) for v, letter in WEEKDAYS]

    def clean(self):
        data = super().clean()
        preset = data.get("preset")
        # The fields of the other presets are hidden: what they hold does not matter.
        for name in ("every", "unit", "time", "weekdays", "day", "cron"):
            if name not in USED_BY_PRESET.get(preset, ()) and name in self._errors:
                del self._errors[name]
        if not all(name in data for name in ("preset", "timezone")):
            return data
        try:
            self.schedule = schedules.schedule_from_dict(schedule_dict(data))
        except schedules.ScheduleError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data

    def trigger_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields = super().trigger_fields() | {
            "schedule": self.schedule.to_dict(),
            "catch_up": data["catch_up"],
            "overlap": data["overlap"],
        }
        if "run_on_create" in self.fields:
            fields["run_on_create"] = data["run_on_create"]
        return fields


def _wall_clock(value: str | None, zone: str) -> str | None:
    """A stored Starts at (ISO-8601 with its offset) as the datetime-local input shows it: the
    wall-clock time in the schedule's zone."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value).astimezone(ZoneInfo(zone))
    except (ValueError, ZoneInfoNotFoundError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M")


def schedule_dict(data: dict[str, Any]) -> dict[str, Any]:
    """The schedule fields of a cleaned form as schedules.schedule_from_dict reads them: only
    the fields of the chosen preset."""
    preset = data.get("preset")
    result: dict[str, Any] = {"preset": preset, "timezone": data.get("timezone")}
    for name in USED_BY_PRESET.get(preset, ()):
        value = data.get(name)
        if value is None:
            continue
        if name == "time":
            value = value.strftime("%H:%M")
        elif name == "weekdays":
            value = [int(day) for day in value]
        result[name] = value
    starts_at = data.get("starts_at")
    if starts_at is not None:
        # The input is wall-clock time in the chosen zone, not the server's.
        try:
            zone = ZoneInfo(data.get("timezone") or "UTC")
        except ZoneInfoNotFoundError:
            zone = ZoneInfo("UTC")
        result["starts_at"] = starts_at.replace(tzinfo=None).replace(tzinfo=zone)
    return result


class SchedulePreviewForm(SchedulerForm):
    """The schedule fields alone, for the live preview (the "Next 5 runs" box)."""

    def __init__(self, space: Space, data=None):
        super().__init__(space, data)
        for name in list(self.fields):
            if name not in SCHEDULE_FIELDS:
                del self.fields[name]


# --- Routes ---------------------------------------------------------------------------------


@dataclass
class HeaderRow:
    name: str = ""
    value: str = ""
    error: str = ""


@dataclass
class FilterRow:
    path: str = ""
    operator: str = "eq"
    value: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        return not self.path.strip() and not self.value.strip()


JSON_WHERE = re.compile(r"^(?P<problem>.*) \(line (?P<line>\d+), column (?P<column>\d+)\)\Z")


def parse_json_text(text: str, label: str) -> Any:
    """The JSON value of `text` (the API's strict rules), or a ValidationError that says
    where it breaks: "Payload: invalid JSON at line 2, column 5 (Expecting value)."."""
    try:
        return parse_json(text, label=label)
    except JsonInputError as exc:
        where = JSON_WHERE.match(exc.reason)
        if where is None:
            raise ValidationError(str(exc)) from None
        raise ValidationError(
            f"{label}: invalid JSON at line {where['line']}, column {where['column']} "
            f"({where['problem']})."
        ) from None


def filter_value(operator: str, text: str) -> Any:
    """The JSON value of what was typed in a filter row's Value box. JSON when it parses
    (numbers, true, ["a", "b"], "quoted"), otherwise the text itself; for `in`, a comma
    separated list; for `exists`, true unless it says false."""
    text = text.strip()
    if operator == "exists":
        if text.lower() in ("", "true"):
            return True
        return False if text.lower() == "false" else text
    try:
        value = parse_json(text, label="The value")
    except JsonInputError:
        value = text
    if operator == "in" and not isinstance(value, list):
        value = [item.strip() for item in text.split(",") if item.strip()]
    return value


def filter_text(operator: str, value: Any) -> str:
    """The inverse of `filter_value`, for showing a saved row."""
    if operator == "exists":
        return "" if value in (None, True) else json.dumps(value)
    if isinstance(value, str):
        try:
            parse_json(value, label="The value")
        except JsonInputError:
            return value
        return json.dumps(value)  # "100" or "true" as text: keep it a string
    return json.dumps(value)


class RouteForm(forms.Form):
    """One route. `key` names it in the posted field names; `id` (hidden) is the route it
    edits, so its deliveries keep pointing at it."""

    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    workflow = forms.ModelChoiceField(
        label="Workflow", queryset=None, empty_label="Choose a workflow"
    )
    environment = forms.ChoiceField(label="Environment", initial="live")
    payload = forms.CharField(
        label="Payload",
        required=False,
        max_length=PAYLOAD_MAX_CHARS,
        initial="{}",
        widget=forms.Textarea(attrs={"rows": 4, "class": "mono", "spellcheck": "false"}),
        help_text="JSON: the run's ctx.input.",
    )

    def __init__(self, space: Space, kind: str, key: str, data=None, route: Route | None = None):
        self.key = key
        super().__init__(data, prefix=f"route-{key}", initial=_route_initial(route))
        self.fields["workflow"].queryset = route_workflows(space)
        self.fields["environment"].choices = route_environments(space)
        if kind != Kind.SCHEDULER:
            del self.fields["payload"]
        # Schedules have no body to filter on: their routes carry a payload instead.
        self.with_filters = kind != Kind.SCHEDULER
        if data is not None:
            self.header_rows = self._posted_headers(data)
            self.filter_rows = self._posted_filters(data) if self.with_filters else []
        else:
            self.header_rows = [
                HeaderRow(k, v) for k, v in (route.headers if route else {}).items()
            ]
            self.filter_rows = [_saved_filter(row) for row in (route.filters if route else [])]
        self.headers: dict[str, str] = {}
        self.filters: list[dict] = []
        self.payload_value: Any = None

    def _name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def _posted_headers(self, data) -> list[HeaderRow]:
        names = data.getlist(self._name("header-name"))
        values = data.getlist(self._name("header-value"))
        rows = [HeaderRow(n, v) for n, v in zip(names, values, strict=False)]
        return [r for r in rows if r.name.strip() or r.value.strip()]

    def _posted_filters(self, data) -> list[FilterRow]:
        paths = data.getlist(self._name("filter-path"))
        operators = data.getlist(self._name("filter-operator"))
        values = data.getlist(self._name("filter-value"))
        rows = [FilterRow(p, o, v) for p, o, v in zip(paths, operators, values, strict=False)]
        return [r for r in rows if not r.blank]

    @property
    def row_errors(self) -> bool:
        return any(r.error for r in self.header_rows) or any(r.errors for r in self.filter_rows)

    def full_clean(self):
        super().full_clean()
        if self.is_bound:
            self._clean_headers()
            if self.with_filters:
                self._clean_filters()
            if "payload" in self.fields and "payload" in self.cleaned_data:
                self._clean_payload(self.cleaned_data["payload"])

    def is_valid(self) -> bool:
        return super().is_valid() and not self.row_errors

    def _clean_headers(self) -> None:
        if len(self.header_rows) > MAX_HEADERS:
            self.add_error(None, f"A route forwards at most {MAX_HEADERS} headers.")
        seen: set[str] = set()
        for row in self.header_rows:
            name = row.name.strip()
            if "\x00" in row.name + row.value:
                row.error = NUL_MESSAGE
            elif not HEADER_NAME.match(name):
                row.error = "A header name is 1 to 100 letters, digits or - _ . characters."
            elif name.lower() in seen:
                row.error = f"The header {name} is given twice."
            elif len(row.value) > HEADER_VALUE_MAX or "\n" in row.value or "\r" in row.value:
                row.error = f"A header value is one line of at most {HEADER_VALUE_MAX} characters."
            else:
                seen.add(name.lower())
                self.headers[name] = row.value.strip()

    def _clean_filters(self) -> None:
        if len(self.filter_rows) > MAX_ROWS:
            self.add_error(None, f"A route has at most {MAX_ROWS} filter rows.")
            return
        for row in self.filter_rows:
            if "\x00" in row.path + row.value:
                row.errors["value" if "\x00" in row.value else "path"] = NUL_MESSAGE
                continue
            if len(row.value) > FILTER_VALUE_MAX:
                row.errors["value"] = f"A value has at most {FILTER_VALUE_MAX} characters."
                continue
            if row.operator != "exists" and not row.value.strip():
                row.errors["value"] = f"{row.operator} needs a value."
                continue
            candidate = {
                "path": row.path.strip(),
                "operator": row.operator,
                "value": filter_value(row.operator, row.value),
            }
            try:
                parse_filters([candidate])
            except FilterError as exc:
                row.errors[exc.field or "path"] = ROW_PREFIX.sub("", exc.message).capitalize()
            else:
                self.filters.append(candidate)

    def _clean_payload(self, text: str) -> None:
        if not text.strip():
            self.payload_value = None
            return
        try:
            self.payload_value = parse_json_text(text, "Payload")
        except ValidationError as exc:
            self.add_error("payload", exc)

    def spec(self) -> RouteSpec:
        data = self.cleaned_data
        return RouteSpec(
            workflow=data["workflow"],
            environment=data["environment"],
            headers=self.headers,
            filters=self.filters,
            payload=self.payload_value,
            id=data.get("id"),
        )


def _payload_text(payload: Any) -> str:
    return "{}" if payload is None else json.dumps(payload, indent=2)


def _route_initial(route: Route | None) -> dict[str, Any] | None:
    if route is None:
        return None
    return {
        "id": route.id,
        "workflow": route.workflow_id,
        "environment": route.environment,
        "payload": _payload_text(route.payload),
    }


def _saved_filter(row: dict) -> FilterRow:
    operator = row.get("operator", "eq")
    return FilterRow(row.get("path", ""), operator, filter_text(operator, row.get("value")))


class RouteSet:
    """The routes of one trigger form: at least one, at most MAX_ROUTES."""

    def __init__(self, space: Space, kind: str, data=None, *, trigger: Trigger | None = None):
        self.space, self.kind, self.data = space, kind, data
        self.error = ""
        if data is not None:
            keys = list(dict.fromkeys(k for k in data.getlist("route") if ROUTE_KEY.match(k)))
            if len(keys) > MAX_ROUTES:
                self.error = f"A trigger has at most {MAX_ROUTES} routes."
                keys = keys[:MAX_ROUTES]
            self.forms = [RouteForm(space, kind, key, data) for key in keys]
        elif trigger is not None:
            self.forms = [
                RouteForm(space, kind, f"r{route.id}", route=route)
                for route in trigger.routes.select_related("workflow").order_by("position", "id")
            ]
        else:
            self.forms = [RouteForm(space, kind, "n0")]
        # What "+ Add route" clones: the key is replaced in the browser.
        self.empty_form = RouteForm(space, kind, "__key__")

    def is_valid(self) -> bool:
        valid = all([form.is_valid() for form in self.forms])  # every form, for its errors
        if self.data is not None and not self.forms and not self.error:
            self.error = "Add at least one route: a trigger needs a workflow to start."
        return valid and not self.error

    def specs(self) -> list[RouteSpec]:
        return [form.spec() for form in self.forms]


FORMS: dict[str, type[TriggerForm]] = {
    Kind.WEBHOOK: WebhookForm,
    Kind.SCHEDULER: SchedulerForm,
    Kind.APP_EVENT: AppEventForm,
}


class TestEventForm(forms.Form):
    """Send test event: a JSON body, posted to the trigger as if a sender had."""

    body = forms.CharField(
        label="Body (JSON)",
        max_length=256 * 1024,
        widget=forms.Textarea(attrs={"rows": 8, "class": "mono", "spellcheck": "false"}),
    )

    def clean_body(self) -> bytes:
        text = self.cleaned_data["body"]
        parse_json_text(text, "Body")
        return text.encode()


class ListFilterForm(forms.Form):
    """The Triggers page's query string: tab, search, status."""

    kind = forms.ChoiceField(choices=Kind.choices, required=False)
    q = forms.CharField(required=False, max_length=100)
    status = forms.ChoiceField(
        choices=[("", "All statuses"), ("active", "Active"), ("disabled", "Disabled")],
        required=False,
    )
