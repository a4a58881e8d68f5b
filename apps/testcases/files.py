"""Test cases as files beside their workflow: `<slug>.tests.json`, written by `workflow export`
and read by `workflow import`. The format (version 1):

    {
      "version": 1,
      "cases": [
        {
          "name": "Big order is flagged",         required, unique in the file
          "mode": "mock",                          "mock" (default) or "live"
          "scenario": "An order over 100 …",       free text
          "group": "orders",                       free text
          "input": {"order": {"total": 120}},      ctx.input
          "headers": {"x-source": "shop"},         ctx.headers (strings)
          "mocks": [{"call": "shopify.getOrder", "response": {…}},
                    {"call": "GET https://api.example.com/v1/*", "response": {"status": 200,
                     "body": {…}}}],
          "expect": {"kind": "equals", "output": {…}}
                 or {"kind": "assertions", "assertions": [{"path": "$.flagged",
                     "op": "equals", "value": true}]},
          "approved": true,
          "feedback": "Checked with the shop team"
        }
      ]
    }

Only "version", "cases" and each case's "name" are required. A file that breaks a rule is
refused with its path, the case and the field, and nothing is imported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from apps.testcases.services import TESTS_FILE_VERSION, CaseDataError, case_data_clean

CASE_KEYS = (
    "name",
    "mode",
    "scenario",
    "group",
    "input",
    "headers",
    "mocks",
    "expect",
    "approved",
    "feedback",
)
SUFFIX = ".tests.json"


class TestsFileError(Exception):
    """A `<slug>.tests.json` that cannot be imported; the message says where and why."""

    __test__ = False


def tests_path(directory: Path, slug: str) -> Path:
    return directory / f"{slug}{SUFFIX}"


def file_text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def read_tests_file(path: Path) -> list[dict[str, Any]]:
    """The cases of a tests file, each checked with the editor's rules."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise TestsFileError(f"{path}: not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise TestsFileError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    if not isinstance(data, dict):
        raise TestsFileError(f"{path}: expected a JSON object with “version” and “cases”.")
    unknown = sorted(set(data) - {"version", "cases"})
    if unknown:
        raise TestsFileError(f"{path}: unknown field “{unknown[0]}” (expected version, cases).")
    if data.get("version") != TESTS_FILE_VERSION:
        raise TestsFileError(
            f"{path}: field “version” must be {TESTS_FILE_VERSION} "
            f"(got {json.dumps(data.get('version'))})."
        )
    cases = data.get("cases")
    if not isinstance(cases, list):
        raise TestsFileError(f"{path}: field “cases” must be a list.")
    checked, names = [], set()
    for index, item in enumerate(cases):
        where = f"{path}: cases[{index}]"
        if not isinstance(item, dict):
            raise TestsFileError(f"{where} must be an object.")
        unknown = sorted(set(item) - set(CASE_KEYS))
        if unknown:
            raise TestsFileError(
                f"{where}: unknown field “{unknown[0]}” (expected {', '.join(CASE_KEYS)})."
            )
        if "approved" in item and not isinstance(item["approved"], bool):
            raise TestsFileError(f"{where}: field “approved” must be true or false.")
        try:
            fields = case_data_clean(item)
        except CaseDataError as exc:
            raise TestsFileError(f"{where}: field “{exc.field}” {exc.message}.") from None
        if fields["name"] in names:
            raise TestsFileError(f"{where}: the name “{fields['name']}” is used twice.")
        names.add(fields["name"])
        checked.append({**fields, "approved": bool(item.get("approved", False))})
    return checked
