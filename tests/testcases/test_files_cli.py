"""`<slug>.tests.json` beside the workflow files (export, import, bad files) and
`manage.py workflow test` (pass/fail per case, diffs, exit codes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.testcases import services as cases
from apps.testcases.models import TestCase
from apps.workflows import services as workflows
from apps.workflows.models import Workflow

pytestmark = pytest.mark.django_db(transaction=True)

CODE = """export default async (ctx) => {
  const url = "https://api.example.com/price/" + ctx.input.sku;
  const r = await fastn.connector.http.request({ url });
  return { sku: ctx.input.sku, price: r.body.price * ctx.input.qty };
};
"""
MOCK = [{"call": "GET https://api.example.com/price/*", "response": {"price": 5}}]


def cli(*args) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("workflow", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def priced(cast, make_workflow, make_case, actor):
    workflow = make_workflow("Price", code=CODE)
    good = make_case(
        workflow,
        "Two items",
        group="pricing",
        input={"sku": "a", "qty": 2},
        mocks=MOCK,
        expect={"kind": "equals", "output": {"sku": "a", "price": 10}},
        feedback="From the price list",
    )
    cases.case_approve(good, approved=True, user=cast.owner, actor=actor)
    make_case(
        workflow,
        "Draft idea",
        mode="live",
        scenario="Not reviewed yet",
        expect={"kind": "assertions", "assertions": [{"path": "$.price", "op": "gt", "value": 0}]},
    )
    return workflow


def test_export_writes_the_tests_file_and_import_brings_the_cases_back(tmp_path, cast, priced):
    code, out, _ = cli("export", "--space", cast.space.slug, "--out", str(tmp_path))
    assert code == 0 and "price.tests.json (2 case(s))" in out
    data = json.loads((tmp_path / "price.tests.json").read_text())
    assert data["version"] == 1
    assert [c["name"] for c in data["cases"]] == ["Draft idea", "Two items"]
    assert data["cases"][1] == {
        "name": "Two items",
        "mode": "mock",
        "scenario": "",
        "group": "pricing",
        "input": {"sku": "a", "qty": 2},
        "headers": {},
        "mocks": MOCK,
        "expect": {"kind": "equals", "output": {"sku": "a", "price": 10}},
        "approved": True,
        "feedback": "From the price list",
    }
    code, out, _ = cli("import", str(tmp_path), "--space", cast.other_space.slug)
    assert code == 0 and "cases     price: 2 created" in out
    imported = Workflow.objects.get(space=cast.other_space, slug="price")
    copies = {c.name: c for c in TestCase.objects.filter(workflow=imported)}
    assert set(copies) == {"Two items", "Draft idea"}
    assert copies["Two items"].approved and copies["Two items"].space == cast.other_space
    assert copies["Draft idea"].expect["assertions"][0]["op"] == "gt"
    # The round trip is exact, and importing again changes nothing.
    again = tmp_path / "again"
    cli("export", "--space", cast.other_space.slug, "--out", str(again))
    assert (again / "price.tests.json").read_bytes() == (tmp_path / "price.tests.json").read_bytes()
    code, out, _ = cli("import", str(tmp_path), "--space", cast.other_space.slug)
    assert "2 unchanged" in out and "Nothing to change" in out


def test_export_removes_the_tests_file_of_a_workflow_without_cases(tmp_path, cast, priced):
    cli("export", "--space", cast.space.slug, "--out", str(tmp_path))
    TestCase.objects.all().delete()
    code, out, _ = cli("export", "--space", cast.space.slug, "--out", str(tmp_path))
    assert code == 0 and "price.tests.json removed" in out
    assert not (tmp_path / "price.tests.json").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "{nope",
            "not valid JSON (Expecting property name enclosed in double quotes at line 1, "
            "column 2)",
        ),
        ("[]", "expected a JSON object"),
        ('{"version": 2, "cases": []}', "field “version” must be 1 (got 2)"),
        ('{"version": 1, "cases": {}}', "field “cases” must be a list"),
        ('{"version": 1, "cases": [], "extra": 1}', "unknown field “extra”"),
        (
            '{"version": 1, "cases": [{"name": "a", "color": "red"}]}',
            "cases[0]: unknown field “color”",
        ),
        ('{"version": 1, "cases": [{"mode": "mock"}]}', "cases[0]: field “name” is required"),
        (
            '{"version": 1, "cases": [{"name": "a", "mode": "fake"}]}',
            "cases[0]: field “mode” must be “mock” or “live”",
        ),
        (
            '{"version": 1, "cases": [{"name": "a", "mocks": [{"call": "bad"}]}]}',
            "cases[0]: field “mocks” mock 1: “bad” is neither",
        ),
        (
            '{"version": 1, "cases": [{"name": "a", "expect": {"kind": "assertions", '
            '"assertions": [{"path": "x"}]}}]}',
            "cases[0]: field “expect” assertion 1: path “x” must start with $",
        ),
        (
            '{"version": 1, "cases": [{"name": "a"}, {"name": "a"}]}',
            "cases[1]: the name “a” is used twice",
        ),
        (
            '{"version": 1, "cases": [{"name": "a", "approved": "yes"}]}',
            "cases[0]: field “approved” must be true or false",
        ),
    ],
)
def test_a_bad_tests_file_is_refused_precisely_and_nothing_is_imported(
    tmp_path, cast, content, message
):
    (tmp_path / "shop.json").write_text('{"name": "Shop"}')
    (tmp_path / "shop.js").write_text("export default async () => 1;\n")
    (tmp_path / "shop.tests.json").write_text(content)
    with pytest.raises(CommandError) as exc:
        call_command(
            "workflow", "import", str(tmp_path), "--space", cast.space.slug, stdout=StringIO()
        )
    assert f"{tmp_path / 'shop.tests.json'}: " in str(exc.value)
    assert message in str(exc.value) and "Nothing was imported." in str(exc.value)
    assert not Workflow.objects.filter(space=cast.space).exists()
    assert not TestCase.objects.exists()


def test_a_tests_file_named_on_the_command_line_imports_its_workflow(tmp_path, cast):
    (tmp_path / "shop.json").write_text('{"name": "Shop"}')
    (tmp_path / "shop.js").write_text("export default async () => 1;\n")
    (tmp_path / "shop.tests.json").write_text(
        '{"version": 1, "cases": [{"name": "one", "expect": {"kind": "equals", "output": 1}}]}'
    )
    code, _, _ = cli("import", str(tmp_path / "shop.tests.json"), "--space", cast.space.slug)
    assert code == 0 and TestCase.objects.get().name == "one"


def test_workflow_test_passes_and_exits_0(cast, priced):
    code, out, _ = cli("test", "--space", cast.space.slug)
    assert code == 0
    assert "price (draft " in out and "  PASS  Two items" in out
    assert "Draft idea" not in out  # not approved, and LIVE: never run by the command
    assert "1 case(s): 1 passed, 0 failed." in out


def test_workflow_test_prints_the_diff_and_exits_1_on_a_failure(cast, priced, actor):
    workflows.workflow_update(
        priced,
        expected_revision=None,
        actor=actor,
        code=CODE.replace("r.body.price *", "r.body.price + "),
    )
    code, out, _ = cli("test", "price", "--space", cast.space.slug)
    assert code == 1
    assert "  FAIL  Two items" in out
    assert "$.price: expected 10, got 7" in out
    assert '-  "price": 10,' in out and '+  "price": 7,' in out
    assert "1 case(s): 0 passed, 1 failed." in out


def test_workflow_test_runs_a_published_version(cast, priced, actor):
    workflows.workflow_publish(priced, actor=actor)
    workflows.workflow_update(
        priced, expected_revision=None, actor=actor, code="export default async () => 0;"
    )
    code, out, _ = cli("test", "price", "--space", cast.space.slug, "--version", "1")
    assert code == 0 and "price (v1)" in out
    assert cli("test", "price", "--space", cast.space.slug)[0] == 1


def test_an_unmocked_call_fails_from_the_command_line_too(cast, make_workflow, make_case, actor):
    workflow = make_workflow("Bare", code=CODE)
    case = make_case(
        workflow, "No mocks", input={"sku": "a", "qty": 1}, expect={"kind": "equals", "output": 1}
    )
    cases.case_approve(case, approved=True, user=cast.owner, actor=actor)
    code, out, _ = cli("test", "bare", "--space", cast.space.slug)
    assert code == 1
    assert "Unmocked call: fastn.connector.http.request GET https://api.example.com/price/a" in out


def test_workflow_test_errors(cast, priced):
    with pytest.raises(CommandError, match="No workflow “nope”"):
        call_command("workflow", "test", "nope", "--space", cast.space.slug, stdout=StringIO())
    with pytest.raises(CommandError, match="has no version 9"):
        call_command(
            "workflow",
            "test",
            "price",
            "--space",
            cast.space.slug,
            "--version",
            "9",
            stdout=StringIO(),
        )
    code, _, err = cli("test", "--space", cast.other_space.slug)
    assert code == 2 and "No approved MOCK test cases" in err


def test_the_real_command_exits_1_for_ci(cast, priced, actor):
    """As a CI job runs it: a separate process on the same database."""
    workflows.workflow_update(
        priced,
        expected_revision=None,
        actor=actor,
        code=CODE.replace("r.body.price *", "r.body.price + "),
    )
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "manage.py", "workflow", "test", "--space", cast.space.slug],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "FAIL  Two items" in done.stdout and "$.price: expected 10, got 7" in done.stdout
