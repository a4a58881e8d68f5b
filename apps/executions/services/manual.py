"""Runs a person starts in the console and waits for: the Run dialog of the Workflows table and
the editor's Test tab, of a saved workflow or of one never created. Each is recorded as an
execution (manual) like any other run."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from apps.environments.models import DRAFT
from apps.executions.models import Execution
from apps.executions.services.waiting import execution_run_sync, execution_run_unsaved
from apps.spaces.audit import Actor
from apps.spaces.models import Space
from apps.workflows.models import NAME_MAX, TIER_LIMITS, Workflow
from apps.workflows.selectors import run_target
from apps.workflows.services import (
    WorkflowFields,
    code_size_error,
    defaults_for_new,
    workflow_validate,
)


def run_sync(workflow: Workflow, **kwargs) -> Execution:
    """The executions app's synchronous run (instant queue; records an Execution).

    Manual runs run once: a person is waiting in the browser to read the result or the
    error, so the retry policy (meant for unattended triggers) is left out of them."""
    return execution_run_sync(workflow, retry=False, **kwargs)


def workflow_run(workflow: Workflow, *, input: Any, headers: dict, actor: Actor) -> Execution:
    """The Run dialog of the Workflows table: the version deployed to live, else the latest
    published one, else the draft."""
    version, stage = run_target(workflow)
    return run_sync(
        workflow,
        code=None if version else workflow.draft_code,
        version=version,
        input=input,
        headers=headers,
        triggered_by="manual",
        actor=actor,
        customer=None,
        environment=stage,
    )


# What a run of a workflow that does not exist yet depends on: a missing name or a slug taken
# by another workflow stop Create, not Run.
RUN_FIELDS = ("tier", "timeout_seconds", "code")
NEW_WORKFLOW_NAME = "New workflow"


def workflow_unsaved(space: Space, fields: WorkflowFields) -> Workflow:
    """An unsaved Workflow holding the editor's fields, for a test run of a workflow that was
    never created. Raises ValidationError naming the fields a run depends on (tier, timeout,
    code) when they break the rules that Create applies."""
    values: dict[str, Any] = {**defaults_for_new(), **fields}
    try:
        cleaned: dict[str, Any] = dict(workflow_validate(space, values))  # type: ignore[arg-type]
    except ValidationError as exc:
        errors = {k: v for k, v in exc.message_dict.items() if k in RUN_FIELDS}
        if errors:
            raise ValidationError(errors) from None
        cleaned = values
    name = (cleaned.get("name") or "").strip()[:NAME_MAX] or NEW_WORKFLOW_NAME
    return Workflow(
        space=space,
        name=name,
        slug=cleaned.get("slug") or "",
        tier=cleaned["tier"],
        timeout_seconds=cleaned.get("timeout_seconds") or TIER_LIMITS[cleaned["tier"]][2],
        retry_enabled=False,
        draft_code=cleaned["code"],
    )


def workflow_test_run_new(
    space: Space, *, fields: WorkflowFields, input: Any, headers: dict, actor: Actor
) -> Execution:
    """The Test tab of a workflow that was never created: run the editor's code with its
    tier and timeout, as a draft, saving nothing but the execution record (manual, draft,
    like `workflow_test_run`; it names the workflow as typed and points at none)."""
    draft = workflow_unsaved(space, fields)
    return execution_run_unsaved(draft, input=input, headers=headers, actor=actor)


def workflow_test_run(
    workflow: Workflow, *, code: str, input: Any, headers: dict, actor: Actor
) -> Execution:
    """The editor's Test tab: run the editor's unsaved code as the draft. Recorded as an
    execution (manual, draft) like any other run."""
    problem = code_size_error(code)
    if problem:
        raise ValidationError({"code": problem})
    return run_sync(
        workflow,
        code=code,
        version=None,
        input=input,
        headers=headers,
        triggered_by="manual",
        actor=actor,
        customer=None,
        environment=DRAFT,
    )
