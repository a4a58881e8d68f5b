"""The demo's sample workflows run in the real runtime (through a Celery worker)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from apps.demo.samples import seed_sample_workflows
from apps.executions.services import manual
from apps.spaces.audit import Actor
from apps.workflows import services

pytestmark = pytest.mark.django_db(transaction=True)


def test_echo_validates_and_greets(cast, celery_worker):
    actor = Actor.for_user(cast.owner)
    seed_sample_workflows(cast.space, actor=actor)
    echo = cast.space.workflows.get(slug="echo")
    ok = manual.workflow_run(
        echo, input={"name": " Ada ", "tags": ["math"]}, headers={}, actor=actor
    )
    assert ok.status == "completed", ok.error
    assert ok.output["greeting"] == "Hello, Ada!" and ok.output["tags"] == ["math"]
    assert ok.version_number == 1 and ok.environment == "live"
    bad = manual.workflow_run(echo, input={"tags": "x"}, headers={}, actor=actor)
    assert bad.status == "failed"
    assert "input.name is required" in bad.error["message"]


def test_dedupe_remembers_leads_in_state(cast, celery_worker):
    actor = Actor.for_user(cast.owner)
    seed_sample_workflows(cast.space, actor=actor)
    dedupe = cast.space.workflows.get(slug="dedupe-lead")
    first = manual.workflow_run(dedupe, input={"email": "Ada@Example.com"}, headers={}, actor=actor)
    assert first.status == "completed", first.error
    assert first.output["skipped"] is False
    second = manual.workflow_run(
        dedupe, input={"email": "ada@example.com"}, headers={}, actor=actor
    )
    assert second.status == "completed", second.error
    assert second.output["skipped"] is True and second.output["reason"] == "already_processed"
    assert any(
        step["name"].startswith("fastn.state") or "state" in step["kind"] for step in second.steps
    )


def test_the_http_sample_validates_its_input_before_calling_out(cast, celery_worker):
    actor = Actor.for_user(cast.owner)
    seed_sample_workflows(cast.space, actor=actor)
    lookup = cast.space.workflows.get(slug="github-repo")
    run = manual.workflow_run(lookup, input={"repo": "not a repo"}, headers={}, actor=actor)
    assert (
        run.status == "failed" and 'input.repo must look like "owner/name"' in run.error["message"]
    )
    assert run.steps == []


def test_manual_runs_run_once_even_with_a_retry_policy(cast, celery_worker):
    actor = Actor.for_user(cast.owner)
    workflow = services.workflow_create(
        cast.space,
        name="Flaky",
        actor=actor,
        code="export default async () => { throw new Error('flaky'); };\n",
        retry_enabled=True,
    )
    assert workflow.retry_enabled and workflow.retry_max_attempts == 3
    run = manual.workflow_test_run(
        workflow, code=workflow.draft_code, input={}, headers={}, actor=actor
    )
    assert run.status == "failed" and run.attempts == 1 and run.max_attempts == 1
    workflow.refresh_from_db()
    assert workflow.retry_enabled  # the workflow itself keeps its policy


def test_the_samples_approved_test_cases_pass(cast):
    """The demo's test cases (echo, and the GitHub lookup with its HTTP call mocked) pass with
    `workflow test`, which needs no worker and no network."""
    seed_sample_workflows(cast.space, actor=Actor.for_user(cast.owner))
    out = StringIO()
    call_command("workflow", "test", "echo", "github-repo", "--space", cast.space.slug, stdout=out)
    assert "4 case(s): 4 passed, 0 failed." in out.getvalue(), out.getvalue()
