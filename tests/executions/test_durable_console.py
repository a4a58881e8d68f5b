"""The console side of durable runs (fastn.step): the detail page's steps timeline, the Pause /
Resume / Terminate / Restart buttons, "Send event", and the Waiting and Paused tabs. The rows are
made directly, as the runtime would leave them."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.executions.models import Execution, ExecutionStep, InstanceEvent
from apps.executions.services import execution_create
from apps.executions.timeline import VALUE_SHOWN, execution_timeline
from apps.spaces.models import AuditEvent
from tests.conftest import login
from tests.executions.factories import make_workflow

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def iso(moment) -> str:
    return moment.isoformat()


@pytest.fixture
def run(cast) -> Execution:
    """A durable run asleep between attempts, waiting for an "approved" event."""
    workflow = make_workflow(cast.space, tier="standard")
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    Execution.objects.filter(pk=execution.pk).update(
        status="waiting", attempts=2, max_attempts=3, replays=1, instance_id="order-42"
    )
    execution.refresh_from_db()
    return execution


def add_step(execution, name, status, *, kind="do", **fields) -> ExecutionStep:
    position = ExecutionStep.objects.filter(execution=execution).count()
    return ExecutionStep.objects.create(
        execution=execution, name=name, kind=kind, status=status, position=position, **fields
    )


def detail(execution, query=""):
    url = reverse("execution_detail", args=[execution.space.slug, execution.id])
    return url + (f"?{query}" if query else "")


def control_url(execution):
    return reverse("execution_control", args=[execution.space.slug, execution.id])


def event_url(execution):
    return reverse("execution_event_send", args=[execution.space.slug, execution.id])


def text_of(response) -> str:
    """The page as a person reads it: tags out, whitespace folded."""
    html = response.content.decode()
    return htmllib.unescape(" ".join(re.sub(r"<[^>]+>", " ", html).split()))


def step_item(html: str, name: str) -> str:
    match = re.search(rf'<li[^>]*data-step="{re.escape(name)}".*?</li>', html, re.S)
    assert match, f"no timeline step {name!r}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(0)).split())


# --- The timeline -------------------------------------------------------------------------------


def test_the_timeline_shows_each_step_as_it_is(client, cast, run):
    now = timezone.now()
    start = now - timedelta(minutes=5)
    add_step(
        run, "load order", "complete", line=2, output={"id": 42, "total": 99.5},
        config={"retries": {"limit": 3, "delay": 1000, "backoff": "exponential"}, "timeout": 30000},
        started_at=start, finished_at=start + timedelta(milliseconds=1500),
        attempts=[
            {"start": iso(start), "end": iso(start + timedelta(milliseconds=200)),
             "success": False, "error": {"name": "Error", "message": "upstream 503"}},
            {"start": iso(start + timedelta(seconds=1)),
             "end": iso(start + timedelta(milliseconds=1500)), "success": True, "error": None},
        ],
    )  # fmt: skip
    add_step(run, "cool off", "complete", kind="sleep",
             started_at=start, finished_at=start + timedelta(seconds=2))  # fmt: skip
    add_step(
        run, "charge card", "retrying", wake_at=now + timedelta(minutes=2),
        config={"retries": {"limit": 5, "delay": 10000, "backoff": "linear"}, "timeout": 60000},
        attempts=[{"start": iso(now), "end": iso(now), "success": False,
                   "error": {"name": "TypeError", "message": "card declined"}}],
    )  # fmt: skip
    add_step(run, "nap", "sleeping", kind="sleep", wake_at=now + timedelta(hours=3))
    add_step(run, "approval", "waiting", kind="waitForEvent", event_type="approved",
             started_at=now - timedelta(minutes=1), wake_at=now + timedelta(hours=1))  # fmt: skip
    add_step(run, "notify", "running", attempts=[{"start": iso(now), "end": None}])
    add_step(run, "ship", "errored", error={"name": "Error", "message": "no courier"},
             attempts=[{"start": iso(now), "end": iso(now), "success": False,
                        "error": {"name": "Error", "message": "no courier"}}] * 2)  # fmt: skip
    login(client, cast.viewer)

    response = client.get(detail(run))
    html = response.content.decode()

    assert response.status_code == 200
    names = re.findall(r'data-testid="timeline-step" data-step="([^"]+)"', html)
    assert names == ["load order", "cool off", "charge card", "nap", "approval", "notify", "ship"]
    done = step_item(html, "load order")
    assert "Done in 1.5s · 2 attempts" in done and "step.do · line 2" in done
    assert '{"id": 42, "total": 99.5}' in done.replace("&quot;", '"')
    assert "Retries 3, 1s apart, exponential backoff" in done and "Timeout 30s" in done
    assert "upstream 503" in done  # the failed first try, in its expandable row
    assert "Slept 2s" in step_item(html, "cool off")
    retry = step_item(html, "charge card")
    assert "Retry 1 of 5 at" in retry and "TypeError: card declined" in retry
    assert "Sleeping until" in step_item(html, "nap")
    wait = step_item(html, "approval")
    assert "Waiting for event approved since" in wait and "times out at" in wait
    assert "Running since" in step_item(html, "notify")
    assert "Failed after 2 attempts · Error: no courier" in step_item(html, "ship")
    page = text_of(response)
    assert "Status Waiting" in page and "Replays 1" in page and "Instance ID order-42" in page


def test_a_large_step_result_is_cut_in_the_database_not_sent_whole(client, cast, run):
    add_step(run, "big", "complete", output={"blob": "x" * (VALUE_SHOWN * 3)},
             finished_at=timezone.now())  # fmt: skip
    login(client, cast.viewer)

    html = client.get(detail(run)).content.decode()

    assert "x" * VALUE_SHOWN not in html
    assert "x" * (VALUE_SHOWN // 2) in html
    assert "the whole result is in the instances API" in html


def test_events_sent_to_the_run_are_listed_with_the_step_that_took_them(client, cast, run):
    InstanceEvent.objects.create(execution=run, type="approved", payload={"by": "ada"},
                                 taken_by="approval")  # fmt: skip
    InstanceEvent.objects.create(execution=run, type="note", payload=None)
    login(client, cast.viewer)

    html = client.get(detail(run)).content.decode()

    rows = re.findall(r"<tr><td><code>(\w+)</code>.*?</tr>", html, re.S)
    assert rows == ["approved", "note"]
    assert "<code>approval</code>" in html and "not yet" in html


def test_a_plain_run_keeps_cancel_and_shows_no_timeline_once_ended(client, cast):
    workflow = make_workflow(cast.space)
    execution = execution_create(
        workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    login(client, cast.operator)

    pending = client.get(detail(execution)).content.decode()
    assert 'data-testid="exec-cancel"' in pending
    assert not re.search(r'data-testid="exec-(pause|resume|terminate|restart)"', pending)
    assert 'data-testid="send-event"' in pending  # kept until a waitForEvent asks for it

    Execution.objects.filter(pk=execution.pk).update(status="completed")
    ended = client.get(detail(execution)).content.decode()
    assert "exec-timeline" not in ended and "exec-instance" not in ended


# --- The control buttons ------------------------------------------------------------------------


def buttons(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r'data-testid="exec-(cancel|pause|resume|terminate|restart)"', html)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"status": "waiting"}, ["pause", "terminate", "restart"]),
        ({"status": "pending", "replays": 1}, ["pause", "terminate", "restart"]),
        ({"status": "paused"}, ["resume", "terminate", "restart"]),
        ({"status": "running"}, ["pause", "terminate", "restart"]),
        ({"status": "running", "pause_requested": True}, ["resume", "terminate", "restart"]),
        ({"status": "running", "cancel_requested": True}, []),
        ({"status": "completed"}, ["restart"]),
        ({"status": "cancelled"}, ["restart"]),
    ],
)
def test_an_operator_sees_the_controls_that_apply(client, cast, run, fields, expected):
    Execution.objects.filter(pk=run.pk).update(**fields)
    login(client, cast.operator)
    assert buttons(client.get(detail(run))) == expected


def test_a_running_run_asked_to_pause_says_pausing(client, cast, run):
    Execution.objects.filter(pk=run.pk).update(status="running", pause_requested=True)
    login(client, cast.viewer)
    page = text_of(client.get(detail(run)))
    assert "Status Running Pausing…" in page


def test_a_viewer_sees_no_controls_and_no_event_form(client, cast, run):
    login(client, cast.viewer)
    response = client.get(detail(run))
    assert buttons(response) == []
    assert 'data-testid="send-event"' not in response.content.decode()


def test_an_operator_pauses_then_resumes_a_waiting_run(client, cast, run):
    login(client, cast.operator)

    paused = client.post(control_url(run), {"control": "pause"}, follow=True)
    run.refresh_from_db()
    assert run.status == "paused"
    assert "Paused. Resume to continue from the stored steps." in text_of(paused)
    assert buttons(paused) == ["resume", "terminate", "restart"]

    resumed = client.post(control_url(run), {"control": "resume"}, follow=True)
    run.refresh_from_db()
    assert run.status == "pending"
    assert "Resumed" in text_of(resumed)


def test_terminate_ends_a_waiting_run_and_restart_clears_its_steps(client, cast, run):
    add_step(run, "load order", "complete", output=1, finished_at=timezone.now())
    login(client, cast.operator)

    client.post(control_url(run), {"control": "terminate"})
    run.refresh_from_db()
    assert run.status == "cancelled" and run.instance_status == "terminated"

    response = client.post(control_url(run), {"control": "restart"}, follow=True)
    run.refresh_from_db()
    assert (run.status, run.replays, run.step_set.count()) == ("pending", 0, 0)
    assert "Restarted from the beginning" in text_of(response)


def test_a_control_that_no_longer_applies_is_said_on_the_page(client, cast, run):
    login(client, cast.operator)

    response = client.post(control_url(run), {"control": "resume"}, follow=True)

    assert response.status_code == 200
    assert "Cannot resume an instance that is waiting." in text_of(response)
    run.refresh_from_db()
    assert run.status == "waiting"


def test_an_unknown_control_changes_nothing(client, cast, run):
    login(client, cast.operator)
    response = client.post(control_url(run), {"control": "explode"}, follow=True)
    assert response.status_code == 200 and "Unknown control" in text_of(response)
    run.refresh_from_db()
    assert run.status == "waiting"


@pytest.mark.parametrize("name", ["execution_control", "execution_event_send"])
def test_a_viewer_gets_403_and_an_outsider_404_and_nothing_changes(client, cast, run, name):
    body = {"control": "pause", "type": "approved", "payload": "{}"}
    login(client, cast.viewer)
    assert client.post(reverse(name, args=[cast.space.slug, run.id]), body).status_code == 403
    assert AuditEvent.objects.filter(space=cast.space, action="access.denied").exists()
    login(client, cast.outsider)
    assert client.post(reverse(name, args=[cast.space.slug, run.id]), body).status_code == 404
    # Under the outsider's own Space: the id alone must not reach it.
    assert client.post(reverse(name, args=[cast.other_space.slug, run.id]), body).status_code == 404
    run.refresh_from_db()
    assert run.status == "waiting" and not run.event_set.exists()


# --- Send event ---------------------------------------------------------------------------------


def test_an_event_for_the_waiting_step_is_stored_and_wakes_the_run(client, cast, run):
    add_step(run, "approval", "waiting", kind="waitForEvent", event_type="approved")
    login(client, cast.operator)

    response = client.post(
        event_url(run), {"type": "approved", "payload": '{"by": "ada"}'}, follow=True
    )

    event = InstanceEvent.objects.get(execution=run)
    assert (event.type, event.payload, event.taken_by) == ("approved", {"by": "ada"}, "")
    assert "Event 'approved' sent." in text_of(response)
    run.refresh_from_db()
    assert run.status == "pending"  # woken: its next attempt takes the event


def test_an_empty_payload_sends_none(client, cast, run):
    login(client, cast.operator)
    client.post(event_url(run), {"type": "note", "payload": "  "})
    assert InstanceEvent.objects.get(execution=run).payload is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "approved", "payload": "{by: ada}"}, "The payload is not valid JSON"),
        ({"type": "approved", "payload": "[NaN]"}, "NaN"),
        ({"type": "", "payload": "{}"}, "This field is required."),
        ({"type": "x" * 101, "payload": "{}"}, "at most 100 characters"),
        ({"type": "order approved", "payload": "{}"}, "letters, digits and _ . : -"),
        ({"type": "big", "payload": '"' + "x" * 300_000 + '"'}, "this form sends up to 256 KB"),
    ],
)
def test_a_bad_event_is_a_form_error_and_nothing_is_stored(client, cast, run, body, message):
    login(client, cast.operator)

    response = client.post(event_url(run), body)

    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not InstanceEvent.objects.exists()
    # What was typed is kept, and the page still polls the page's own URL.
    html = response.content.decode()
    assert 'id="id_event_type"' in html
    assert f'hx-get="{detail(run)}?after=' in html


def test_an_event_for_an_ended_run_is_refused_on_the_page(client, cast, run):
    Execution.objects.filter(pk=run.pk).update(status="completed")
    login(client, cast.operator)

    response = client.post(event_url(run), {"type": "approved", "payload": "{}"}, follow=True)

    assert response.status_code == 200
    assert "Cannot send an event to an instance that is complete." in text_of(response)
    assert not InstanceEvent.objects.exists()


# --- The poll -----------------------------------------------------------------------------------


def test_the_poll_of_a_waiting_run_sends_the_timeline_only_when_it_changed(client, cast, run):
    add_step(run, "nap", "sleeping", kind="sleep", wake_at=timezone.now() + timedelta(hours=1))
    login(client, cast.viewer)
    page = client.get(detail(run)).content.decode()
    poll = re.search(r'hx-get="([^"]+)" hx-trigger="every 2s"', page)
    assert poll, "a waiting run's page polls (every 2 s)"
    url = poll.group(1).replace("&amp;", "&")

    same = client.get(url, headers=HTMX).content.decode()
    assert 'id="exec-timeline"' not in same and 'id="exec-facts"' in same

    ExecutionStep.objects.filter(execution=run).update(
        status="complete", finished_at=timezone.now()
    )
    changed = client.get(url, headers=HTMX).content.decode()
    assert 'id="exec-timeline" data-testid="exec-timeline" hx-swap-oob="true"' in changed
    assert "Slept" in changed

    # It wakes: the status changed, so the whole region comes back.
    Execution.objects.filter(pk=run.pk).update(status="pending")
    woke = client.get(url, headers=HTMX)
    assert woke.headers["HX-Retarget"] == "#live"
    assert 'hx-trigger="every 1s"' in woke.content.decode()


def test_the_page_costs_the_same_queries_with_many_steps_and_events(client, cast, run):
    login(client, cast.viewer)
    client.get(detail(run))
    with CaptureQueriesContext(connection) as few:
        client.get(detail(run))
    for n in range(40):
        add_step(run, f"step {n}", "complete", output={"n": n}, finished_at=timezone.now())
        InstanceEvent.objects.create(execution=run, type=f"e{n}", payload={"n": n})
    with CaptureQueriesContext(connection) as many:
        client.get(detail(run))
    # One more: the count of events beyond the newest ones shown.
    assert len(many) == len(few) + 1
    timeline = execution_timeline(run)
    assert len(timeline.steps) == 40 and timeline.event_count == 40
    assert [e.type for e, _ in timeline.events][-1] == "e39"


# --- Activity → Executions ----------------------------------------------------------------------


def test_waiting_and_paused_have_their_own_tabs_and_badges(client, cast, run):
    paused = execution_create(
        run.workflow, version=None, code=None, input={}, headers={}, triggered_by="api", actor=None
    )
    Execution.objects.filter(pk=paused.pk).update(status="paused")
    login(client, cast.viewer)
    url = reverse("executions", args=[cast.space.slug])

    response = client.get(url)
    counts = {tab: n for tab, _label, _q, n in response.context["tabs"]}
    assert (counts["waiting"], counts["paused"], counts["running"]) == ("1", "1", "0")
    html = response.content.decode()
    assert '<span class="badge badge-waiting">Waiting</span>' in html
    assert '<span class="badge badge-warning">Paused</span>' in html

    waiting = client.get(url + "?tab=waiting")
    assert [row.id for row in waiting.context["rows"]] == [run.id]
    assert [row.id for row in client.get(url + "?tab=paused").context["rows"]] == [paused.id]


def test_home_counts_waiting_and_paused_runs(client, cast, run):
    login(client, cast.viewer)
    page = text_of(client.get(reverse("space_home", args=[cast.space.slug])))
    assert "0 running or queued · 1 waiting" in page
