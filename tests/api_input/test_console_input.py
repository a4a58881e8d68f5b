"""The console: bad JSON in a form field is a form error, a bad query parameter is ignored;
neither is ever a 500."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import QueryDict
from django.urls import reverse

from apps.executions.models import Execution
from apps.secrets.crypto import new_master_key_entry
from apps.secrets.models import Secret
from tests.conftest import login
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
BAD_JSON = [
    ("[" * 5000 + "]" * 5000, "depth limit of 64"),
    ("9" * 5000, "number out of range"),
    ('{"n": NaN}', "non-standard JSON value NaN"),
    ('{"k\\u0000": 1}', "NUL character"),
]


@pytest.fixture
def workflow(cast):
    return make_workflow(cast.space)


def space_url(cast, name, **kwargs):
    return reverse(name, kwargs={"space_slug": cast.space.slug, **kwargs})


@pytest.mark.parametrize(("text", "fragment"), BAD_JSON)
@pytest.mark.parametrize("field", ["input", "headers"])
def test_test_tab_json_is_a_form_error(client, cast, workflow, field, text, fragment):
    login(client, cast.developer)
    url = space_url(cast, "workflow_test", workflow_id=workflow.id)
    response = client.post(url, {field: text}, headers=HTMX)
    assert response.status_code == 400
    assert f"ctx.{field} " in response.content.decode()
    assert fragment in response.content.decode()
    assert not Execution.objects.exists()


@pytest.mark.parametrize(("text", "fragment"), BAD_JSON)
def test_run_dialog_json_is_a_form_error(client, cast, workflow, text, fragment):
    login(client, cast.operator)
    url = space_url(cast, "workflow_run", workflow_id=workflow.id)
    response = client.post(url, {"input": text}, headers=HTMX)
    assert response.status_code == 400 and fragment in response.content.decode()
    assert not Execution.objects.exists()


@pytest.mark.parametrize(("text", "fragment"), BAD_JSON)
def test_a_json_secret_is_checked_by_the_same_rules(client, cast, settings, text, fragment):
    settings.FASTN_MASTER_KEY = new_master_key_entry("test1")
    login(client, cast.owner)
    response = client.post(
        space_url(cast, "secret_create"), {"name": "CONFIG", "type": "json", "value": text}
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["value"]
    assert any(e.startswith("Not valid JSON: ") and fragment in e for e in errors), errors
    assert not Secret.objects.exists()


def test_code_with_nul_is_a_form_error(client, cast, workflow):
    login(client, cast.developer)
    code = SimpleUploadedFile("w.js", b"export default async () => 1;\x00", "text/javascript")
    response = client.post(
        space_url(cast, "workflow_test", workflow_id=workflow.id),
        {"input": "{}", "code": code},
        headers=HTMX,
    )
    assert response.status_code == 400 and "NUL" in response.content.decode()
    form = {"name": "Echo", "tier": "instant", "timeout_seconds": "10", "retry_max_attempts": "3",
            "retry_initial_interval_ms": "5000", "retry_backoff_coefficient": "2",
            "retry_max_interval_ms": "60000"}  # fmt: skip
    code.seek(0)
    response = client.post(
        space_url(cast, "workflow_save", workflow_id=workflow.id),
        {**form, "code": code},
        headers=HTMX,
    )
    assert response.status_code == 400 and "NUL" in response.content.decode()
    workflow.refresh_from_db()
    assert "\x00" not in workflow.draft_code


@pytest.mark.parametrize(
    "query",
    [
        "workflow=abc",
        "workflow=%00",
        "before=garbage",
        "before=x|y",
        "before=2026-13-45T00:00:00%2B00:00|2d9e20d8-5fc7-4958-9569-079e7b1cd8f2",
        "before=2026-01-01T00:00:00%2B00:00|not-a-uuid",
        "before=0001-01-01T00:00:00%2B14:00|bbd8ba62-9add-496b-a913-0ded0e86c0ce",
        "before=2026-01-01T00:00:00|bbac90c8-d3cc-4a5e-8267-7354c779ca2c",  # naive
        "tab=%00&range=%FF",
    ],
)
def test_bad_execution_list_parameters_are_ignored(client, cast, workflow, query):
    login(client, cast.viewer)
    response = client.get(space_url(cast, "executions") + "?" + query)
    assert response.status_code == 200
    filters = response.context["filters"]
    assert filters.workflow_id is None and filters.before is None


def test_a_workflow_filter_of_this_space_is_kept(client, cast, workflow):
    login(client, cast.viewer)
    response = client.get(space_url(cast, "executions"), {"workflow": str(workflow.id).upper()})
    assert response.context["filters"].workflow_id == str(workflow.id)


def test_the_list_cursor_still_pages(client, cast, workflow):
    from apps.executions.selectors import PAGE_SIZE
    from apps.executions.services import execution_create

    for _ in range(PAGE_SIZE + 3):
        execution_create(workflow, version=None, code="", input={}, headers={},
                         triggered_by="manual", actor=None)  # fmt: skip
    login(client, cast.viewer)
    first = client.get(space_url(cast, "executions"))
    older = QueryDict(first.context["older_query"])
    cursor = older.get("before")
    assert cursor and len(first.context["rows"]) == PAGE_SIZE
    second = client.get(space_url(cast, "executions"), {"before": cursor})
    assert second.context["filters"].before == cursor
    rows = second.context["rows"]
    assert len(rows) == 3 and not {r.id for r in rows} & {r.id for r in first.context["rows"]}
