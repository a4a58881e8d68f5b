"""`manage.py workflow export|import`: workflows as files in git."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.demo.samples import seed_sample_workflows
from apps.environments.selectors import environment_by_slug
from apps.spaces.models import AuditEvent
from apps.workflows import services
from apps.workflows.models import DEFAULT_CODE, Workflow, WorkflowVersion


def run(*args) -> str:
    out = StringIO()
    call_command("workflow", *args, stdout=out)
    return out.getvalue()


def write(directory, slug, config, code="export default async (ctx) => ctx.input;\n"):
    (directory / f"{slug}.json").write_text(json.dumps(config))
    (directory / f"{slug}.js").write_text(code)


def test_export_writes_code_and_configuration(tmp_path, cast, make_workflow, actor):
    make_workflow(
        "Echo",
        description="Answers",
        tier="standard",
        timeout_seconds=30,
        retry_max_attempts=5,
        enabled=False,
        code="// echo\n",
    )
    make_workflow("Other", space=cast.other_space)
    output = run("export", "--space", cast.space.slug, "--out", str(tmp_path))
    assert "Exported 1 workflow(s)" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["echo.js", "echo.json"]
    assert (tmp_path / "echo.js").read_text() == "// echo\n"
    assert json.loads((tmp_path / "echo.json").read_text()) == {
        "name": "Echo",
        "description": "Answers",
        "tier": "standard",
        "timeout_seconds": 30,
        "retry": {
            "enabled": False,
            "max_attempts": 5,
            "initial_interval_ms": 5000,
            "backoff_coefficient": 2.0,
            "max_interval_ms": 60000,
        },
        "status": "disabled",
    }
    event = AuditEvent.objects.get(action="workflow.export")
    assert event.detail["slugs"] == ["echo"] and event.actor_type == "system"


def test_export_then_import_into_another_space_round_trips(tmp_path, cast, make_workflow):
    make_workflow(
        "Echo",
        description="d",
        tier="long",
        timeout_seconds=3600,
        code="export default async () => {\r\n  return 'é';\r\n};",
    )
    run("export", "--space", cast.space.slug, "--out", str(tmp_path))
    output = run("import", str(tmp_path), "--space", cast.other_space.slug)
    assert "1 created" in output
    mine = Workflow.objects.get(space=cast.space)
    theirs = Workflow.objects.get(space=cast.other_space)
    assert services.fields_of(theirs) == services.fields_of(mine)


def test_import_twice_changes_nothing_and_says_so(tmp_path, cast):
    write(tmp_path, "echo", {"name": "Echo", "tier": "instant"})
    write(tmp_path, "sync", {"name": "Sync", "tier": "standard", "retry": {"max_attempts": 5}})
    first = run("import", str(tmp_path), "--space", cast.space.slug)
    assert "2 created" in first
    before = list(
        Workflow.objects.order_by("slug").values_list("slug", "draft_revision", "updated_at")
    )
    second = run("import", str(tmp_path), "--space", cast.space.slug)
    assert "Nothing to change" in second and "unchanged" in second
    after = list(
        Workflow.objects.order_by("slug").values_list("slug", "draft_revision", "updated_at")
    )
    assert before == after
    assert Workflow.objects.get(slug="sync").timeout_seconds == 900  # the tier's default
    assert AuditEvent.objects.filter(action="workflow.import").count() == 2
    assert AuditEvent.objects.filter(action="workflow.update").count() == 0


def test_import_updates_a_changed_draft(tmp_path, cast, make_workflow):
    make_workflow("Echo")
    write(tmp_path, "echo", {"name": "Echo", "description": "from git"}, code="// git\n")
    output = run("import", str(tmp_path / "echo.json"), "--space", cast.space.slug)
    assert "updated   echo" in output
    workflow = Workflow.objects.get()
    assert (workflow.description, workflow.draft_code) == ("from git", "// git\n")


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"name": "Echo", "tier": "instant", "timeout_seconds": 500}, "field “timeout_seconds”"),
        ({"name": "Echo", "retry": {"max_attempts": 0}}, "field “retry.max_attempts”"),
        (
            {"name": "Echo", "retry": {"backoff_coefficient": 99}},
            "field “retry.backoff_coefficient”",
        ),
        ({"name": ""}, "field “name”"),
        ({"name": "Echo", "tier": "forever"}, "field “tier”"),
        ({"name": "Echo", "status": "on"}, "field “status”"),
        ({"name": "Echo", "colour": "red"}, "unknown field “colour”"),
        ({"name": "Echo", "retry": {"tries": 3}}, "unknown field “retry.tries”"),
        ({"description": "no name"}, "field “name” is required"),
    ],
)
def test_invalid_config_is_refused_naming_the_field_and_nothing_is_imported(
    tmp_path, cast, config, fragment
):
    write(tmp_path, "aaa-good", {"name": "Good"})
    write(tmp_path, "bad", config)
    with pytest.raises(CommandError) as exc:
        run("import", str(tmp_path), "--space", cast.space.slug, "--publish")
    assert fragment in str(exc.value) and "bad.json" in str(exc.value)
    assert "Nothing was imported" in str(exc.value)
    assert not Workflow.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="workflow.").exists()


def test_broken_files_are_refused(tmp_path, cast):
    (tmp_path / "broken.json").write_text("{nope")
    (tmp_path / "broken.js").write_text("")
    with pytest.raises(CommandError, match="not valid JSON"):
        run("import", str(tmp_path), "--space", cast.space.slug)
    (tmp_path / "broken.json").unlink()
    (tmp_path / "lonely.json").write_text('{"name": "Lonely"}')
    with pytest.raises(CommandError, match=r"lonely\.js is missing"):
        run("import", str(tmp_path), "--space", cast.space.slug)
    (tmp_path / "Bad_Name.json").write_text('{"name": "x"}')
    with pytest.raises(CommandError, match="the file name is the slug"):
        run("import", str(tmp_path / "Bad_Name.json"), "--space", cast.space.slug)
    with pytest.raises(CommandError, match="No Space"):
        run("import", str(tmp_path), "--space", "nope")
    assert not Workflow.objects.exists()


def test_import_refuses_code_over_one_megabyte(tmp_path, cast):
    write(tmp_path, "big", {"name": "Big"}, code="/" * (1024 * 1024 + 1))
    with pytest.raises(CommandError, match="field “code”"):
        run("import", str(tmp_path), "--space", cast.space.slug)


def test_import_publish_and_deploy_is_idempotent(tmp_path, cast):
    write(tmp_path, "echo", {"name": "Echo"})
    output = run(
        "import", str(tmp_path), "--space", cast.space.slug, "--publish", "--deploy", "live"
    )
    assert "published echo v1" in output and "deployed  echo v1 → live" in output
    workflow = Workflow.objects.get()
    assert workflow.deployments.get().version.number == 1
    again = run(
        "import", str(tmp_path), "--space", cast.space.slug, "--publish", "--deploy", "live"
    )
    assert "Nothing to change" in again
    assert WorkflowVersion.objects.count() == 1
    write(tmp_path, "echo", {"name": "Echo"}, code="// v2\n")
    run("import", str(tmp_path), "--space", cast.space.slug, "--publish", "--deploy", "live")
    assert workflow.deployments.get().version.number == 2


def test_deploy_without_a_published_version_is_refused(tmp_path, cast):
    write(tmp_path, "echo", {"name": "Echo"})
    with pytest.raises(CommandError, match="no published version"):
        run("import", str(tmp_path), "--space", cast.space.slug, "--deploy", "live")
    assert not Workflow.objects.exists()
    with pytest.raises(CommandError, match="No environment"):
        run("import", str(tmp_path), "--space", cast.space.slug, "--deploy", "mars")


def test_deploy_to_test_needs_only_publish(tmp_path, cast):
    write(tmp_path, "echo", {"name": "Echo"})
    output = run(
        "import", str(tmp_path), "--space", cast.space.slug, "--publish", "--deploy", "test"
    )
    assert "test serves the latest published version" in output
    assert not Workflow.objects.get().deployments.exists()


# --- Sample workflows -----------------------------------------------------------------------


def test_seed_demo_creates_sample_workflows_once(db):
    call_command("seed_demo", stdout=StringIO())
    workflows = {w.slug: w for w in Workflow.objects.all()}
    assert set(workflows) == {"echo", "dedupe-lead", "github-repo"}
    assert "fastn.state.get" in workflows["dedupe-lead"].draft_code
    assert "fastn.connector.http.request" in workflows["github-repo"].draft_code
    space = workflows["echo"].space
    assert workflows["echo"].deployments.get().environment == environment_by_slug(space, "live")
    assert workflows["dedupe-lead"].versions.count() == 1
    assert not workflows["github-repo"].versions.exists()
    call_command("seed_demo", stdout=StringIO())
    assert Workflow.objects.count() == 3 and WorkflowVersion.objects.count() == 2


def test_samples_skip_existing_slugs(cast, make_workflow):
    make_workflow("Mine", slug="echo", code="// mine\n")
    assert seed_sample_workflows(cast.space) == ["dedupe-lead", "github-repo"]
    assert Workflow.objects.get(slug="echo").draft_code == "// mine\n"
    assert DEFAULT_CODE not in Workflow.objects.get(slug="dedupe-lead").draft_code
