"""The test case form: plain fields plus repeated rows (mocks, assertions) read as lists, and
JSON text areas parsed with the error shown at the field."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.http import QueryDict

from apps.testcases.expect import OPERATORS
from apps.testcases.models import FEEDBACK_MAX, GROUP_MAX, NAME_MAX, SCENARIO_MAX, Mode
from apps.testcases.services import CaseDataError, case_data_clean


def parse_json(text: str, what: str, *, blank: Any = None) -> Any:
    text = (text or "").strip()
    if not text:
        return blank
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CaseDataError(
            what, f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None


class CaseForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX)
    mode = forms.ChoiceField(choices=Mode.choices)
    scenario = forms.CharField(max_length=SCENARIO_MAX, required=False, widget=forms.Textarea)
    group = forms.CharField(max_length=GROUP_MAX, required=False)
    input = forms.CharField(required=False, widget=forms.Textarea)
    headers = forms.CharField(required=False, widget=forms.Textarea)
    expect_kind = forms.ChoiceField(choices=[("equals", "equals"), ("assertions", "assertions")])
    expected_output = forms.CharField(required=False, widget=forms.Textarea)
    feedback = forms.CharField(max_length=FEEDBACK_MAX, required=False, widget=forms.Textarea)

    def __init__(self, data: QueryDict | None = None, **kwargs):
        super().__init__(data, **kwargs)
        self.data_rows = data
        self.case_data: dict[str, Any] | None = None

    def rows(self, *names: str) -> list[tuple[str, ...]]:
        columns = [self.data_rows.getlist(n) for n in names] if self.data_rows else []
        return list(zip(*columns, strict=False)) if columns else []

    def mocks(self) -> list[dict]:
        mocks = []
        for number, (call, response) in enumerate(self.rows("mock_call", "mock_response"), 1):
            if not call.strip():
                continue
            if not response.strip():
                continue  # an offered call left blank is not mocked (the run will say so)
            value = parse_json(response, "mocks")
            mocks.append({"call": call.strip(), "response": value})
            del number
        return mocks

    def assertions(self) -> list[dict]:
        items = []
        for number, (path, op, value) in enumerate(
            self.rows("assert_path", "assert_op", "assert_value"), 1
        ):
            if not path.strip():
                continue
            if op not in OPERATORS:
                raise CaseDataError("expect", f"assertion {number}: unknown operator “{op}”")
            item: dict[str, Any] = {"path": path.strip(), "op": op}
            if op not in ("exists", "not_exists"):
                try:
                    item["value"] = parse_json(value, "expect")
                except CaseDataError as exc:
                    raise CaseDataError(
                        "expect", f"assertion {number}: value {exc.message}"
                    ) from None
            items.append(item)
        return items

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            if cleaned["expect_kind"] == "equals":
                expect = {
                    "kind": "equals",
                    "output": parse_json(cleaned["expected_output"], "expected_output"),
                }
            else:
                expect = {"kind": "assertions", "assertions": self.assertions()}
            self.case_data = case_data_clean(
                {
                    "name": cleaned["name"],
                    "mode": cleaned["mode"],
                    "scenario": cleaned["scenario"],
                    "group": cleaned["group"],
                    "input": parse_json(cleaned["input"], "input", blank={}),
                    "headers": parse_json(cleaned["headers"], "headers", blank={}),
                    "mocks": self.mocks() if cleaned["mode"] == Mode.MOCK else [],
                    "expect": expect,
                    "feedback": cleaned["feedback"],
                }
            )
        except CaseDataError as exc:
            field = {"expect": "expected_output", "mocks": None}.get(exc.field, exc.field)
            if field not in self.fields:
                field = None
            self.add_error(
                field, f"{exc.field.capitalize()}: {exc.message}" if field is None else exc.message
            )
        return cleaned


class FeedbackForm(forms.Form):
    feedback = forms.CharField(max_length=FEEDBACK_MAX, required=False)
