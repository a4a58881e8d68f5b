"""Who may cancel and re-run an execution from the console: an outsider gets 404, a viewer 403,
and neither changes anything; an operator may."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.executions.models import Execution
from apps.executions.services import execution_create
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent
from tests.conftest import login
from tests.executions.factories import make_workflow

ACTIONS = ["execution_cancel", "execution_rerun"]


@pytest.fixture
def execution(cast) -> Execution:
    """A pending run of the Space (never dispatched: the test's transaction is never
    committed, so nothing is queued)."""
    workflow = make_workflow(cast.space)
    return execution_create(
        workflow,
        version=None,
        code=workflow.draft_code,
        input={"name": "Ada"},
        headers={},
        triggered_by="manual",
        actor=Actor.system("test"),
    )


def state(execution: Execution) -> tuple:
    execution.refresh_from_db()
    rows = Execution.objects.filter(space=execution.space).count()
    return execution.status, execution.cancel_requested, rows


@pytest.mark.parametrize("action", ACTIONS)
def test_an_outsider_gets_404_and_changes_nothing(client, cast, execution, action):
    before = state(execution)
    login(client, cast.outsider)

    theirs = client.post(reverse(action, args=[cast.space.slug, execution.id]))
    # Under the outsider's own Space, where they are Owner: the id alone must not reach it.
    own = client.post(reverse(action, args=[cast.other_space.slug, execution.id]))

    assert (theirs.status_code, own.status_code) == (404, 404)
    assert state(execution) == before


@pytest.mark.parametrize("action", ACTIONS)
def test_a_viewer_gets_403_and_changes_nothing(client, cast, execution, action):
    before = state(execution)
    login(client, cast.viewer)

    response = client.post(reverse(action, args=[cast.space.slug, execution.id]))

    assert response.status_code == 403
    assert state(execution) == before
    denied = AuditEvent.objects.get(space=cast.space, action="access.denied")
    assert denied.detail == {"capability": "operate", "method": "POST"}


@pytest.mark.parametrize("action", ACTIONS)
def test_a_get_is_refused_without_acting(client, cast, execution, action):
    before = state(execution)
    login(client, cast.owner)

    response = client.get(reverse(action, args=[cast.space.slug, execution.id]))

    assert response.status_code == 405
    assert state(execution) == before


def test_an_operator_cancels_a_pending_execution(client, cast, execution):
    login(client, cast.operator)

    response = client.post(reverse("execution_cancel", args=[cast.space.slug, execution.id]))

    assert response.status_code == 302
    assert response["Location"] == reverse("execution_detail", args=[cast.space.slug, execution.id])
    execution.refresh_from_db()
    assert execution.status == "cancelled"


def test_an_operator_reruns_an_execution_with_the_same_input(client, cast, execution):
    login(client, cast.operator)

    response = client.post(reverse("execution_rerun", args=[cast.space.slug, execution.id]))

    rerun = Execution.objects.exclude(id=execution.id).get(space=cast.space)
    assert response.status_code == 302
    assert response["Location"] == reverse("execution_detail", args=[cast.space.slug, rerun.id])
    assert (rerun.workflow_id, rerun.input, rerun.draft_code) == (
        execution.workflow_id,
        {"name": "Ada"},
        execution.draft_code,
    )
    assert rerun.status == "pending"
