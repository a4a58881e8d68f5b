"""Activity → Executions and the detail page: filters that cannot break the page, bounded
queries, and the live trace of a running attempt (its poll, its stream, its redaction)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.environments.models import DRAFT
from apps.executions import live
from apps.executions.models import Execution, ExecutionAttempt
from apps.executions.selectors import ExecutionFilters, LiveCursor
from apps.executions.services import execution_create, execution_dispatch, execution_run_sync
from apps.secrets.services import secret_create
from apps.spaces.audit import Actor
from apps.spaces.services import customer_create
from tests.conftest import login
from tests.executions.factories import make_workflow

HTMX = {"HX-Request": "true"}


def add(space, workflow, count, **fields):
    now = timezone.now()
    Execution.objects.bulk_create(
        Execution(
            space=space, workflow=workflow, workflow_name=workflow.name, tier="instant",
            timeout_seconds=10, triggered_by="api", queued_at=now - timedelta(seconds=i + 1),
            **{"status": "completed", "duration_ms": 12.5, "attempts": 1, **fields},
        )
        for i in range(count)
    )  # fmt: skip


def list_url(space, query=""):
    return reverse("executions", args=[space.slug]) + (f"?{query}" if query else "")


def detail_url(execution, query=""):
    url = reverse("execution_detail", args=[execution.space.slug, execution.id])
    return url + (f"?{query}" if query else "")


def shown_ids(response) -> set[str]:
    return {str(row.id) for row in response.context["rows"]}


# --- Filters ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_customer_and_environment_filters_are_scoped_and_keep_the_cursor(client, cast):
    owner = Actor.for_user(cast.owner)
    alpha = customer_create(cast.space, name="Alpha", external_id="a", actor=owner)
    beta = customer_create(cast.space, name="Beta", external_id="b", actor=owner)
    workflow = make_workflow(cast.space)
    add(cast.space, workflow, 55, customer=alpha, environment="live")
    add(cast.space, workflow, 4, customer=beta, environment=DRAFT)
    login(client, cast.viewer)

    first = client.get(list_url(cast.space, f"customer={alpha.id}"))
    assert first.status_code == 200 and len(first.context["rows"]) == 50
    older = first.context["older_query"]
    assert f"customer={alpha.id}" in older and "before=" in older
    second = client.get(list_url(cast.space, older))
    assert len(second.context["rows"]) == 5
    assert shown_ids(first).isdisjoint(shown_ids(second))
    alpha_ids = set(map(str, Execution.objects.filter(customer=alpha).values_list("id", flat=True)))
    assert shown_ids(first) | shown_ids(second) == alpha_ids

    drafts = client.get(list_url(cast.space, f"environment={DRAFT}&customer={beta.id}"))
    assert len(drafts.context["rows"]) == 4
    tabs = {tab: query for tab, _label, query, _n in drafts.context["tabs"]}
    assert f"environment={DRAFT}" in tabs["cancelled"] and "before" not in tabs["cancelled"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "customer=not-a-uuid",
        "customer=00000000-0000-0000-0000-000000000000",
        "environment=nowhere",
        "environment=" + "x" * 500,
        "workflow=%00",
        "before=2026-01-01T00:00:00|nope",
        "before=" + "9" * 300,
        "tab=bogus&range=forever",
        "customer=&environment=&workflow=&before=",
    ],
)
def test_values_the_space_does_not_offer_are_ignored(client, cast, query):
    workflow = make_workflow(cast.space)
    add(cast.space, workflow, 3)
    login(client, cast.viewer)
    response = client.get(list_url(cast.space, query))
    assert response.status_code == 200
    assert len(response.context["rows"]) == 3
    assert response.context["filters"] == ExecutionFilters()


@pytest.mark.django_db
def test_another_spaces_customer_is_not_a_filter_here(client, cast):
    theirs = customer_create(cast.other_space, name="G", external_id="g", actor=Actor.system())
    mine = make_workflow(cast.space)
    add(cast.space, mine, 2)
    other = make_workflow(cast.other_space, slug="theirs")
    add(cast.other_space, other, 2, customer=theirs)
    login(client, cast.viewer)
    response = client.get(list_url(cast.space, f"customer={theirs.id}"))
    assert response.status_code == 200
    assert response.context["filters"].customer_id is None
    assert shown_ids(response) == set(
        map(str, Execution.objects.filter(space=cast.space).values_list("id", flat=True))
    )
    assert "G (g)" not in response.content.decode()


@pytest.mark.django_db
def test_cancelled_has_its_own_tab(client, cast):
    workflow = make_workflow(cast.space)
    add(cast.space, workflow, 2, status="cancelled")
    add(cast.space, workflow, 3, status="failed")
    login(client, cast.viewer)
    counts = {tab: n for tab, _label, _q, n in client.get(list_url(cast.space)).context["tabs"]}
    assert counts["cancelled"] == "2" and counts["failed"] == "3" and counts["all"] == "5"
    cancelled = client.get(list_url(cast.space, "tab=cancelled"))
    assert {row.status for row in cancelled.context["rows"]} == {"cancelled"}


# --- Query budget -------------------------------------------------------------------------------


def queries_of(client, url) -> list[dict]:
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return list(queries)


def count_queries(client, url, **headers) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, headers=headers).status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_with_many_executions(client, cast):
    owner = Actor.for_user(cast.owner)
    customer = customer_create(cast.space, name="Alpha", external_id="a", actor=owner)
    workflow = make_workflow(cast.space)
    add(cast.space, workflow, 3, customer=customer)
    login(client, cast.viewer)
    url = list_url(cast.space, f"customer={customer.id}&environment=live")
    client.get(url)  # the first request of a session does some one-time work
    few = count_queries(client, url)
    for n in range(5):
        extra = make_workflow(cast.space, slug=f"wf-{n}")
        add(cast.space, extra, 120, customer=customer, status="running" if n == 0 else "failed")
        customer_create(cast.space, name=f"C{n}", external_id=f"c{n}", actor=owner)
    many = count_queries(client, url)
    assert many == few, "\n".join(q["sql"][:120] for q in queries_of(client, url))
    # session, user, membership, space switcher; the filter form (3 lists, 1 check);
    # the page; eight capped tab counts.
    assert many <= 18
    assert count_queries(client, url, **HTMX) <= many


@pytest.mark.django_db
def test_the_detail_page_and_its_poll_cost_a_bounded_number_of_queries(client, cast):
    workflow = make_workflow(cast.space)
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    login(client, cast.viewer)
    client.get(detail_url(execution))  # the first request of a session does one-time work
    few = count_queries(client, detail_url(execution))
    for number in range(1, 6):
        ExecutionAttempt.objects.create(
            execution=execution, number=number, status="failed", duration_ms=5
        )
    Execution.objects.filter(pk=execution.pk).update(
        status="completed", attempts=5, logs=[{"level": "log", "message": "x", "time": ""}] * 500
    )
    assert count_queries(client, detail_url(execution)) == few
    assert count_queries(client, detail_url(execution, "after=running.5.0.0"), **HTMX) <= few


# --- The live trace -----------------------------------------------------------------------------


def push(execution, attempt, *, logs=(), steps=()):
    logs_key, steps_key = live.live_keys(execution.id, attempt)
    client = live.live_redis()
    for key, items in ((logs_key, logs), (steps_key, steps)):
        if items:
            client.rpush(key, *(json.dumps(item) for item in items))
            client.expire(key, 60)


def log(message):
    return {"level": "log", "message": message, "time": "2026-01-01T00:00:00.000Z"}


def step(name):
    return {"kind": "state", "name": name, "args": {}, "result": None, "error": None,
            "startedAt": "2026-01-01T00:00:00.000Z", "durationMs": 0.2}  # fmt: skip


@pytest.mark.django_db
def test_the_poll_answers_only_what_is_new_until_the_attempt_ends(client, cast):
    workflow = make_workflow(cast.space)
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    Execution.objects.filter(pk=execution.pk).update(
        status="running", attempts=1, started_at=timezone.now()
    )
    push(execution, 1, logs=[log("one"), log("two")], steps=[step("state.get")])
    login(client, cast.viewer)

    page = client.get(detail_url(execution)).content.decode()
    assert "one" in page and "two" in page and "state.get" in page
    assert 'hx-get="' in page and "after=running.1.2.1" in page
    assert 'data-testid="exec-cancel"' not in page  # a viewer cannot cancel

    push(execution, 1, logs=[log("three")])
    tail = client.get(detail_url(execution, "after=running.1.2.1"), headers=HTMX)
    body = tail.content.decode()
    assert "three" in body and ">one<" not in body and "two" not in body
    assert 'hx-swap-oob="beforeend:#exec-logs"' in body and "exec-steps" not in body
    assert "after=running.1.3.1" in body and "HX-Retarget" not in tail.headers

    # The attempt ended: the whole stored trace, once, in place of the live one.
    Execution.objects.filter(pk=execution.pk).update(
        status="completed", finished_at=timezone.now(), duration_ms=12,
        logs=[log("one"), log("two"), log("three"), log("four")], steps=[step("state.get")],
    )  # fmt: skip
    final = client.get(detail_url(execution, "after=running.1.3.1"), headers=HTMX)
    assert final.headers["HX-Retarget"] == "#live" and final.headers["HX-Reswap"] == "outerHTML"
    body = final.content.decode()
    assert "four" in body and "live-poll" not in body and 'id="exec-actions"' in body


@pytest.mark.django_db
@pytest.mark.parametrize("cursor", ["", "running", "running.x.1.1", "done.1.0.0", "running.-1.0.0"])
def test_a_cursor_this_page_did_not_make_shows_the_whole_region(client, cast, cursor):
    workflow = make_workflow(cast.space)
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    login(client, cast.viewer)
    response = client.get(detail_url(execution, f"after={cursor}"), headers=HTMX)
    assert response.status_code == 200 and response.headers["HX-Retarget"] == "#live"
    assert LiveCursor.parse(cursor) is None


@pytest.mark.django_db
def test_a_running_page_says_so_when_the_live_stream_cannot_be_read(client, cast, monkeypatch):
    workflow = make_workflow(cast.space)
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    Execution.objects.filter(pk=execution.pk).update(status="running", attempts=1)
    monkeypatch.setattr(live, "_client", redis.Redis(port=1, socket_connect_timeout=0.2))
    login(client, cast.viewer)
    response = client.get(detail_url(execution))
    assert response.status_code == 200
    assert 'data-testid="live-unavailable"' in response.content.decode()


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


WAIT = "await new Promise((resolve) => setTimeout(resolve, 3000));"


@pytest.mark.django_db(transaction=True)
def test_a_running_page_shows_live_logs_with_secrets_redacted(client, cast, celery_worker):
    secret = "sk-live-0123456789abcdef"
    secret_create(cast.space, name="API_TOKEN", type="text", value=secret, actor=Actor.system())
    code = f"""export default async () => {{
      const token = await fastn.secrets.get("API_TOKEN");
      console.log("calling with " + token);
      await fastn.state.set("last", token);
      {WAIT}
      return {{ done: true }};
    }}"""
    workflow = make_workflow(cast.space, tier="standard", timeout=20, code=code)
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    execution_dispatch(execution)
    login(client, cast.viewer)

    def running_page_with_the_log():
        page = client.get(detail_url(execution)).content.decode()
        running = Execution.objects.get(pk=execution.pk).status == "running"
        # The log line reaches the live trace before the state.set call that follows it.
        return page if running and "calling with" in page and "state.set" in page else None

    page = wait_for(running_page_with_the_log, timeout=45)  # the worker may start late when loaded
    assert secret not in page
    assert "calling with [REDACTED]" in page and "state.set" in page
    streamed = live.live_read(execution.id, 1)
    assert streamed is not None and secret not in repr(streamed)

    execution = wait_for(
        lambda: Execution.objects.filter(pk=execution.pk, status="completed").first()
    )
    # The stored trace is the runtime's, as before; the live one was a prefix of it.
    logs, steps = streamed
    assert execution.logs[: len(logs)] == logs and execution.steps[: len(steps)] == steps
    page = client.get(detail_url(execution)).content.decode()
    assert secret not in page and "calling with [REDACTED]" in page


def live_keys_of(execution_id) -> list[bytes]:
    return redis.Redis.from_url(settings.REDIS_URL).keys(f"fastn:execution-live:{execution_id}:*")


def test_a_young_run_is_not_streamed_and_an_ended_one_expires_soon():
    flusher = live.LiveFlusher()  # driven by hand here, no thread
    quick = live.LiveTrace("quick-run", 1, timeout_s=10)
    slow = live.LiveTrace("slow-run", 1, timeout_s=10)
    slow.started -= live.MIN_AGE_S
    flusher.traces |= {quick, slow}
    quick([log("hi")], [])
    slow([log("hello")], [step("state.get")])
    flusher.flush()
    assert live_keys_of("quick-run") == []  # ended before MIN_AGE_S: never touches Redis
    assert live.live_read("slow-run", 1) == ([log("hello")], [step("state.get")])

    for trace in (quick, slow):
        trace.__exit__(None, None, None)
    flusher.flush()
    assert flusher.traces == set() and live_keys_of("quick-run") == []
    client = live.live_redis()
    assert all(0 < client.ttl(key) <= live.ENDED_TTL_S for key in live.live_keys("slow-run", 1))


@pytest.mark.django_db(transaction=True)
def test_runs_finish_normally_while_the_live_stream_is_down(cast, celery_worker, monkeypatch):
    monkeypatch.setattr(live, "_client", redis.Redis(port=1, socket_connect_timeout=0.2))
    workflow = make_workflow(
        cast.space,
        code=f"export default async () => {{ console.log('a'); {WAIT} console.log('b'); }}",
    )
    execution = execution_run_sync(workflow, code=workflow.draft_code, input={}, headers={})
    assert execution.status == "completed"
    assert [entry["message"] for entry in execution.logs] == ["a", "b"]
