"""Workflow services: validation, drafts and revisions, publishing, deploying, restoring."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.environments.selectors import environment_by_slug
from apps.environments.services import environment_create
from apps.spaces.models import AuditEvent
from apps.workflows import services
from apps.workflows.models import DEFAULT_CODE, MAX_CODE_BYTES, Workflow, WorkflowVersion
from tests.workflows.conftest import edit_and_publish


def errors_of(exc: ValidationError) -> dict:
    return exc.value.message_dict


# --- Create and validation ------------------------------------------------------------------


def test_create_starts_from_the_default_template_with_a_slug_from_the_name(make_workflow, cast):
    workflow = make_workflow("Sync New Deals → Gamma!")
    assert workflow.slug == "sync-new-deals-gamma"
    assert workflow.draft_code == DEFAULT_CODE
    assert "export default async function (ctx)" in DEFAULT_CODE
    assert (workflow.tier, workflow.timeout_seconds) == ("instant", 60)
    assert not workflow.retry_enabled and workflow.retry_delays_ms() == []  # Retry off
    assert workflow.draft_revision == 1 and workflow.edited_via == "manual"
    event = AuditEvent.objects.get(action="workflow.create")
    assert event.resource_id == str(workflow.id) and event.space == cast.space


def test_create_uses_the_tier_default_timeout(make_workflow):
    assert make_workflow("L", tier="long").timeout_seconds == 21600
    assert make_workflow("S", tier="standard").timeout_seconds == 900


def test_a_clashing_slug_is_refused_with_a_clear_error(make_workflow):
    make_workflow("Echo")
    with pytest.raises(ValidationError) as exc:
        make_workflow("Echo")
    assert "already uses the slug “echo”" in errors_of(exc)["slug"][0]
    assert Workflow.objects.count() == 1


def test_the_same_slug_is_fine_in_another_space(make_workflow, cast):
    make_workflow("Echo")
    assert make_workflow("Echo", space=cast.other_space).slug == "echo"


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"name": ""}, "name", "Give the workflow a name"),
        ({"name": "   "}, "name", "Give the workflow a name"),
        ({"name": "x" * 121}, "name", "120 characters"),
        ({"description": "d" * 1001}, "description", "1000 characters"),
        ({"slug": "Not A Slug"}, "slug", "lowercase"),
        ({"slug": "under_score"}, "slug", "lowercase"),
        ({"slug": "s" * 81}, "slug", "80 characters"),
        ({"tier": "eternal"}, "tier", "Instant, Standard or Long"),
        ({"tier": "instant", "timeout_seconds": 121}, "timeout_seconds", "between 1 s and 2 min"),
        ({"tier": "instant", "timeout_seconds": 0}, "timeout_seconds", "1–120 seconds"),
        ({"tier": "standard", "timeout_seconds": 4}, "timeout_seconds", "5–900 seconds"),
        ({"tier": "long", "timeout_seconds": 21601}, "timeout_seconds", "30–21600"),
        ({"retry_max_attempts": 0}, "retry_max_attempts", "between 1 and 10"),
        ({"retry_max_attempts": 11}, "retry_max_attempts", "between 1 and 10"),
        ({"retry_initial_interval_ms": 99}, "retry_initial_interval_ms", "between 100"),
        ({"retry_backoff_coefficient": 0.5}, "retry_backoff_coefficient", "between 1 and 10"),
        ({"retry_backoff_coefficient": float("nan")}, "retry_backoff_coefficient", "a number"),
        ({"retry_max_interval_ms": 86_400_001}, "retry_max_interval_ms", "between"),
        (
            {"retry_initial_interval_ms": 9000, "retry_max_interval_ms": 8000},
            "retry_max_interval_ms",
            "cannot be shorter than the initial interval",
        ),
        ({"code": "x" * (MAX_CODE_BYTES + 1)}, "code", "the limit is 1,048,576 bytes"),
        ({"code": "é" * (MAX_CODE_BYTES // 2 + 1)}, "code", "1 MB"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_saved(
    make_workflow, fields, field, fragment
):
    fields = {"name": "Valid", **fields}
    with pytest.raises(ValidationError) as exc:
        make_workflow(**fields)
    assert fragment in errors_of(exc)[field][0]
    assert not Workflow.objects.exists()
    assert not AuditEvent.objects.filter(action="workflow.create").exists()


def test_code_of_exactly_one_megabyte_is_accepted(make_workflow):
    workflow = make_workflow(code="/" * MAX_CODE_BYTES)
    assert workflow.code_bytes == MAX_CODE_BYTES


# --- Saving the draft -----------------------------------------------------------------------


def test_save_bumps_the_revision_and_audits_the_changed_fields(make_workflow, actor):
    workflow = make_workflow()
    result = services.workflow_update(
        workflow, expected_revision=1, actor=actor, code="export default async () => 1;\n"
    )
    assert result.changed == ["code"]
    assert result.workflow.draft_revision == 2
    assert AuditEvent.objects.get(action="workflow.update").detail["changed"] == ["code"]
    assert not WorkflowVersion.objects.exists()


def test_saving_nothing_changed_writes_nothing(make_workflow, actor):
    workflow = make_workflow()
    result = services.workflow_update(workflow, expected_revision=1, actor=actor, name="Echo")
    assert result.changed == []
    workflow.refresh_from_db()
    assert workflow.draft_revision == 1
    assert not AuditEvent.objects.filter(action="workflow.update").exists()


def test_a_stale_save_is_refused_instead_of_overwriting(make_workflow, actor):
    workflow = make_workflow()
    services.workflow_update(workflow, expected_revision=1, actor=actor, code="// tab one\n")
    with pytest.raises(services.StaleDraft) as exc:
        services.workflow_update(workflow, expected_revision=1, actor=actor, code="// tab two\n")
    assert exc.value.current.draft_revision == 2
    workflow.refresh_from_db()
    assert workflow.draft_code == "// tab one\n"


def test_invalid_save_changes_nothing(make_workflow, actor):
    workflow = make_workflow()
    with pytest.raises(ValidationError):
        services.workflow_update(
            workflow, expected_revision=1, actor=actor, name="", code="// new\n"
        )
    workflow.refresh_from_db()
    assert workflow.name == "Echo" and workflow.draft_code == DEFAULT_CODE
    assert workflow.draft_revision == 1


def test_slug_is_editable_until_the_first_publish(make_workflow, actor):
    workflow = make_workflow()
    result = services.workflow_update(workflow, expected_revision=1, actor=actor, slug="echo-2")
    assert result.workflow.slug == "echo-2"
    services.workflow_publish(workflow, actor=actor)
    with pytest.raises(ValidationError) as exc:
        services.workflow_update(workflow, expected_revision=None, actor=actor, slug="echo-3")
    assert "cannot change after the first publish" in errors_of(exc)["slug"][0]


def test_renaming_after_publish_keeps_the_slug(make_workflow, actor):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    result = services.workflow_update(
        workflow, expected_revision=None, actor=actor, name="Echo v2", slug=""
    )
    assert (result.workflow.name, result.workflow.slug) == ("Echo v2", "echo")


def test_renaming_to_a_clashing_slug_is_refused(make_workflow, actor):
    make_workflow("Taken")
    workflow = make_workflow("Free")
    with pytest.raises(ValidationError) as exc:
        services.workflow_update(workflow, expected_revision=1, actor=actor, slug="taken")
    assert "already uses" in errors_of(exc)["slug"][0]


def test_edited_via_follows_who_changed_the_code(make_workflow, actor):
    workflow = make_workflow()
    services.workflow_update(
        workflow, expected_revision=None, actor=actor, edited_via="agent", code="// agent\n"
    )
    workflow.refresh_from_db()
    assert workflow.edited_via == "agent"
    services.workflow_update(workflow, expected_revision=None, actor=actor, code="// me\n")
    workflow.refresh_from_db()
    assert workflow.edited_via == "manual"


# --- Publishing -----------------------------------------------------------------------------


def test_publish_freezes_code_and_configuration_as_the_next_version(make_workflow, actor, cast):
    workflow = make_workflow(description="first")
    v1 = services.workflow_publish(workflow, actor=actor, created_by=cast.owner)
    assert v1.number == 1 and v1.code == DEFAULT_CODE
    assert v1.config["description"] == "first"
    assert v1.config["retry"] == {
        "enabled": False,
        "max_attempts": 3,
        "initial_interval_ms": 5000,
        "backoff_coefficient": 2.0,
        "max_interval_ms": 60000,
    }
    assert v1.created_by == cast.owner
    services.workflow_update(workflow, expected_revision=None, actor=actor, description="second")
    v2 = services.workflow_publish(workflow, actor=actor)
    assert v2.number == 2 and v2.config["description"] == "second"
    v1.refresh_from_db()
    assert v1.config["description"] == "first"
    assert AuditEvent.objects.filter(action="workflow.publish").count() == 2


def test_publish_refuses_unchanged_draft(make_workflow, actor):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    with pytest.raises(ValidationError, match="Nothing changed since v1"):
        services.workflow_publish(workflow, actor=actor)
    assert WorkflowVersion.objects.count() == 1


def test_a_configuration_change_alone_is_worth_a_version(make_workflow, actor):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    services.workflow_update(workflow, expected_revision=None, actor=actor, enabled=False)
    assert services.workflow_publish(workflow, actor=actor).number == 2


def test_publishing_again_after_reverting_is_allowed(make_workflow, actor):
    """Changed back to v1's content after v2: still different from the latest (v2)."""
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    edit_and_publish(workflow, actor, "// two\n")
    services.workflow_update(workflow, expected_revision=None, actor=actor, code=DEFAULT_CODE)
    assert services.workflow_publish(workflow, actor=actor).number == 3


# --- Deploying ------------------------------------------------------------------------------


def test_deploy_to_live_then_roll_back(make_workflow, actor, live, cast):
    workflow = make_workflow()
    v1 = services.workflow_publish(workflow, actor=actor)
    v2 = edit_and_publish(workflow, actor, "// two\n")
    deployment = services.workflow_deploy(
        workflow, version=v2, environment=live, actor=actor, deployed_by=cast.owner
    )
    assert deployment.version == v2 and deployment.deployed_by == cast.owner
    services.workflow_deploy(workflow, version=v1, environment=live, actor=actor)
    assert workflow.deployments.get().version == v1
    rollback = AuditEvent.objects.filter(action="workflow.deploy").order_by("id").last()
    assert rollback.detail == {
        "environment": "live",
        "version": 1,
        "previous_version": 2,
        "rollback": True,
    }


def test_deploying_the_version_already_there_changes_nothing(make_workflow, actor, live):
    workflow = make_workflow()
    v1 = services.workflow_publish(workflow, actor=actor)
    services.workflow_deploy(workflow, version=v1, environment=live, actor=actor)
    services.workflow_deploy(workflow, version=v1, environment=live, actor=actor)
    assert AuditEvent.objects.filter(action="workflow.deploy").count() == 1


def test_test_needs_no_deployment(make_workflow, actor, cast):
    workflow = make_workflow()
    v1 = services.workflow_publish(workflow, actor=actor)
    test = environment_by_slug(cast.space, "test")
    with pytest.raises(ValidationError, match="always serves the latest published"):
        services.workflow_deploy(workflow, version=v1, environment=test, actor=actor)


def test_deploy_to_a_named_environment(make_workflow, actor, cast):
    staging = environment_create(cast.space, name="Staging", actor=actor)
    workflow = make_workflow()
    v1 = services.workflow_publish(workflow, actor=actor)
    services.workflow_deploy(workflow, version=v1, environment=staging, actor=actor)
    assert workflow.deployments.get().environment == staging


def test_deploy_refuses_a_foreign_environment_or_version(make_workflow, actor, cast):
    workflow = make_workflow()
    other = make_workflow("Other")
    v1 = services.workflow_publish(workflow, actor=actor)
    foreign_live = environment_by_slug(cast.other_space, "live")
    with pytest.raises(ValueError):
        services.workflow_deploy(workflow, version=v1, environment=foreign_live, actor=actor)
    with pytest.raises(ValueError):
        services.workflow_deploy(
            other, version=v1, environment=environment_by_slug(cast.space, "live"), actor=actor
        )


# --- Restore and delete ---------------------------------------------------------------------


def test_restore_copies_a_version_into_the_draft(make_workflow, actor):
    workflow = make_workflow(description="one")
    v1 = services.workflow_publish(workflow, actor=actor)
    services.workflow_update(
        workflow, expected_revision=None, actor=actor, description="two", code="// two\n"
    )
    services.workflow_publish(workflow, actor=actor)
    restored = services.workflow_restore(workflow, version=v1, actor=actor)
    assert restored.draft_code == DEFAULT_CODE and restored.description == "one"
    assert restored.draft_revision == 3
    assert AuditEvent.objects.get(action="workflow.restore").detail["version"] == 1
    assert services.workflow_publish(workflow, actor=actor).number == 3


def test_delete_is_audited(make_workflow, actor):
    workflow = make_workflow()
    workflow_id = str(workflow.id)
    services.workflow_delete(workflow, actor=actor)
    assert not Workflow.objects.exists()
    assert AuditEvent.objects.get(action="workflow.delete").resource_id == workflow_id


def test_publish_keeps_an_optional_release_note_of_at_most_500_characters(make_workflow, actor):
    workflow = make_workflow()
    with pytest.raises(ValidationError) as refused:
        services.workflow_publish(workflow, actor=actor, release_note="x" * 501)
    assert "500 characters" in refused.value.message_dict["release_note"][0]
    assert not WorkflowVersion.objects.exists()
    v1 = services.workflow_publish(workflow, actor=actor, release_note="x" * 500)
    assert v1.release_note == "x" * 500
    v2 = edit_and_publish(workflow, actor, "// two\n")
    assert v2.release_note == ""
