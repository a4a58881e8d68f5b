from __future__ import annotations

from typing import Any

from django import forms

from apps.environments.models import BUILTIN, DRAFT, Environment
from apps.executions.selectors import RANGES, TABS, ExecutionFilters, parse_cursor
from apps.executions.services import CONTROLS
from apps.runtime.steps import EVENT_TYPE
from apps.spaces.models import Customer
from apps.workflows.forms import uploaded_text
from apps.workflows.models import MAX_CODE_BYTES, Workflow
from fastn_console.strictjson import JsonInputError, parse_json

RANGE_LABELS = {"1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days",
                "30d": "Last 30 days"}  # fmt: skip
RANGE_CHOICES = [(key, RANGE_LABELS[key]) for key in RANGES]
# The customer filter is a plain list; a Space with more customers than this offers the first
# ones by name, and any of its customers can still be picked by id in the URL.
CUSTOMER_OPTIONS = 200


class ExecutionFilterForm(forms.Form):
    """The filters of Activity → Executions, from the query string. A value the Space does not
    offer (a tab, a range, another Space's workflow or customer, an environment it does not
    have, a cursor we did not make) is dropped, never an error: the list shows without it."""

    tab = forms.ChoiceField(required=False, choices=[(tab, tab) for tab in TABS])
    range = forms.ChoiceField(required=False, choices=RANGE_CHOICES)
    workflow = forms.UUIDField(required=False)
    customer = forms.UUIDField(required=False)
    environment = forms.CharField(required=False, max_length=40)
    before = forms.CharField(required=False, max_length=100)

    def __init__(self, data, *, space) -> None:
        super().__init__(data)
        self.space = space
        self.workflows = Workflow.objects.filter(space=space).only("id", "name").order_by("name")
        self.customers = Customer.objects.filter(space=space).only("id", "name", "external_id")
        # The built-in ones exist in every Space (made on first use, so maybe not yet).
        named = Environment.objects.filter(space=space, builtin=False).only("slug", "name")
        self.environments = [
            *BUILTIN.items(),
            *((env.slug, env.name) for env in named),
            (DRAFT, "Draft (unpublished)"),
        ]

    def clean_workflow(self):
        workflow = self.cleaned_data["workflow"]
        if workflow and not self.workflows.filter(id=workflow).exists():
            raise forms.ValidationError("Not a workflow of this Space.")
        return workflow

    def clean_customer(self):
        customer = self.cleaned_data["customer"]
        if customer and not self.customers.filter(id=customer).exists():
            raise forms.ValidationError("Not a customer of this Space.")
        return customer

    def clean_environment(self):
        environment = self.cleaned_data["environment"]
        if environment and environment not in dict(self.environments):
            raise forms.ValidationError("Not an environment of this Space.")
        return environment

    def clean_before(self):
        before = self.cleaned_data["before"]
        if before and parse_cursor(before) is None:
            raise forms.ValidationError("Not a cursor of this list.")
        return before

    def filters(self) -> ExecutionFilters:
        """The valid filters; an invalid one falls back to its default."""
        self.is_valid()
        data = self.cleaned_data
        uuid_text = lambda value: str(value) if value else None  # noqa: E731
        return ExecutionFilters(
            tab=data.get("tab") or "all",
            range=data.get("range") or "24h",
            workflow_id=uuid_text(data.get("workflow")),
            customer_id=uuid_text(data.get("customer")),
            environment=data.get("environment") or None,
            before=data.get("before") or None,
        )

    def customer_options(self, selected: str | None) -> list[Customer]:
        """The first customers by name, and the selected one even when it is not among them."""
        options = list(self.customers.order_by("name")[:CUSTOMER_OPTIONS])
        if selected and all(str(customer.id) != selected for customer in options):
            options += list(self.customers.filter(id=selected))
        return options


# The limit of ctx.input and of ctx.headers in the Test tab and the Run dialog, each.
MAX_JSON_BYTES = 256 * 1024


def parse_json_field(value: str, label: str) -> Any:
    """Parse one of the Test tab's JSON editors; empty means {}."""
    if len(value.encode("utf-8")) > MAX_JSON_BYTES:
        raise forms.ValidationError(f"{label} is larger than {MAX_JSON_BYTES // 1024} KB.")
    if not value.strip():
        return {}
    try:
        return parse_json(value, label=label)
    except JsonInputError as exc:
        raise forms.ValidationError(str(exc)) from None


class RunForm(forms.Form):
    """Input of a run: ctx.input and ctx.headers as JSON (headers: an object of strings)."""

    input = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    headers = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    code = forms.CharField(required=False, strip=False)

    def clean_input(self) -> Any:
        return parse_json_field(self.cleaned_data.get("input") or "", "ctx.input")

    def clean_headers(self) -> dict[str, str]:
        headers = parse_json_field(self.cleaned_data.get("headers") or "", "ctx.headers")
        if not isinstance(headers, dict):
            raise forms.ValidationError('ctx.headers must be a JSON object, like {"x-id": "1"}.')
        bad = [k for k, v in headers.items() if not isinstance(v, str)]
        if bad:
            raise forms.ValidationError(f"Header values must be strings (see {bad[0]!r}).")
        return {k.lower(): v for k, v in headers.items()}

    def clean_code(self) -> str | None:
        upload = self.files.get("code")
        if upload is None:
            return self.cleaned_data.get("code") or None
        if upload.size > MAX_CODE_BYTES:
            raise forms.ValidationError(
                f"The code is {upload.size:,} bytes; the limit is {MAX_CODE_BYTES:,} bytes (1 MB)."
            )
        return uploaded_text(upload)


class ControlForm(forms.Form):
    """A control button of the detail page: pause, resume, terminate or restart."""

    control = forms.ChoiceField(choices=[(control, control) for control in CONTROLS])


# Like ctx.input in the Test tab: a form body stays under FASTN_MAX_BODY_BYTES even when
# URL-encoding triples it. The instances API takes payloads up to 1 MiB.
MAX_EVENT_PAYLOAD_BYTES = MAX_JSON_BYTES


class EventForm(forms.Form):
    """ "Send event" of the detail page: what `step.waitForEvent(name, {type})` receives as
    `{type, payload, timestamp}`. The payload is JSON; empty sends none (null)."""

    type = forms.CharField(max_length=100, label="Event type")
    payload = forms.CharField(required=False, strip=False, widget=forms.Textarea)

    def clean_type(self) -> str:
        value = self.cleaned_data["type"]
        if not EVENT_TYPE.fullmatch(value):
            # The same rule as step.waitForEvent's `type`: another could never be waited for.
            raise forms.ValidationError(
                "An event type is letters, digits and _ . : - (like order.approved)."
            )
        return value

    def clean_payload(self) -> Any:
        value = self.cleaned_data.get("payload") or ""
        size = len(value.encode("utf-8"))
        if size > MAX_EVENT_PAYLOAD_BYTES:
            raise forms.ValidationError(
                f"The payload is {size:,} bytes; this form sends up to "
                f"{MAX_EVENT_PAYLOAD_BYTES // 1024} KB (the instances API up to 1 MiB)."
            )
        if not value.strip():
            return None
        try:
            return parse_json(value, label="The payload")
        except JsonInputError as exc:
            raise forms.ValidationError(str(exc)) from None
