"""Home: a first-run guide for an empty Space, then recent workflows, the latest runs and the
last 24 hours' failures — only the current Space's, with a bounded number of queries, and
quick links that the member's role can use."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.executions.models import Execution, Status
from tests.conftest import login
from tests.executions.factories import make_workflow

HUBSPOT_401 = "Error: HubSpot said 401"
pytestmark = pytest.mark.django_db


def home(client, user, space) -> str:
    login(client, user)
    response = client.get(reverse("space_home", args=[space.slug]))
    assert response.status_code == 200
    return response.content.decode()


def make_run(workflow, status=Status.COMPLETED, *, ago=timedelta(minutes=5), error=None):
    return Execution.objects.create(
        space=workflow.space,
        workflow=workflow,
        workflow_name=workflow.name,
        tier=workflow.tier,
        timeout_seconds=workflow.timeout_seconds,
        triggered_by="api",
        status=status,
        error=error,
        queued_at=timezone.now() - ago,
        duration_ms=12.0,
    )


def test_empty_space_guides_a_builder_to_create_the_first_workflow(client, cast):
    body = home(client, cast.developer, cast.space)
    assert "Create your first workflow" in body
    assert reverse("workflow_create", args=[cast.space.slug]) in body
    assert 'data-testid="home-stats"' not in body


def test_empty_space_offers_a_viewer_nothing_it_cannot_do(client, cast):
    body = home(client, cast.viewer, cast.space)
    assert "No workflows yet" in body and "Create your first workflow" not in body
    assert reverse("workflow_create", args=[cast.space.slug]) not in body
    assert reverse("apikeys", args=[cast.space.slug]) not in body
    assert reverse("secrets", args=[cast.space.slug]) not in body
    assert "read workflows and their runs" in body


def test_home_shows_recent_workflows_latest_runs_and_todays_failures(client, cast):
    echo = make_workflow(cast.space, slug="echo", name="Echo")
    sync = make_workflow(cast.space, slug="sync-deals", name="Sync deals")
    make_run(echo, Status.COMPLETED)
    failed = make_run(sync, Status.FAILED, ago=timedelta(minutes=2),
                      error={"code": "RUNTIME_ERROR", "message": HUBSPOT_401})  # fmt: skip
    make_run(sync, Status.TIMEOUT, ago=timedelta(hours=3),
             error={"code": "TIMEOUT", "message": "Timed out after 10 s"})  # fmt: skip
    make_run(echo, Status.FAILED, ago=timedelta(days=2),
             error={"code": "RUNTIME_ERROR", "message": "old news"})  # fmt: skip
    body = home(client, cast.owner, cast.space)

    assert "Create your first workflow" not in body
    assert "Echo" in body and "Sync deals" in body
    assert reverse("workflow_editor", args=[cast.space.slug, sync.id]) in body
    assert reverse("execution_detail", args=[cast.space.slug, failed.id]) in body
    assert HUBSPOT_401 in body and "Timed out after 10 s" in body
    assert "old news" not in body  # failed two days ago: not in the last 24 hours
    stats = body.split('data-testid="stat-runs"')[1].split("</a>")[0]
    assert '<span class="home-stat-value">3</span>' in stats  # the 24 h window
    assert f"{reverse('executions', args=[cast.space.slug])}?tab=failed&amp;range=24h" in body


def test_home_never_shows_another_spaces_workflows_or_runs(client, cast):
    mine = make_workflow(cast.space, slug="mine", name="Mine")
    make_run(mine, Status.COMPLETED)
    theirs = make_workflow(cast.other_space, slug="theirs", name="Globex secret flow")
    for _ in range(3):
        make_run(theirs, Status.FAILED, error={"code": "RUNTIME_ERROR", "message": "globex boom"})
    body = home(client, cast.owner, cast.space)
    assert "Mine" in body
    assert "Globex secret flow" not in body and "globex boom" not in body
    assert str(theirs.id) not in body
    assert 'data-testid="no-failures"' in body
    assert '<span class="home-stat-value">1</span><span class="home-stat-label">Runs' in body
    # And the other way round: the outsider sees only Globex.
    theirs_body = home(client, cast.outsider, cast.other_space)
    assert "Globex secret flow" in theirs_body and ">Mine<" not in theirs_body


def count_home_queries(client, cast) -> int:
    login(client, cast.owner)
    client.get(reverse("space_home", args=[cast.space.slug]))  # first visit: session upkeep
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("space_home", args=[cast.space.slug])).status_code == 200
    return len(queries)


def test_home_costs_the_same_number_of_queries_whatever_the_history(client, cast):
    first = make_workflow(cast.space, slug="w0")
    make_run(first, Status.FAILED, error={"code": "X", "message": "m"})
    small = count_home_queries(client, cast)
    for n in range(1, 30):
        workflow = make_workflow(cast.space, slug=f"w{n}")
        make_run(workflow, Status.COMPLETED)
        make_run(workflow, Status.FAILED, error={"code": "X", "message": "m"})
    assert count_home_queries(client, cast) == small
    body = home(client, cast.owner, cast.space)
    assert body.count('class="home-row"') == 5 + 8 + 5  # workflows, runs, failures


@pytest.mark.parametrize(
    ("role", "create", "manage"),
    [("owner", True, True), ("developer", True, False), ("operator", False, False),
     ("viewer", False, False)],
)  # fmt: skip
def test_quick_links_follow_the_role(client, cast, role, create, manage):
    make_run(make_workflow(cast.space), Status.COMPLETED)
    body = home(client, cast.member(role), cast.space)
    assert (reverse("workflow_create", args=[cast.space.slug]) in body) is create
    assert (reverse("apikeys", args=[cast.space.slug]) in body) is manage
    assert ('data-testid="home-create"' in body) is create
