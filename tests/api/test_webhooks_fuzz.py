"""Property: no request makes the webhook receiver answer 5xx or log a traceback, and every
event it accepts can be routed.

Random header sets (the receiver's own headers — signatures, timestamps, event ids, keys,
content types, transfer encodings — with random values, among random others), random bodies
(bytes, JSON of every shape, text in several encodings, forms) go to a public trigger, an
API-key trigger and a signed trigger, each with filters and a deduplication path; the last
property routes every event it sends. Derandomized and bounded: FASTN_FUZZ_WEBHOOKS examples
per property (default 150, 600 requests, about 20 s on a busy 2-core machine);
FASTN_FUZZ_WEBHOOKS=2500 is the issue's run of 10,000 requests; FASTN_FUZZ_RANDOM=1 explores
new inputs."""

from __future__ import annotations

import json
import logging
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.secrets.services import secret_create
from apps.spaces.audit import Actor
from apps.triggers.models import Event, EventStatus, WebhookAuth
from apps.triggers.pipeline.routing import event_route
from apps.triggers.signatures import new_signing_secret
from tests.triggers.pipeline_fixtures import live_key, make_trigger, make_workflow, webhook_url

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FASTN_FUZZ_WEBHOOKS", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("FASTN_FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)  # fmt: skip

# Header values as WSGI hands them over: latin-1 text.
latin1 = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=80)
digits = st.integers(min_value=-(10**20), max_value=10**20).map(str)
KNOWN = {
    "x-fastn-signature": st.one_of(latin1, st.just("sha256=" + "0" * 64),
                                   st.text("0123456789abcdef,= ", max_size=140)),
    "x-fastn-timestamp": st.one_of(latin1, digits),
    "webhook-id": latin1,
    "webhook-timestamp": st.one_of(latin1, digits),
    "webhook-signature": st.one_of(latin1, st.text("v1,=+/ abcXYZ019", max_size=120)),
    "x-fastn-event-id": latin1,
    "idempotency-key": latin1,
    "x-fastn-key": st.one_of(latin1, st.just("fsk_live_x")),
    "x-fastn-api-key": latin1,
    "content-type": st.one_of(latin1, st.sampled_from([
        "application/json", "application/json; charset=utf-16", "text/plain",
        "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
        "application/octet-stream", "text/csv", "", "application/xml"])),
    "x-event": st.sampled_from(["order", "refund", "push"]),
}  # fmt: skip
header_name = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,30}", fullmatch=True)


@st.composite
def header_sets(draw) -> dict[str, str]:
    chosen = draw(st.sets(st.sampled_from(sorted(KNOWN))))
    headers = {name: draw(KNOWN[name]) for name in chosen}
    headers.update(draw(st.dictionaries(header_name, latin1, max_size=5)))
    return headers


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=25,
)  # fmt: skip
bodies = st.one_of(
    st.binary(max_size=400),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"type": st.sampled_from(["order", "refund"]), "total": json_values,
                           "order": st.fixed_dictionaries({"id": json_values})})
    .map(lambda v: json.dumps(v).encode()),
    st.tuples(st.text(max_size=60), st.sampled_from(["utf-8", "utf-16", "latin-1", "utf-32"]))
    .map(lambda pair: pair[0].encode(pair[1], "replace")),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4)
    .map(lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode("utf-8", "replace")),
    st.sampled_from([b"", b"null", b"[" * 5000, b'{"a": 1e999}', b'{"a": "\\u0000"}',
                     b'"\\ud800"', b"\xef\xbb\xbf{}", b'{"a":' * 3000]),
)  # fmt: skip

FILTERS = [
    {"path": "type", "operator": "eq", "value": "order"},
    {"path": "total", "operator": "gt", "value": 10},
    {"path": "$headers.x-event", "operator": "in", "value": ["order", "push"]},
]
SECRET = new_signing_secret()


@pytest.fixture
def triggers(cast):
    workflow = make_workflow(cast.space)
    routes = [{"workflow": workflow, "filters": [row]} for row in FILTERS] + [workflow]
    secret_create(cast.space, name="FUZZ_SECRET", type="text", value=SECRET, actor=Actor.system())
    return {
        "public": make_trigger(cast.space, routes, dedup_path="order.id", name="Public"),
        "keyed": make_trigger(cast.space, routes, auth=WebhookAuth.API_KEY, name="Keyed",
                              dedup_path="$headers.x-event"),
        "signed": make_trigger(cast.space, routes, signing_secret_name="FUZZ_SECRET",
                               name="Signed"),
    }  # fmt: skip


def send(client, trigger, body: bytes, headers: dict[str, str], *, route: bool = False):
    content_type = headers.pop("content-type", "application/json")
    response = client.post(webhook_url(trigger), data=body, content_type=content_type,
                           headers=headers)  # fmt: skip
    assert response.status_code < 500, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    if response.status_code == 202:
        assert body["status"] == "accepted"
        if route:
            routed = event_route(body["eventId"])
            assert routed.outcome in (EventStatus.DELIVERED, EventStatus.FILTERED)
    elif response.status_code == 200:
        assert body["duplicate"] is True
    else:
        assert set(body) >= {"code", "statusCode", "message"}
    return response


@pytest.fixture
def no_tracebacks(caplog):
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, [r.getMessage() for r in errors][:5]


@pytest.mark.parametrize("which", ["public", "keyed", "signed"])
def test_random_requests_never_answer_5xx(client, cast, triggers, no_tracebacks, which):
    trigger = triggers[which]
    key = live_key(cast.space)

    @FUZZ
    @given(body=bodies, headers=header_sets(), with_key=st.booleans())
    def check(body, headers, with_key):
        if with_key and which == "keyed":
            headers["x-fastn-key"] = key
        send(client, trigger, body, headers)

    check()


def test_random_bodies_of_accepted_events_route_and_run_inputs(client, triggers, no_tracebacks):
    """The public trigger accepts everything: each random body becomes an event and its runs'
    input (JSON, text or base64) without an error."""

    @FUZZ
    @given(body=bodies, content_type=KNOWN["content-type"])
    def check(body, content_type):
        response = send(
            client, triggers["public"], body, {"content-type": content_type}, route=True
        )
        assert response.status_code in (200, 202)

    check()
    assert Event.objects.filter(status=EventStatus.DELIVERED).exists()
