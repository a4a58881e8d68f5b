"""Property: no input makes the console or the API answer 5xx.

Random JSON (huge and deep numbers, NaN, NUL, lone surrogates, nesting thousands deep) and
random bytes are posted to every API endpoint (with a valid key and without) and to every
console URL (the URLconf is walked, so a new form is fuzzed without touching this file), as a
logged-in owner; random query strings go to every console page. Real PostgreSQL, Redis and a
real Celery worker: a valid input that reaches a run really runs (the Test tab and the Run
dialog wait for the instant queue).

Besides the random inputs, known troublemakers are always tried (hypothesis `example`s): each
form with every field holding one of them, each list page with every parameter wrong, the
execute API with each of them as its input.

Bounded: FASTN_FUZZ_EXAMPLES (default 6) random examples per route and property (query
strings: as many for the views that read request.GET, 2 for the others; four times as many per
API endpoint), derandomized so the suite is repeatable; FASTN_FUZZ_RANDOM=1 explores new inputs
on every run (FASTN_FUZZ_EXAMPLES=60 FASTN_FUZZ_RANDOM=1 for a longer hunt, a few minutes)."""

from __future__ import annotations

import inspect
import itertools
import json
import os
import string
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from django import forms as django_forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from apps.configs.services import config_create
from apps.connectors.models import Connector, OAuthApp
from apps.connectors.services.connections import create_connection
from apps.connectors.services.oauth_apps import oauth_app_create
from apps.environments.selectors import environment_by_slug
from apps.environments.services import environment_create
from apps.executions.services import execution_create
from apps.secrets.crypto import new_master_key_entry
from apps.secrets.services import secret_create
from apps.spaces.audit import Actor
from apps.spaces.models import Membership
from apps.spaces.services import apikey_create, customer_create, invitation_create, user_create
from apps.triggers.models import DeadLetter
from apps.triggers.pipeline.routing import event_route
from apps.triggers.services import RouteSpec, trigger_create, trigger_send_test
from apps.workflows.services import workflow_create, workflow_deploy, workflow_publish
from tests.conftest import login
from tests.connectors.factories import definition, make_connector

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("FASTN_FUZZ_EXAMPLES", "6"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=os.environ.get("FASTN_FUZZ_RANDOM") != "1",
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
FUZZ_IGNORED_QUERIES = settings(FUZZ, max_examples=2)
ECHO = "export default async function (ctx) {\n  return { input: ctx.input };\n}\n"

# --- Random inputs --------------------------------------------------------------------------

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 2^53 too; json_texts adds literals past Python's digit limit
    | st.floats()  # NaN, ±Infinity included
    | st.text(max_size=20)  # NUL and lone surrogates included
)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


# Known troublemakers, always tried (hypothesis `example`s) besides the random inputs.
NASTY_JSON = ["[" * 5000 + "]" * 5000, "7" * 5000, "NaN", "-Infinity", "1e999", '"a\\u0000"',
              '{"\\u0000": 1}', '"\\ud800"', str(2**63), '{"a":' * 70 + "1" + "}" * 70]  # fmt: skip


def deep(draw) -> str:
    depth = draw(st.integers(min_value=50, max_value=6000))
    opener, leaf, closer = draw(st.sampled_from([("[", "", "]"), ('{"a":', "1", "}")]))
    return opener * depth + leaf + closer * depth


@st.composite
def json_texts(draw) -> str:
    """JSON-ish text, mostly `{"input": …}`: random values (NaN, ±Infinity, big integers, NUL
    and lone surrogates among them), nesting far past any limit, integer literals of
    thousands of digits, and the known troublemakers."""
    kind = draw(st.sampled_from(["random", "random", "deep", "digits", "nasty"]))
    if kind == "digits":
        text = "9" * draw(st.integers(min_value=15, max_value=6000))
    elif kind == "deep":
        text = deep(draw)
    elif kind == "nasty":
        text = draw(st.sampled_from(NASTY_JSON))
    else:
        # ensure_ascii escapes NUL and surrogates; without it they are sent raw.
        ascii_only = draw(st.booleans())
        text = json.dumps(draw(json_values), ensure_ascii=ascii_only, allow_nan=True)
    return wrap_input(text) if draw(st.integers(0, 3)) else text


def wrap_input(text: str) -> str:
    return '{"input": ' + text + "}"


def utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


bodies = json_texts().map(utf8) | st.binary(max_size=600)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "text/plain",
        "application/json; charset=utf-16",
        "application/json; charset=nope",
        "application/x-www-form-urlencoded; charset=nope",
    ]
)


def form_fields_of(view) -> list[str]:
    """The POST fields a view reads: the fields of the forms its code names (or its
    `form_class`), and the string constants it uses (`request.POST.get("intent")`); "GET"
    among them when it reads its query string."""
    names = set()
    view_class = getattr(view, "view_class", None)
    form_class = getattr(view_class, "form_class", None)
    if isinstance(form_class, type) and issubclass(form_class, django_forms.BaseForm):
        names.update(form_class.base_fields)
    if view_class is not None:
        names.add("GET")  # class-based (allauth) views read ?next= and the like
    function = inspect.unwrap(view)
    code = getattr(function, "__code__", None)
    if code is not None:
        for name in code.co_names:
            value = function.__globals__.get(name)
            if isinstance(value, type) and issubclass(value, django_forms.BaseForm):
                names.update(value.base_fields)
        names.update(c for c in code.co_consts if isinstance(c, str) and c.isidentifier())
        if "request.GET" in inspect.getsource(inspect.getmodule(function)):
            names.add("GET")  # it (or a helper beside it) reads the query string
    if "ConfigForm" in getattr(code, "co_names", ()):
        names.update({"env_test", "env_live"})  # its per-environment fields
    return sorted(names | {"code", "input", "name"})


KNOWN_VALUES = ["instant", "standard", "long", "json", "text", "on", "publish", "live", "test",
                "viewer", "admin", "owner", "1", "-1", "0", "1e309", "NaN", str(2**70), ECHO,
                str(uuid.uuid4())]  # fmt: skip
field_values = (
    st.text(max_size=30) | json_texts() | st.sampled_from(KNOWN_VALUES) | st.integers().map(str)
)


def form_data(field_names: list[str]):
    """Each of the view's own fields present or not (so every example sends several of them),
    and a couple of unknown ones."""
    known = st.fixed_dictionaries({}, optional=dict.fromkeys(field_names, field_values))
    extra = st.dictionaries(st.text(max_size=10), field_values, max_size=2)
    return st.tuples(known, extra).map(lambda pair: {**pair[1], **pair[0]})


QUERY_KEYS = ["tab", "range", "workflow", "before", "page", "q", "tier", "user", "action",
              "execution", "next", "section", "source", "trigger", "customer"]  # fmt: skip
query_values = (
    st.text(max_size=40)
    | st.sampled_from(["abc", "-1", "0", "99999999999999999999", "1e9", "x|y", str(uuid.uuid4())])
    | st.datetimes(timezones=st.timezones()).map(lambda d: f"{d.isoformat()}|{uuid.uuid4()}")
    | st.datetimes().map(lambda d: f"{d.isoformat()}|{uuid.uuid4()}")
)


def encode(text: str) -> str:
    return quote(utf8(text))


@st.composite
def query_strings(draw) -> str:
    pairs = draw(st.fixed_dictionaries({}, optional=dict.fromkeys(QUERY_KEYS, query_values)))
    encoded = "&".join(f"{encode(k)}={encode(v)}" for k, v in pairs.items())
    raw = draw(st.text(alphabet=string.printable + "%", max_size=30))  # broken %-escapes too
    return draw(st.sampled_from([encoded, encoded, raw, f"{encoded}&{raw}"]))


# Always tried on the pages that read their query string: each parameter with a value it
# cannot take.
NASTY_QUERIES = [
    "tab=%00&range=%FF&workflow=abc&before=x|y&page=-1&q=%00&tier=nope&user=%ED%A0%80"
    "&action=%00&execution=abc&next=//evil.example&section=%00",
    f"workflow={uuid.uuid4()}&before=2026-13-45T00:00:00%2B00:00|{uuid.uuid4()}&page=99999999999",
    f"before=0001-01-01T00:00:00%2B14:00|{uuid.uuid4()}&page=1e9",
    "before=2026-01-01T00:00:00|not-a-uuid&workflow=" + "9" * 5000,
]


# --- The Space every URL is filled from -----------------------------------------------------


@dataclass
class World:
    """A Space with one of everything. `fresh(name)` makes a new object of the kind a URL
    keyword names, so deleting, revoking or transferring in one example leaves the next
    example something to work on."""

    cast: object
    workflow: object
    api_key: str
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def space(self):
        return self.cast.space

    def fresh(self, name: str):
        n = next(self.counter)
        space, actor = self.space, Actor.system("fuzz")
        if name == "space_slug":
            return space.slug
        if name == "workflow_id":  # published, for the version routes
            workflow = workflow_create(space, actor=actor, name=f"Fuzz {n}", tier="standard")
            workflow_publish(workflow, actor=actor)
            return workflow.id
        if name == "number":
            return 1
        if name == "execution_id":
            execution = execution_create(
                self.workflow, version=None, code=ECHO, input={}, headers={},
                triggered_by="manual", actor=actor,
            )  # fmt: skip
            return execution.id
        if name == "customer_id":
            return customer_create(space, name=f"C{n}", external_id=f"c{n}", actor=actor).id
        if name == "apikey_id":
            return apikey_create(space, name=f"k{n}", mode="test", actor=actor)[0].id
        if name == "secret_id":
            return secret_create(space, name=f"S_{n}", type="text", value="v", actor=actor).id
        if name == "config_id":
            return config_create(space, key=f"k{n}", values={}, actor=actor).id
        if name == "environment_id":
            return environment_create(space, name=f"env {n}", actor=actor).id
        if name == "membership_id":
            user = user_create(f"m{n}@example.com", "correct-horse-battery-staple")
            return Membership.objects.create(space=space, user=user, role="viewer").id
        if name == "invitation_id":
            invitation, _ = invitation_create(
                space, email=f"i{n}@example.com", role="viewer", invited_by=self.cast.owner,
                actor=actor,
            )  # fmt: skip
            return invitation.id
        if name in ("trigger_id", "event_id"):
            route = RouteSpec(workflow=self.workflow, environment="live", headers={}, filters=[])
            trigger = trigger_create(
                space, kind="webhook", fields={"name": f"T{n}"}, routes=[route], actor=actor
            )
            if name == "trigger_id":
                return trigger.id
            return trigger_send_test(trigger, body=b"{}", actor=actor).event.id
        if name == "dead_letter_id":  # a route to `live`, where its workflow is not deployed
            undeployed = workflow_create(space, actor=actor, name=f"Undeployed {n}")
            route = RouteSpec(workflow=undeployed, environment="live", headers={}, filters=[])
            trigger = trigger_create(space, kind="webhook", actor=actor, routes=[route],
                                     fields={"name": f"D{n}", "max_attempts": 1})  # fmt: skip
            event = trigger_send_test(trigger, body=b"{}", actor=actor).event
            event_route(event.id)
            return DeadLetter.objects.get(delivery__event=event).id
        if name == "connection_id":
            fuzz_connector(space)
            return create_connection(space, connector_slug="fuzz", name=f"C{n}",
                                     auth_method="BEARER", credential={"token": "t"},
                                     actor=actor).id  # fmt: skip
        if name == "app_id":
            fuzz_connector(space)
            OAuthApp.objects.filter(space=space, connector_slug="fuzz").delete()
            return oauth_app_create(space, connector_slug="fuzz", client_id=f"c{n}",
                                    client_secret="s", actor=actor).id  # fmt: skip
        return f"x{n}"  # tokens and keys of allauth's links


def fuzz_connector(space) -> None:
    """A connector with every auth method (OAuth 2.0 at a closed loopback port)."""
    if not Connector.objects.filter(space=space, slug="fuzz").exists():
        oauth = {
            "type": "OAUTH_2",
            "grantTypes": ["authorization_code", "client_credentials"],
            "authorizationUrl": "http://127.0.0.1:1/a",
            "tokenUrl": "http://127.0.0.1:1/t",
        }
        methods = [{"type": t} for t in ("NO_AUTH", "BASIC", "DIGEST", "BEARER", "API_KEY")]
        methods.append({"type": "INPUT", "fields": [{"name": "token", "secret": True}]})
        auth = {"default": "BEARER", "methods": [*methods, oauth]}
        test = {"action": "getThing", "params": {"id": "1"}}
        make_connector(space, definition("fuzz", auth=auth, test=test))


@pytest.fixture
def world(cast, settings, celery_worker) -> World:
    settings.FASTN_MASTER_KEY = new_master_key_entry("fuzz1")
    actor = Actor.system("fuzz")
    workflow = workflow_create(cast.space, actor=actor, name="Echo", tier="standard", code=ECHO)
    version = workflow_publish(workflow, actor=actor)
    workflow_deploy(
        workflow, version=version, environment=environment_by_slug(cast.space, "live"), actor=actor
    )
    _, raw = apikey_create(cast.space, name="fuzz", mode="live", actor=actor)
    customer_create(cast.space, name="Initech", external_id="initech", actor=actor)
    return World(cast=cast, workflow=workflow, api_key=raw)


def console_routes() -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """(url name, keyword names, POST field names) of every named console route; /api/ is
    fuzzed apart."""
    routes = []

    def walk(patterns, prefix_keywords: list[str], prefix: str):
        for pattern in patterns:
            keywords = prefix_keywords + list(pattern.pattern.regex.groupindex)
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, keywords, route)
            elif isinstance(pattern, URLPattern) and pattern.name and not route.startswith("api/"):
                fields = tuple(form_fields_of(pattern.callback))
                routes.append((pattern.name, tuple(keywords), fields))

    walk(get_resolver().url_patterns, [], "")
    return sorted(set(routes))


CONSOLE_ROUTES = console_routes()


def console_url(world: World, name: str, keywords) -> str | None:
    try:
        return reverse(name, kwargs={k: world.fresh(k) for k in keywords})
    except NoReverseMatch:
        return None


def assert_no_server_error(response, what: str):
    assert response.status_code < 500, f"{what} answered {response.status_code}"


# --- Properties -----------------------------------------------------------------------------
# Each route gets its own run of examples (an inner @given), so every form and page is fuzzed
# on every run, with one database set-up for all of them.


def test_the_route_walk_finds_every_console_form():
    names = {name for name, _, _ in CONSOLE_ROUTES}
    expected = {"workflow_test", "workflow_run", "workflow_save", "secret_create", "config_create",
                "customer_create", "environment_edit", "executions", "audit_log"}  # fmt: skip
    assert expected <= names
    fields = {name: set(fields) for name, _, fields in CONSOLE_ROUTES}
    assert {"input", "headers", "code"} <= fields["workflow_test"]
    assert {"name", "type", "value", "customer"} <= fields["secret_create"]
    assert {"intent", "tier", "timeout_seconds"} <= fields["workflow_save"]
    assert {"environment", "version"} <= fields["workflow_deploy"]


def test_no_console_post_answers_5xx(client, world):
    for name, keywords, fields in CONSOLE_ROUTES:
        login(client, world.cast.owner)  # again: the last route may have logged us out
        fuzz_post(client, world, name, keywords, fields)()


def fuzz_post(client, world, name, keywords, fields):
    @FUZZ
    @given(
        data=form_data(list(fields)),
        body=bodies,
        content_type=content_types,
        shape=st.sampled_from(["form", "form", "form+file", "raw"]),
        htmx=st.booleans(),
    )
    def post(data, body, content_type, shape, htmx):
        url = console_url(world, name, keywords)
        if url is None:
            return
        headers = {"HX-Request": "true"} if htmx else {}
        if shape == "raw":
            response = client.generic("POST", url, body, content_type=content_type, headers=headers)
        else:
            if shape == "form+file":
                data = {**data, "code": SimpleUploadedFile("w.js", body, "text/javascript")}
            response = client.post(url, data, headers=headers)
        assert_no_server_error(response, f"POST {url} ({shape})")

    # Every field of the form holding one troublemaker at a time (a field that wants JSON
    # gets it; the others have to refuse it politely).
    for text in (NASTY_JSON[0], NASTY_JSON[1], NASTY_JSON[2], NASTY_JSON[6]):
        nasty = dict.fromkeys(fields, text)
        post = example(nasty, b"", "application/json", "form", True)(post)
    return post


def test_no_console_page_answers_5xx_to_a_query_string(client, world):
    login(client, world.cast.owner)
    for name, keywords, fields in CONSOLE_ROUTES:
        if name != "account_logout":  # GET only asks to confirm; nothing to fuzz
            reads_query = "GET" in fields
            fuzz_get(client, world, name, keywords, reads_query)()


def fuzz_get(client, world, name, keywords, reads_query: bool):
    @(FUZZ if reads_query else FUZZ_IGNORED_QUERIES)
    @given(query=query_strings(), htmx=st.booleans())
    def get(query, htmx):
        url = console_url(world, name, keywords)
        if url is None:
            return
        headers = {"HX-Request": "true"} if htmx else {}
        response = client.get(url, QUERY_STRING=query, headers=headers)
        assert_no_server_error(response, f"GET {url}?{query}")

    for query in NASTY_QUERIES if reads_query else []:
        get = example(query, False)(get)
    return get


EXECUTION = "/api/v1/tenants/{space}/executions/{id}"
API_ENDPOINTS = [("POST", "/api/v1/echo"), ("POST", "/api/v1/{slug}"), ("GET", "/api/v1/echo"),
                 ("GET", "/api/v1/openapi.json"), ("GET", EXECUTION),
                 ("POST", f"{EXECUTION}/cancel"), ("PUT", "/api/v1/{slug}/{slug}"),
                 ("POST", "/api/v2/{slug}")]  # fmt: skip


def test_no_api_request_answers_5xx(client, world):
    for method, path in API_ENDPOINTS:
        fuzz_api(client, world, method, path)()


def fuzz_api(client, world, method, path):
    # Mostly headers that get past authentication, so the body is what is fuzzed; requests
    # are cheap, so more examples than a console route.
    @settings(FUZZ, max_examples=EXAMPLES * 4)
    @given(
        slug=st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True),
        body=bodies,
        content_type=content_types,
        with_key=st.sampled_from([True, True, True, True, True, False]),
        stage=st.sampled_from(["", "", "", "", "live", "DRAFT", "draft", "test", "nope", "a b"]),
        tenant=st.sampled_from([None, None, None, None, "initech", "unknown"]),
        idempotency_key=st.none() | st.none() | st.text(string.printable, max_size=300),
    )
    def call(slug, body, content_type, with_key, stage, tenant, idempotency_key):
        execution = execution_create(
            world.workflow, version=None, code=ECHO, input={}, headers={},
            triggered_by="api", actor=None,
        )  # fmt: skip
        url = path.format(slug=slug, space=world.space.id, id=execution.id)
        headers = {"x-fastn-space-id": str(world.space.id)}
        if with_key:
            headers["x-fastn-api-key"] = world.api_key
        if stage:
            headers["stage"] = stage
        if tenant is not None:
            headers["x-fastn-space-tenantid"] = tenant
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        response = client.generic(method, url, body, content_type=content_type, headers=headers)
        assert_no_server_error(response, f"{method} {url}")
        assert response["Content-Type"].startswith("application/json"), f"{method} {url}"

    for text in NASTY_JSON:
        body = utf8(wrap_input(text))
        call = example("echo", body, "application/json", True, "", None, None)(call)
        call = example("echo", body, "application/json", True, "DRAFT", "initech", "k1")(call)
    return call
