"""The filters of Activity → Events and Activity → Dead letters, from the query string, and
the Replay form. As on Activity → Executions, a value the Space does not offer (a tab, a
range, another Space's trigger or customer, a cursor we did not make) is dropped, never an
error: the list shows without it. The one exception is the event id search, whose mistake is
said next to the box (a search that silently shows everything would mislead)."""

from __future__ import annotations

import re

from django import forms

from apps.executions.forms import RANGE_LABELS
from apps.executions.selectors import parse_cursor
from apps.spaces.models import Customer
from apps.triggers.models import Source, Trigger
from apps.triggers.selectors import (
    ACTIVITY_RANGES,
    DEAD_LETTER_TABS,
    EVENT_ID_PREFIX,
    EVENT_TABS,
    DeadLetterFilters,
    EventFilters,
)

RANGE_CHOICES = [(key, RANGE_LABELS.get(key, "All time")) for key in ACTIVITY_RANGES]
# Like the customer filter of Activity → Executions: the first ones by name, and the selected
# one even when it is not among them.
CUSTOMER_OPTIONS = 200


class ScopedFilterForm(forms.Form):
    """What both lists share: a time range, a trigger of the Space, a keyset cursor."""

    range = forms.ChoiceField(required=False, choices=RANGE_CHOICES)
    trigger = forms.UUIDField(required=False)
    before = forms.CharField(required=False, max_length=100)

    def __init__(self, data, *, space) -> None:
        super().__init__(data)
        self.space = space
        self.triggers = Trigger.objects.filter(space=space).only("id", "name").order_by("name")

    def clean_trigger(self):
        trigger = self.cleaned_data["trigger"]
        if trigger and not self.triggers.filter(id=trigger).exists():
            raise forms.ValidationError("Not a trigger of this Space.")
        return str(trigger) if trigger else None

    def clean_before(self):
        before = self.cleaned_data["before"]
        if before and parse_cursor(before) is None:
            raise forms.ValidationError("Not a cursor of this list.")
        return before or None

    def value(self, name: str, default=None):
        """A field's clean value, or `default` when it was missing or refused."""
        self.is_valid()
        return self.cleaned_data.get(name) or default


class EventFilterForm(ScopedFilterForm):
    tab = forms.ChoiceField(required=False, choices=[(tab, tab) for tab in EVENT_TABS])
    source = forms.ChoiceField(required=False, choices=Source.choices)
    customer = forms.UUIDField(required=False)
    q = forms.CharField(required=False, max_length=200)

    def __init__(self, data, *, space) -> None:
        super().__init__(data, space=space)
        self.customers = Customer.objects.filter(space=space).only("id", "name", "external_id")

    def clean_customer(self):
        customer = self.cleaned_data["customer"]
        if customer and not self.customers.filter(id=customer).exists():
            raise forms.ValidationError("Not a customer of this Space.")
        return str(customer) if customer else None

    def clean_q(self):
        q = re.sub(r"\s+", "", self.cleaned_data["q"]).lower()
        if q and not EVENT_ID_PREFIX.match(q):
            raise forms.ValidationError(
                "An event id has only the digits 0-9, the letters a-f and dashes."
            )
        return q

    def filters(self) -> EventFilters:
        return EventFilters(
            tab=self.value("tab", "all"),
            range=self.value("range", "24h"),
            source=self.value("source"),
            trigger_id=self.value("trigger"),
            customer_id=self.value("customer"),
            q=self.value("q", ""),
            q_invalid="q" in self.errors,
            before=self.value("before"),
        )

    def customer_options(self, selected: str | None) -> list[Customer]:
        options = list(self.customers.order_by("name")[:CUSTOMER_OPTIONS])
        if selected and all(str(customer.id) != selected for customer in options):
            options += list(self.customers.filter(id=selected))
        return options


class DeadLetterFilterForm(ScopedFilterForm):
    tab = forms.ChoiceField(required=False, choices=[(tab, tab) for tab in DEAD_LETTER_TABS])
    q = forms.CharField(required=False, max_length=200)

    def clean_q(self):
        return self.cleaned_data["q"].replace("\x00", "").strip()

    def filters(self) -> DeadLetterFilters:
        return DeadLetterFilters(
            tab=self.value("tab", "pending"),
            range=self.value("range", "all"),
            trigger_id=self.value("trigger"),
            q=self.value("q", ""),
            before=self.value("before"),
        )


class ReplayForm(forms.Form):
    """The token the Replay button's page was drawn with (apps/triggers/pipeline/replay.py):
    one click, one replay. Without one, each request is a replay of its own."""

    token = forms.RegexField(required=False, regex=r"^[0-9a-f]{32}\Z")
