"""The filters of Activity → Traces, from the query string. As on the other Activity pages, a
value the Space does not offer (a tab, a range, a connector without traces here, a cursor we did
not make) is dropped, never an error: the list shows without it. The custom range is the one
exception: a mistake in its dates is said next to the fields, because a list that silently
ignores the dates someone typed would mislead.

The custom dates are read in the current time zone, which the view sets to the Space's."""

from __future__ import annotations

from django import forms

from apps.connectors.definition import SLUG_RE
from apps.connectors.trace_selectors import (
    CUSTOM,
    RANGE_LABELS,
    TABS,
    TraceFilters,
    parse_cursor,
    trace_connector_exists,
    trace_connectors,
)

RANGE_CHOICES = list(RANGE_LABELS.items())
MIN_YEAR, MAX_YEAR = 2000, 2999
DATETIME_INPUTS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


def in_range(value):
    """Refuse dates no trace can have (and whose conversion to UTC could overflow)."""
    if value is not None and not (MIN_YEAR <= value.year <= MAX_YEAR):
        raise forms.ValidationError(f"Choose a date between {MIN_YEAR} and {MAX_YEAR}.")
    return value


class TraceFilterForm(forms.Form):
    tab = forms.ChoiceField(required=False, choices=[(tab, tab) for tab in TABS])
    range = forms.ChoiceField(required=False, choices=RANGE_CHOICES)
    connector = forms.CharField(required=False, max_length=64)
    # "from" is a Python keyword: the fields are named start/end and read from/to (prefixless
    # names would not do, so `data` is remapped in __init__).
    start = forms.DateTimeField(required=False, input_formats=DATETIME_INPUTS)
    end = forms.DateTimeField(required=False, input_formats=DATETIME_INPUTS)
    before = forms.CharField(required=False, max_length=100)

    def __init__(self, data, *, space, names: dict[str, str]) -> None:
        data = data.copy()
        for field, key in (("start", "from"), ("end", "to")):
            data[field] = data.get(key, "")[:40]
        super().__init__(data)
        self.space = space
        self.connectors = trace_connectors(space, names)

    def clean_connector(self) -> str | None:
        slug = self.cleaned_data["connector"]
        if not slug:
            return None
        if slug in dict(self.connectors):
            return slug
        # A connector deleted since, whose traces remain: still a filter of this Space.
        if SLUG_RE.fullmatch(slug) and trace_connector_exists(self.space, slug):
            self.connectors.append((slug, slug))
            return slug
        raise forms.ValidationError("No traces of this connector in this Space.")

    def clean_before(self) -> str | None:
        before = self.cleaned_data["before"]
        if before and parse_cursor(before) is None:
            raise forms.ValidationError("Not a cursor of this list.")
        return before or None

    def clean_start(self):
        return in_range(self.cleaned_data["start"])

    def clean_end(self):
        return in_range(self.cleaned_data["end"])

    def clean(self):
        data = super().clean()
        if data.get("range") != CUSTOM:
            return data
        start, end = data.get("start"), data.get("end")
        # An empty date is no bound: "Custom range" with neither is all time.
        if start and end and start >= end:
            self.add_error("end", "The end must be after the start.")
        return data

    def value(self, name: str, default=None):
        """A field's clean value, or `default` when it was missing or refused."""
        self.is_valid()
        value = self.cleaned_data.get(name) if name not in self.errors else None
        return value or default

    def filters(self) -> TraceFilters:
        range_key = self.value("range", "24h")
        custom = range_key == CUSTOM
        return TraceFilters(
            tab=self.value("tab", "all"),
            range=range_key,
            connector=self.value("connector"),
            start=self.value("start") if custom else None,
            end=self.value("end") if custom else None,
            start_text=self.data.get("start", "") if custom else "",
            end_text=self.data.get("end", "") if custom else "",
            before=self.value("before"),
            invalid=custom and bool(self.range_errors()),
        )

    def range_errors(self) -> list[str]:
        """The custom range's mistakes, labelled, for the line under the filters."""
        labels = {"start": "From", "end": "To"}
        return [
            f"{labels[field]}: {message}"
            for field in ("start", "end")
            for message in self.errors.get(field, [])
        ]
