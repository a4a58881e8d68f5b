"""Which version serves which stage, the STATUS rule and the table's queries."""

from __future__ import annotations

from apps.environments.services import environment_create
from apps.workflows import services
from apps.workflows.selectors import (
    resolve_version,
    run_target,
    tier_counts,
    workflow_environments,
    workflow_is_active,
    workflow_rows,
)
from tests.workflows.conftest import edit_and_publish


def test_resolve_version_per_stage(make_workflow, actor, live, cast):
    workflow = make_workflow()
    assert resolve_version(workflow, "DRAFT") == "DRAFT"
    assert resolve_version(workflow, "draft") == "DRAFT"
    assert resolve_version(workflow, "test") is None
    assert resolve_version(workflow, "live") is None

    v1 = services.workflow_publish(workflow, actor=actor)
    v2 = edit_and_publish(workflow, actor, "// two\n")
    assert resolve_version(workflow, "test") == v2
    assert resolve_version(workflow, "live") is None

    services.workflow_deploy(workflow, version=v1, environment=live, actor=actor)
    assert resolve_version(workflow, "live") == v1
    assert resolve_version(workflow, "LIVE") == v1
    assert resolve_version(workflow, "test") == v2

    staging = environment_create(cast.space, name="Staging", actor=actor)
    assert resolve_version(workflow, "staging") is None
    services.workflow_deploy(workflow, version=v2, environment=staging, actor=actor)
    assert resolve_version(workflow, "staging") == v2
    assert resolve_version(workflow, "nowhere") is None


def test_resolve_version_never_crosses_spaces(make_workflow, actor, cast, live):
    mine = make_workflow()
    services.workflow_deploy(
        mine, version=services.workflow_publish(mine, actor=actor), environment=live, actor=actor
    )
    theirs = make_workflow(space=cast.other_space)
    assert resolve_version(theirs, "live") is None


def test_status_is_active_when_enabled_and_deployed_to_live(make_workflow, actor, live):
    workflow = make_workflow()
    assert not workflow_is_active(workflow)
    assert not workflow_is_active(workflow, "test")
    v1 = services.workflow_publish(workflow, actor=actor)
    assert not workflow_is_active(workflow)
    assert workflow_is_active(workflow, "test")
    services.workflow_deploy(workflow, version=v1, environment=live, actor=actor)
    assert workflow_is_active(workflow)
    services.workflow_update(workflow, expected_revision=None, actor=actor, enabled=False)
    workflow.refresh_from_db()
    assert not workflow_is_active(workflow)
    assert not workflow_is_active(workflow, "test")


def test_run_target_prefers_live_then_latest_then_draft(make_workflow, actor, live):
    workflow = make_workflow()
    assert run_target(workflow) == (None, "DRAFT")
    v1 = services.workflow_publish(workflow, actor=actor)
    v2 = edit_and_publish(workflow, actor, "// two\n")
    assert run_target(workflow) == (v2, "test")
    services.workflow_deploy(workflow, version=v1, environment=live, actor=actor)
    assert run_target(workflow) == (v1, "live")


def test_rows_carry_latest_and_live_numbers(make_workflow, actor, live, cast):
    a, b = make_workflow("A"), make_workflow("B")
    v1 = services.workflow_publish(a, actor=actor)
    edit_and_publish(a, actor, "// two\n")
    services.workflow_deploy(a, version=v1, environment=live, actor=actor)
    rows = {w.slug: w for w in workflow_rows(cast.space)}
    assert (rows["a"].latest_number, rows["a"].live_number) == (2, 1)
    assert (rows["b"].latest_number, rows["b"].live_number) == (None, None)
    assert b.slug in rows


def test_search_and_tier_filters_and_counts(make_workflow, cast):
    make_workflow("Sync deals", tier="standard")
    make_workflow("Import all", slug="backfill", tier="long")
    make_workflow("Echo")
    make_workflow("Echo", space=cast.other_space)
    assert [w.slug for w in workflow_rows(cast.space, q="SYNC")] == ["sync-deals"]
    assert [w.slug for w in workflow_rows(cast.space, q="backf")] == ["backfill"]
    assert [w.slug for w in workflow_rows(cast.space, tier="long")] == ["backfill"]
    assert tier_counts(cast.space) == {"all": 3, "instant": 1, "standard": 1, "long": 1}
    assert tier_counts(cast.space, q="e") == {"all": 2, "instant": 1, "standard": 1, "long": 0}


def test_environment_states_of_a_workflow(make_workflow, actor, live, cast):
    workflow = make_workflow()
    v1 = services.workflow_publish(workflow, actor=actor)
    services.workflow_deploy(
        workflow, version=v1, environment=live, actor=actor, deployed_by=cast.owner
    )
    states = {s.environment.slug: s for s in workflow_environments(workflow, latest_number=1)}
    assert states["test"].version_number == 1 and states["test"].follows_latest
    assert states["live"].version_number == 1
    assert states["live"].deployed_by == "owner@example.com"
