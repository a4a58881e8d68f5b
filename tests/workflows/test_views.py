"""The Workflows table, the editor's endpoints, roles and isolation."""

from __future__ import annotations

import html
import json
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.urls import reverse

from apps.environments.selectors import environment_by_slug
from apps.executions.services import manual
from apps.spaces.models import AuditEvent
from apps.workflows import services
from apps.workflows.models import DEFAULT_CODE, MAX_CODE_BYTES, Workflow, WorkflowVersion
from tests.conftest import login

HTMX = {"HX-Request": "true"}


def form_data(workflow: Workflow | None = None, **overrides) -> dict:
    fields = services.fields_of(workflow) if workflow else services.defaults_for_new()
    data = {key: value for key, value in fields.items() if not isinstance(value, bool)}
    for key in ("enabled", "retry_enabled"):
        if fields[key]:
            data[key] = "on"
    if workflow:
        data["draft_revision"] = workflow.draft_revision
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def url(name, workflow=None, space=None, **kwargs):
    space = space or workflow.space
    if workflow is not None:
        kwargs["workflow_id"] = workflow.id
    return reverse(name, kwargs={"space_slug": space.slug, **kwargs})


# --- The table ------------------------------------------------------------------------------


def test_empty_table_explains_how_to_start(client, cast):
    login(client, cast.owner)
    response = client.get(url("workflows", space=cast.space))
    assert response.status_code == 200
    body = response.content.decode()
    assert "No workflows yet" in body and "Create your first workflow" in body
    assert 'data-icon="sparkles"' in body and "</svg> Build with AI</a>" in body


def test_table_lists_name_slug_description_status_version(client, cast, make_workflow, actor, live):
    a = make_workflow("Alpha", description="Does alpha things")
    make_workflow("Beta")
    v1 = services.workflow_publish(a, actor=actor)
    services.workflow_deploy(a, version=v1, environment=live, actor=actor)
    login(client, cast.viewer)
    body = client.get(url("workflows", space=cast.space)).content.decode()
    assert "Alpha" in body and "alpha" in body and "Does alpha things" in body
    assert 'data-icon="check"' in body and "</svg> active</span>" in body and "inactive" in body
    assert ">v1<" in body and ">draft<" in body
    assert "never published" in body
    assert "Create Workflow" not in body  # a viewer cannot create
    assert "Delete" not in body


def test_table_tabs_count_per_tier_and_filter(client, cast, make_workflow):
    make_workflow("I1")
    make_workflow("I2")
    make_workflow("S1", tier="standard")
    login(client, cast.owner)
    body = client.get(url("workflows", space=cast.space) + "?tier=standard").content.decode()
    assert 'data-testid="tab-all">All <span class="count">3</span>' in body
    assert 'data-testid="tab-instant">Instant <span class="count">2</span>' in body
    assert 'data-testid="tab-long">Long <span class="count">0</span>' in body
    # By the rows' markup: a bare "i1" can turn up inside the page's random CSRF token.
    assert 'data-slug="s1"' in body and 'data-slug="i1"' not in body


def test_search_by_name_or_slug_answers_a_partial_to_htmx(client, cast, make_workflow):
    make_workflow("Sync deals")
    make_workflow("Echo", slug="mirror")
    login(client, cast.owner)
    response = client.get(url("workflows", space=cast.space) + "?q=mirr", headers=HTMX)
    body = response.content.decode()
    assert "<html" not in body
    assert 'data-slug="mirror"' in body and "sync-deals" not in body
    body = client.get(url("workflows", space=cast.space) + "?q=nothing").content.decode()
    assert "No workflows match “nothing”" in body


def test_table_paginates_25_per_page(client, cast, make_workflow):
    for i in range(30):
        make_workflow(f"W{i:02}")
    login(client, cast.owner)
    first = client.get(url("workflows", space=cast.space)).content.decode()
    assert first.count('data-testid="workflow-row"') == 25
    assert "Page 1 of 2" in first
    second = client.get(url("workflows", space=cast.space) + "?page=2").content.decode()
    assert second.count('data-testid="workflow-row"') == 5


def test_table_queries_do_not_grow_with_rows(
    client, cast, make_workflow, actor, live, django_assert_max_num_queries
):
    def publish_some(start, count):
        for i in range(start, start + count):
            w = make_workflow(f"W{i:03}")
            v = services.workflow_publish(w, actor=actor)
            services.workflow_deploy(w, version=v, environment=live, actor=actor)

    publish_some(0, 3)
    login(client, cast.owner)
    with django_assert_max_num_queries(12) as few:
        client.get(url("workflows", space=cast.space))
    publish_some(3, 30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url("workflows", space=cast.space))


# --- Creating -------------------------------------------------------------------------------


def test_create_workflow_opens_the_editor_with_the_default_template(client, cast):
    login(client, cast.developer)
    response = client.get(url("workflow_create", space=cast.space))
    assert response.status_code == 200
    body = response.content.decode()
    assert json.dumps(DEFAULT_CODE) in body
    assert "Create Workflow" in body
    assert "JavaScript · export default async function(ctx)" in body
    assert "vendor/monaco/vs/loader.js" in body


def test_create_saves_and_redirects_to_the_editor(client, cast):
    login(client, cast.developer)
    data = form_data(name="Sync New Deals", slug="", code="export default async () => 1;\n")
    response = client.post(url("workflow_create", space=cast.space), data, headers=HTMX)
    workflow = Workflow.objects.get()
    assert workflow.slug == "sync-new-deals" and workflow.created_by == cast.developer
    assert response.status_code == 200
    assert response["HX-Redirect"] == url("workflow_editor", workflow)
    assert workflow.draft_code == "export default async () => 1;\n"


def test_create_with_a_clashing_slug_shows_the_error_next_to_the_field(client, cast, make_workflow):
    make_workflow("Echo")
    login(client, cast.owner)
    response = client.post(
        url("workflow_create", space=cast.space), form_data(name="Echo"), headers=HTMX
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-testid="slug-error"' in body and "already uses the slug “echo”" in body
    assert Workflow.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "Give the workflow a name."),
        ({"name": "n" * 121}, "120 characters"),
        ({"description": "d" * 1001}, "1000 characters"),
        ({"timeout_seconds": 500}, "between 1 s and 2 min"),
        ({"timeout_seconds": "soon"}, "Enter whole seconds."),
        ({"retry_max_attempts": 50}, "between 1 and 10"),
        ({"retry_backoff_coefficient": "-1"}, "between 1 and 10"),
        ({"retry_initial_interval_ms": 7000, "retry_max_interval_ms": 6000}, "cannot be shorter"),
    ],
)
def test_bad_input_shows_an_error_and_saves_nothing(
    client, cast, make_workflow, overrides, message
):
    workflow = make_workflow()
    login(client, cast.owner)
    response = client.post(
        url("workflow_save", workflow), form_data(workflow, **overrides), headers=HTMX
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body and 'class="field-error"' in body
    assert "Nothing was saved" in body
    fresh = Workflow.objects.get()
    assert fresh.draft_revision == 1 and fresh.name == "Echo"


def test_code_over_one_megabyte_is_refused_next_to_the_code(client, cast, make_workflow):
    workflow = make_workflow()
    login(client, cast.owner)
    big = SimpleUploadedFile("workflow.js", b"/" * (MAX_CODE_BYTES + 1), "text/javascript")
    data = form_data(workflow)
    data.pop("code")
    response = client.post(url("workflow_save", workflow), {**data, "code": big}, headers=HTMX)
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-testid="code-error"' in body and "1 MB" in body
    assert Workflow.objects.get().draft_code == DEFAULT_CODE


def test_code_arrives_as_a_file_part_byte_for_byte(client, cast, make_workflow):
    workflow = make_workflow()
    login(client, cast.owner)
    code = "export default async () => {\r\n  return 'é\\n';\r\n};"
    data = form_data(workflow)
    data["code"] = SimpleUploadedFile("workflow.js", code.encode(), "text/javascript")
    response = client.post(url("workflow_save", workflow), data, headers=HTMX)
    assert response.status_code == 200
    assert Workflow.objects.get().draft_code == code


# --- Saving, publishing, conflicts ----------------------------------------------------------


def test_save_answers_the_panel_and_tells_the_page(client, cast, make_workflow):
    workflow = make_workflow()
    login(client, cast.developer)
    response = client.post(
        url("workflow_save", workflow),
        form_data(workflow, description="now described", code="// saved\n"),
        headers=HTMX,
    )
    assert response.status_code == 200
    assert "workflowSaved" in response["HX-Trigger-After-Swap"]
    assert json.loads(response["HX-Trigger"])["toast"]["message"] == "Draft saved."
    body = response.content.decode()
    assert 'id="wf-form"' in body and 'hx-swap-oob="true"' in body
    assert 'name="draft_revision" value="2"' in body
    fresh = Workflow.objects.get()
    assert (fresh.description, fresh.draft_code) == ("now described", "// saved\n")
    assert not WorkflowVersion.objects.exists()


def test_second_tab_save_detects_the_changed_draft(client, cast, make_workflow):
    workflow = make_workflow()
    login(client, cast.owner)
    first = form_data(workflow, code="// first tab\n")
    second = form_data(workflow, code="// second tab\n")
    assert client.post(url("workflow_save", workflow), first, headers=HTMX).status_code == 200
    response = client.post(url("workflow_save", workflow), second, headers=HTMX)
    assert response.status_code == 409
    body = response.content.decode()
    assert 'data-testid="conflict"' in body and "changed since you opened it" in body
    assert 'data-revision="2"' in body
    assert Workflow.objects.get().draft_code == "// first tab\n"
    overwrite = form_data(workflow, code="// second tab\n", draft_revision=2)
    assert client.post(url("workflow_save", workflow), overwrite, headers=HTMX).status_code == 200
    assert Workflow.objects.get().draft_code == "// second tab\n"


def test_publish_saves_then_creates_the_next_version(client, cast, make_workflow):
    workflow = make_workflow()
    login(client, cast.developer)
    data = form_data(workflow, intent="publish", code="// v1\n")
    response = client.post(url("workflow_save", workflow), data, headers=HTMX)
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"])["toast"]["message"] == "Published v1."
    version = WorkflowVersion.objects.get()
    assert (version.number, version.code, version.created_by) == (1, "// v1\n", cast.developer)
    body = response.content.decode()
    assert "Latest: v1" in body and 'data-version="1"' in body
    assert "readonly" in body  # the slug is fixed now


def test_publish_freezes_the_release_note_and_refuses_a_long_one(client, cast, make_workflow):
    workflow = make_workflow()
    login(client, cast.developer)
    target = url("workflow_save", workflow)
    data = form_data(workflow, intent="publish", code="// v1\n", release_note="n" * 501)
    response = client.post(target, data, headers=HTMX)
    assert response.status_code == 400
    body = response.content.decode()
    assert "Keep the release note to 500 characters (it has 501)." in body
    assert 'id="wf-note-error"' in body and 'hx-swap-oob="true"' in body
    assert not WorkflowVersion.objects.exists()
    assert Workflow.objects.get().draft_code == DEFAULT_CODE  # nothing saved either
    data["release_note"] = "  First cut.  "
    assert client.post(target, data, headers=HTMX).status_code == 200
    assert WorkflowVersion.objects.get().release_note == "First cut."
    assert client.get(url("workflow_version", workflow, number=1)).json()["release_note"] == (
        "First cut."
    )
    body = client.get(url("workflow_lifecycle", workflow)).content.decode()
    assert 'data-testid="version-note">First cut.</p>' in body
    event = AuditEvent.objects.filter(action="workflow.publish").get()
    assert event.detail["release_note"] == "First cut."


def test_table_status_names_the_environments_a_workflow_is_deployed_to(
    client, cast, make_workflow, actor, live
):
    from apps.environments.services import environment_create

    staging = environment_create(cast.space, name="Staging", actor=actor)
    workflow = make_workflow("Alpha")
    v1 = services.workflow_publish(workflow, actor=actor)
    services.workflow_deploy(workflow, version=v1, environment=staging, actor=actor)
    login(client, cast.viewer)
    body = client.get(url("workflows", space=cast.space)).content.decode()
    assert "active" in body and "· staging</span>" in body and "on test only" not in body
    services.workflow_deploy(workflow, version=v1, environment=live, actor=actor)
    body = client.get(url("workflows", space=cast.space)).content.decode()
    assert "· live, staging</span>" in body


def test_api_tab_calls_the_deployed_environment_with_the_key_it_needs(
    client, cast, make_workflow, actor, live
):
    workflow = make_workflow()
    login(client, cast.viewer)
    body = client.get(url("workflow_api", workflow)).content.decode()
    assert "stage: DRAFT" in body and "export FASTN_API_KEY=fsk_test_…" in body
    assert "from an Owner or Admin" in body
    v1 = services.workflow_publish(workflow, actor=actor)
    assert "stage: test" in client.get(url("workflow_api", workflow)).content.decode()
    services.workflow_deploy(workflow, version=v1, environment=live, actor=actor)
    login(client, cast.owner)
    body = client.get(url("workflow_api", workflow)).content.decode()
    assert "stage: live" in body and "export FASTN_API_KEY=fsk_live_…" in body
    assert url("apikeys", space=cast.space) in body
    assert "http://testserver/api/v1/echo \\" in body


@pytest.mark.parametrize(
    "posted, curl, fetch, error",
    [
        (None, """-d '{"input":{}}'""", "input: {},", ""),
        ('{"a": [1, "it\'s"]}', """-d '{"input":{"a":[1,"it'"'"'s"]}}'""", '"it\'s"', ""),
        ("{oops", """-d '{"input":{}}'""", "input: {},", "samples send {} instead"),
        ("[" * 70_000, """-d '{"input":{}}'""", "input: {},", "over 64 KB"),
    ],
)
def test_api_tab_samples_send_the_test_tabs_input(
    client, cast, make_workflow, posted, curl, fetch, error
):
    workflow = make_workflow()
    login(client, cast.viewer)
    data = {} if posted is None else {"input": posted}
    body = html.unescape(client.post(url("workflow_api", workflow), data).content.decode())
    assert curl in body and fetch in body and "JSON.stringify" in body
    assert ("api-input-error" in body) == bool(error) and error in body
    assert "HTTP/1.1 200 OK" in body  # instant: the return value


def test_api_tab_shows_the_accepted_shape_for_background_tiers(client, cast, make_workflow):
    workflow = make_workflow(tier="standard")
    login(client, cast.viewer)
    body = html.unescape(client.get(url("workflow_api", workflow)).content.decode())
    assert "HTTP/1.1 202 Accepted" in body and '"executionId"' in body
    assert f"/api/v1/tenants/{cast.space.id}/executions/{{executionId}}" in body


def test_publish_with_nothing_changed_is_refused_with_a_message(client, cast, make_workflow, actor):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    login(client, cast.owner)
    data = form_data(workflow, intent="publish")
    response = client.post(url("workflow_save", workflow), data, headers=HTMX)
    assert response.status_code == 400
    assert "Nothing changed since v1" in response.content.decode()
    assert WorkflowVersion.objects.count() == 1


def test_save_without_htmx_redirects_back_to_the_editor(client, cast, make_workflow):
    workflow = make_workflow()
    login(client, cast.owner)
    response = client.post(url("workflow_save", workflow), form_data(workflow, name="Renamed"))
    assert response.status_code == 302 and response["Location"] == url("workflow_editor", workflow)
    assert Workflow.objects.get().name == "Renamed"


# --- The editor page ------------------------------------------------------------------------


def test_editor_shows_configuration_code_and_tabs(client, cast, make_workflow, actor):
    workflow = make_workflow(code="export default async () => 'ü';\n")
    services.workflow_publish(workflow, actor=actor, created_by=cast.owner)
    login(client, cast.developer)
    body = client.get(url("workflow_editor", workflow)).content.decode()
    for text in (
        "echo.js",
        "JavaScript · export default async function(ctx)",
        "Latest: v1",
        "Edited manually",
        '<svg xmlns="http://www.w3.org/2000/svg" class="icon" data-icon="play"',
        "</svg> Test</button>",
        "</svg> Docs</button>",
        "</svg> Test Cases</button>",
        "</svg> Executions</button>",
        "</svg> API</button>",
        "CTX.INPUT",
        "CTX.HEADERS",
        "Hit Run to execute without saving",
        "Save Workflow",
        "Publish",
        "Discard",
        "Publish snapshot",
    ):
        assert text in body, text
    assert 'hx-get="' + url("workflow_lifecycle", workflow) + '"' in body
    lifecycle = client.get(url("workflow_lifecycle", workflow)).content.decode()
    assert "<html" not in lifecycle
    for text in (
        "Deploy to environment",
        "Restore to draft",
        'data-version="1"',
        'data-testid="env-version-test">v1<',
        "owner@example.com",
    ):
        assert text in lifecycle, text
    assert '<span id="wf-bytes">33</span>' in body  # UTF-8 bytes, not characters
    assert '"readOnly": false' in body


def test_viewer_sees_the_editor_read_only(client, cast, make_workflow):
    workflow = make_workflow()
    login(client, cast.viewer)
    body = client.get(url("workflow_editor", workflow)).content.decode()
    assert '"readOnly": true' in body and 'data-testid="read-only"' in body
    assert "Save Workflow" not in body and 'data-action="publish"' not in body
    assert '<fieldset class="wf-fieldset" disabled>' in body
    assert "Your role can view this workflow but not run it." in body


def test_operator_may_run_but_not_edit(client, cast, make_workflow):
    workflow = make_workflow()
    login(client, cast.operator)
    body = client.get(url("workflow_editor", workflow)).content.decode()
    assert '"readOnly": true' in body and 'data-testid="run"' in body
    assert "Save Workflow" not in body


def test_version_json_and_restore(client, cast, make_workflow, actor):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    services.workflow_update(workflow, expected_revision=None, actor=actor, code="// two\n")
    login(client, cast.viewer)
    data = client.get(url("workflow_version", workflow, number=1)).json()
    assert data["code"] == DEFAULT_CODE and data["config"]["tier"] == "instant"
    assert client.get(url("workflow_version", workflow, number=9)).status_code == 404
    login(client, cast.developer)
    response = client.post(url("workflow_restore", workflow, number=1), headers=HTMX)
    assert response["HX-Refresh"] == "true"
    assert Workflow.objects.get().draft_code == DEFAULT_CODE


def test_delete_removes_the_workflow(client, cast, make_workflow):
    workflow = make_workflow()
    login(client, cast.developer)
    response = client.post(url("workflow_delete", workflow))
    assert response["Location"] == url("workflows", space=cast.space)
    assert not Workflow.objects.exists()


def test_build_with_ai_is_honest(client, cast):
    login(client, cast.owner)
    body = client.get(url("workflow_builder", space=cast.space)).content.decode()
    assert "not available yet" in body


# --- Deploying ------------------------------------------------------------------------------


def deploy(client, workflow, environment, number):
    return client.post(
        url("workflow_deploy", workflow),
        {"environment": environment.id, "version": number},
        headers=HTMX,
    )


@pytest.mark.parametrize("role", ["owner", "admin", "developer"])
def test_builders_deploy_to_live_and_roll_back(client, cast, make_workflow, actor, live, role):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    services.workflow_update(workflow, expected_revision=None, actor=actor, code="// 2\n")
    services.workflow_publish(workflow, actor=actor)
    login(client, cast.member(role))
    response = deploy(client, workflow, live, 2)
    assert response.status_code == 200
    assert 'data-testid="env-version-live">v2<' in response.content.decode()
    assert deploy(client, workflow, live, 1).status_code == 200
    assert workflow.deployments.get().version.number == 1


def test_operator_cannot_deploy_to_live(client, cast, make_workflow, actor, live):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    login(client, cast.operator)
    assert deploy(client, workflow, live, 1).status_code == 403
    assert not workflow.deployments.exists()
    assert AuditEvent.objects.filter(action="access.denied").exists()


def test_operator_may_deploy_to_test_which_follows_the_latest(client, cast, make_workflow, actor):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    login(client, cast.operator)
    response = deploy(client, workflow, environment_by_slug(cast.space, "test"), 1)
    assert response.status_code == 400
    assert "always serves the latest published version" in response["HX-Trigger"]
    assert not workflow.deployments.exists()


def test_viewer_cannot_deploy_anywhere(client, cast, make_workflow, actor):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    login(client, cast.viewer)
    assert deploy(client, workflow, environment_by_slug(cast.space, "test"), 1).status_code == 403


def test_deploying_an_unknown_version_or_foreign_environment_is_404(
    client, cast, make_workflow, actor
):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    login(client, cast.owner)
    assert deploy(client, workflow, environment_by_slug(cast.space, "live"), 7).status_code == 404
    foreign = environment_by_slug(cast.other_space, "live")
    assert deploy(client, workflow, foreign, 1).status_code == 404
    response = client.post(url("workflow_deploy", workflow), {"environment": "x", "version": 1})
    assert response.status_code == 404


# --- Running (the executions service is replaced by a recorder) ----------------------------


@pytest.fixture
def runs(monkeypatch):
    calls = []

    def fake_run_sync(workflow, **kwargs):
        calls.append(kwargs)
        error = None
        if "throw" in (kwargs["code"] or ""):
            error = {"code": "UNCAUGHT", "message": "boom", "line": 3, "column": 9, "stack": ""}
        return SimpleNamespace(
            id="00000000-0000-0000-0000-000000000001",
            status="failed" if error else "completed",
            get_status_display=lambda: "Failed" if error else "Completed",
            output=None if error else {"echo": kwargs["input"]},
            error=error,
            logs=[{"level": "info", "message": "hello from the log", "time": 0}],
            steps=[
                {
                    "kind": "state",
                    "name": "fastn.state.get",
                    "args": ["k"],
                    "result": None,
                    "error": None,
                    "durationMs": 1.5,
                }
            ],
            duration_ms=12.5,
            version_label="draft",
        )

    monkeypatch.setattr(manual, "run_sync", fake_run_sync)
    return calls


def test_test_tab_runs_the_unsaved_code_as_the_draft(client, cast, make_workflow, runs):
    workflow = make_workflow()
    login(client, cast.developer)
    unsaved = SimpleUploadedFile(
        "workflow.js", b"export default async (ctx) => ctx.input;", "text/javascript"
    )
    response = client.post(
        url("workflow_test", workflow),
        {"input": '{"name": "Ada"}', "headers": '{"X-Id": "1"}', "code": unsaved},
        headers=HTMX,
    )
    assert response.status_code == 200
    call = runs[0]
    assert call["code"] == "export default async (ctx) => ctx.input;"
    assert call["version"] is None and call["environment"] == "DRAFT"
    assert call["triggered_by"] == "manual" and call["input"] == {"name": "Ada"}
    assert call["headers"] == {"x-id": "1"}
    body = response.content.decode()
    assert 'data-testid="run-status"' in body and "Completed" in body
    assert "hello from the log" in body and "fastn.state.get" in body and "12ms" in body
    assert '<span class="jt-key">&quot;name&quot;</span>' in body
    assert Workflow.objects.get().draft_code == DEFAULT_CODE  # nothing saved


def test_a_failing_test_run_tells_the_editor_the_line(client, cast, make_workflow, runs):
    workflow = make_workflow()
    login(client, cast.developer)
    response = client.post(
        url("workflow_test", workflow), {"input": "{}", "code": "// throw\n"}, headers=HTMX
    )
    assert json.loads(response["HX-Trigger"])["workflowRunError"]["line"] == 3
    assert "boom" in response.content.decode() and "at line 3:9" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"input": "{nope"}, "ctx.input is not valid JSON"),
        ({"headers": "[1]"}, "ctx.headers must be a JSON object"),
        ({"headers": '{"a": 1}'}, "Header values must be strings"),
    ],
)
def test_invalid_test_input_does_not_run(client, cast, make_workflow, runs, data, message):
    workflow = make_workflow()
    login(client, cast.developer)
    response = client.post(url("workflow_test", workflow), data, headers=HTMX)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert runs == []


def test_operator_test_run_runs_the_saved_draft_not_posted_code(client, cast, make_workflow, runs):
    workflow = make_workflow()
    login(client, cast.operator)
    client.post(url("workflow_test", workflow), {"input": "{}", "code": "evil()"}, headers=HTMX)
    assert runs[0]["code"] == DEFAULT_CODE


def test_run_dialog_runs_live_then_latest_then_draft(
    client, cast, make_workflow, actor, live, runs
):
    workflow = make_workflow()
    login(client, cast.operator)
    dialog = client.get(url("workflow_run", workflow)).content.decode()
    assert "Runs the <strong>draft</strong>" in dialog
    client.post(url("workflow_run", workflow), {"input": '{"a": 1}'}, headers=HTMX)
    assert (runs[-1]["version"], runs[-1]["code"]) == (None, DEFAULT_CODE)
    v1 = services.workflow_publish(workflow, actor=actor)
    client.post(url("workflow_run", workflow), {"input": "{}"}, headers=HTMX)
    assert (runs[-1]["version"], runs[-1]["environment"]) == (v1, "test")
    services.workflow_update(workflow, expected_revision=None, actor=actor, code="// 2\n")
    services.workflow_publish(workflow, actor=actor)
    services.workflow_deploy(workflow, version=v1, environment=live, actor=actor)
    response = client.post(url("workflow_run", workflow), {"input": "{}"}, headers=HTMX)
    assert (runs[-1]["version"], runs[-1]["environment"], runs[-1]["code"]) == (v1, "live", None)
    assert "Completed" in response.content.decode()


def test_run_dialog_refuses_bad_json_and_viewers(client, cast, make_workflow, runs):
    workflow = make_workflow()
    login(client, cast.operator)
    response = client.post(url("workflow_run", workflow), {"input": "{"}, headers=HTMX)
    assert response.status_code == 400 and "not valid JSON" in response.content.decode()
    login(client, cast.viewer)
    assert (
        "Your role can't run workflows."
        in client.get(url("workflow_run", workflow)).content.decode()
    )
    assert client.post(url("workflow_run", workflow), {"input": "{}"}).status_code == 403
    assert runs == []


def test_a_new_workflow_test_run_refuses_a_timeout_outside_its_tier(client, cast):
    login(client, cast.developer)
    data = form_data(tier="instant", timeout_seconds=600, input="{}", code="// x\n")
    response = client.post(url("workflow_test_new", space=cast.space), data, headers=HTMX)
    assert response.status_code == 400
    assert "Execution Timeout: Instant workflows time out between 1 s and 2 min" in (
        response.content.decode()
    )
    from apps.executions.models import Execution

    assert not Execution.objects.exists() and not Workflow.objects.exists()


def test_a_new_workflow_needs_no_name_or_free_slug_to_run_but_valid_json(
    client, cast, make_workflow, monkeypatch
):
    make_workflow("Taken")
    ran = []
    monkeypatch.setattr(
        "apps.executions.services.manual.execution_run_unsaved",
        lambda draft, **kwargs: ran.append((draft, kwargs)) or SimpleNamespace(error=None),
    )
    monkeypatch.setattr(
        "apps.executions.views.run_result_response", lambda request, execution: HttpResponse("ran")
    )
    login(client, cast.developer)
    target = url("workflow_test_new", space=cast.space)
    response = client.post(target, form_data(name="", input="{nope"), headers=HTMX)
    assert (
        response.status_code == 400 and "ctx.input is not valid JSON" in response.content.decode()
    )
    data = form_data(name="Taken", slug="taken", tier="long", timeout_seconds=40, input='{"a": 1}')
    assert client.post(target, {**data, "code": "// mine\n"}, headers=HTMX).status_code == 200
    draft, kwargs = ran[0]
    assert draft._state.adding and (draft.name, draft.tier, draft.timeout_seconds) == (
        "Taken",
        "long",
        40,
    )
    assert draft.draft_code == "// mine\n" and kwargs["input"] == {"a": 1}
    assert Workflow.objects.count() == 1


# --- Roles and isolation --------------------------------------------------------------------


def write_requests(workflow) -> list[tuple[str, dict]]:
    return [
        (url("workflow_create", space=workflow.space), form_data(name="New one")),
        (url("workflow_test_new", space=workflow.space), form_data(name="New one", input="{}")),
        (url("workflow_save", workflow), form_data(workflow, name="Changed")),
        (url("workflow_save", workflow), form_data(workflow, intent="publish", code="// x\n")),
        (url("workflow_restore", workflow, number=1), {}),
        (url("workflow_delete", workflow), {}),
    ]


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_roles_without_build_get_403_on_every_write(client, cast, make_workflow, actor, role):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    login(client, cast.member(role))
    assert client.get(url("workflow_create", space=cast.space)).status_code == 403
    for target, data in write_requests(workflow):
        assert client.post(target, data, headers=HTMX).status_code == 403, target
    fresh = Workflow.objects.get()
    assert (fresh.name, fresh.draft_revision, fresh.versions.count()) == ("Echo", 1, 1)


def test_outsiders_get_404_everywhere(client, cast, make_workflow, actor, live, runs):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    login(client, cast.outsider)
    gets = [
        url("workflows", space=cast.space),
        url("workflow_editor", workflow),
        url("workflow_version", workflow, number=1),
        url("workflow_run", workflow),
        url("workflow_executions", workflow),
        url("workflow_lifecycle", workflow),
        url("workflow_api", workflow),
    ]
    for target in gets:
        assert client.get(target).status_code == 404, target
    for target, data in write_requests(workflow):
        assert client.post(target, data).status_code == 404, target
    assert client.post(url("workflow_test", workflow), {"input": "{}"}).status_code == 404
    assert deploy(client, workflow, live, 1).status_code == 404
    assert runs == []


def test_a_workflow_of_another_space_is_404_through_my_space(client, cast, make_workflow):
    theirs = make_workflow("Theirs", space=cast.other_space)
    login(client, cast.owner)
    target = reverse(
        "workflow_editor", kwargs={"space_slug": cast.space.slug, "workflow_id": theirs.id}
    )
    assert client.get(target).status_code == 404
    target = reverse(
        "workflow_delete", kwargs={"space_slug": cast.space.slug, "workflow_id": theirs.id}
    )
    assert client.post(target).status_code == 404
    assert Workflow.objects.filter(pk=theirs.pk).exists()
