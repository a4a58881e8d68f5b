"""Every console URL of a Space, walked as an outsider and as a viewer.

The URLs come from the resolver, not from a list written here, so a new page is walked the day
it is added. Each path parameter is filled with a real object of the owner's Space; a pattern
with a parameter this file cannot fill, or a URL name without a rule for the viewer, fails the
walk instead of being skipped.

- An outsider (the Owner of another Space) gets 404 for every URL of the Space, and also for
  every URL of their own Space that carries an id of the first Space.
- A viewer gets what the role rules say (VIEWER below), never a 5xx, and a POST that the role
  may not make is refused and changes nothing in the database.
- The same POST made by the Owner does change the database: the bodies are ones the views
  accept, and the detector of changes can see a change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from apps.configs.services import config_create
from apps.connectors.models import ConnectorCall
from apps.connectors.services.connections import create_connection
from apps.connectors.services.connectors import connector_create
from apps.connectors.services.oauth_apps import oauth_app_create
from apps.environments.services import environment_create
from apps.executions.services import execution_create
from apps.secrets.crypto import new_master_key_entry
from apps.secrets.services import secret_create
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent, Membership
from apps.spaces.services import apikey_create, customer_create, invitation_create
from apps.testcases.services import case_create
from apps.triggers.models import DeadLetter
from apps.triggers.pipeline.routing import event_route
from apps.triggers.services import (
    RouteSpec,
    trigger_create,
    trigger_send_test,
    trigger_signing_enable,
)
from apps.workflows.services import defaults_for_new, fields_of, workflow_create, workflow_publish
from tests.conftest import login
from tests.connectors.factories import definition, make_connector

SPACE_PREFIX = "s/<slug:space_slug>/"


# --- The URLs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpaceUrl:
    name: str
    route: str
    params: tuple[str, ...]  # path parameters other than space_slug, in order


def space_urls() -> list[SpaceUrl]:
    """Every named pattern under s/<space_slug>/, with the path parameters it needs."""
    (space,) = (
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and str(p.pattern) == SPACE_PREFIX
    )
    found: list[SpaceUrl] = []

    def walk(patterns, route: str, params: tuple[str, ...]) -> None:
        for pattern in patterns:
            here = route + str(pattern.pattern)
            names = params + tuple(pattern.pattern.converters)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, here, names)
            elif isinstance(pattern, URLPattern):
                assert pattern.name, f"the pattern {here} has no name: give it one"
                found.append(SpaceUrl(pattern.name, here, names))

    walk(space.url_patterns, SPACE_PREFIX, ())
    return found


SPACE_URLS = space_urls()
BY_NAME = {url.name: url for url in SPACE_URLS}


# --- A Space with one of everything ---------------------------------------------------------


@dataclass
class World:
    space: Any
    workflow: Any
    version: Any
    execution: Any
    secret: Any
    config: Any
    customer: Any
    apikey: Any
    environment: Any
    invitation: Any
    membership: Any  # the developer's: the target of role changes, removal, transfer
    trigger: Any  # a webhook with signing on
    event: Any  # an event of that trigger, routed (its run is created, never dispatched)
    dead_letter: Any  # of a trigger whose route targets `live`, where nothing is deployed
    trace: Any  # a connector call of the execution
    connection: Any  # not its scope's default (Make default changes something)
    oauth_app: Any
    connector: Any  # a custom connector with one action, v1 not published
    case: Any  # a test case of the workflow


# How each path parameter is filled. A new parameter needs a line here.
PARAMS: dict[str, Callable[[World], Any]] = {
    "workflow_id": lambda w: w.workflow.id,
    "number": lambda w: w.version.number,
    "execution_id": lambda w: w.execution.id,
    "secret_id": lambda w: w.secret.id,
    "config_id": lambda w: w.config.id,
    "customer_id": lambda w: w.customer.id,
    "apikey_id": lambda w: w.apikey.id,
    "environment_id": lambda w: w.environment.id,
    "invitation_id": lambda w: w.invitation.id,
    "membership_id": lambda w: w.membership.id,
    "trigger_id": lambda w: w.trigger.id,
    "event_id": lambda w: w.event.id,
    "dead_letter_id": lambda w: w.dead_letter.id,
    "trace_id": lambda w: w.trace.id,
    "connection_id": lambda w: w.connection.id,
    "app_id": lambda w: w.oauth_app.id,
    "connector_slug": lambda w: w.connector.slug,
    "action_name": lambda w: "listContacts",
    "version_number": lambda w: w.connector.latest_version.number,
    "case_id": lambda w: w.case.id,
}

CODE = "export default async function (ctx) {\n  return { ok: true };\n}\n"
CONNECTOR = {
    "slug": "crm", "name": "CRM", "baseUrl": "https://crm.example.test",
    "actions": [{"name": "listContacts", "method": "GET", "path": "/contacts"}],
}  # fmt: skip
OPENAPI = (
    '{"openapi": "3.0.3", "info": {"title": "Tiny", "version": "1"}, "servers": [{"url": '
    '"https://tiny.example.test"}], "paths": {"/a": {"get": {"operationId": "getA", '
    '"responses": {"200": {"description": "ok"}}}}}}'
)


@pytest.fixture
def world(cast, settings) -> World:
    settings.FASTN_MASTER_KEY = new_master_key_entry("urls")
    system = Actor.system("test")
    space = cast.space
    workflow = workflow_create(space, actor=system, name="Echo", slug="echo", code=CODE)
    version = workflow_publish(workflow, actor=system)
    customer = customer_create(space, name="Initech", external_id="initech", actor=system)
    trigger = trigger_create(
        space,
        kind="webhook",
        fields={"name": "Orders", "webhook_id": "orders"},
        routes=[RouteSpec(workflow=workflow, environment="test", headers={}, filters=[])],
        actor=system,
    )
    trigger_signing_enable(trigger, actor=system)
    execution = execution_create(
        workflow, version=version, code=None, input={"n": 1}, headers={},
        triggered_by="manual", actor=system,
    )  # fmt: skip
    return World(
        space=space,
        workflow=workflow,
        version=version,
        execution=execution,
        secret=secret_create(
            space, name="API_TOKEN", type="text", value="s3cr3t", customer=None, actor=system
        ),
        config=config_create(space, key="REGION", values={"test": "eu"}, actor=system),
        customer=customer,
        apikey=apikey_create(space, name="CI", mode="test", actor=system)[0],
        environment=environment_create(space, name="Staging", actor=system),
        invitation=invitation_create(
            space, email="new@example.com", role="viewer", invited_by=cast.owner, actor=system
        )[0],
        membership=Membership.objects.get(space=space, user=cast.developer),
        trigger=trigger,
        event=routed(trigger_send_test(trigger, body=b'{"a": 1}', actor=system).event),
        dead_letter=dead_letter_of(space, workflow, system),
        trace=ConnectorCall.objects.create(
            space=space, execution=execution, connector_slug="http", action="request"
        ),
        connection=connections_of(space, system),
        oauth_app=oauth_app_create(
            space, connector_slug="acme", client_id="cid", client_secret="cs", actor=system
        ),
        connector=connector_create(space, definition=CONNECTOR, actor=system),
        case=case_create(workflow, data={"name": "Echoes"}, actor=system),
    )


def routed(event):
    event_route(event.id)
    return event


def dead_letter_of(space, workflow, actor):
    broken = trigger_create(
        space,
        kind="webhook",
        fields={"name": "Broken", "webhook_id": "broken", "max_attempts": 1},
        routes=[RouteSpec(workflow=workflow, environment="live", headers={}, filters=[])],
        actor=actor,
    )
    event = routed(trigger_send_test(broken, body=b'{"b": 1}', actor=actor).event)
    return DeadLetter.objects.get(delivery__event=event)


OAUTH = {"type": "OAUTH_2", "authorizationUrl": "http://127.0.0.1:1/authorize",
         "tokenUrl": "http://127.0.0.1:1/token"}  # fmt: skip


def connections_of(space, actor):
    """Two Bearer connections of a connector that also offers OAuth 2.0 (a second one,
    `beta`, offers only OAuth 2.0 and has no OAuth app yet); answers the non-default one."""
    auth = {"default": "BEARER", "methods": [{"type": "BEARER"}, OAUTH]}
    test = {"action": "getThing", "params": {"id": "1"}}  # port 1: the test fails, recorded
    make_connector(space, definition("acme", auth=auth, test=test))
    make_connector(space, definition("beta", auth={"methods": [OAUTH]}))
    for name in ("Main", "Second"):
        connection = create_connection(space, connector_slug="acme", name=name,
                                       auth_method="BEARER", credential={"token": "t"},
                                       actor=actor)  # fmt: skip
    return connection


def url_of(target: SpaceUrl, slug: str, world: World) -> str:
    missing = [name for name in target.params if name not in PARAMS]
    assert not missing, (
        f"{target.name} ({target.route}) takes {missing}: add to PARAMS in {__name__} how to "
        "fill it with an object of the Space"
    )
    kwargs = {name: PARAMS[name](world) for name in target.params}
    return reverse(target.name, kwargs={"space_slug": slug, **kwargs})


# --- What a viewer may do -------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    get: int  # what a viewer's GET answers (plain and htmx)
    post: int  # what a viewer's POST answers
    # A POST the Owner may make, which changes the database; None for a page that only reads.
    body: Callable[[World], dict] | None = None


NO_BODY: Callable[[World], dict] = lambda world: {}  # noqa: E731 - a body-less write
# A page that reads: its views ignore the method, so a POST renders the page too.
PAGE = Rule(get=200, post=200)
# A page that only managers may read.
MANAGERS_PAGE = Rule(get=403, post=403)


def form_body(fields: dict) -> dict:
    """Workflow fields as the editor's form posts them (an unchecked box is absent)."""
    return {
        key: "on" if value is True else value for key, value in fields.items() if value is not False
    }


def case_body(name: str) -> dict:
    return {"intent": "save", "name": name, "mode": "mock", "input": "{}", "headers": "{}",
            "expect_kind": "equals", "expected_output": "1"}  # fmt: skip


def save_body(world: World) -> dict:
    code = CODE.replace("true", "false")
    fields = {**fields_of(world.workflow), "code": code}
    return {**form_body(fields), "draft_revision": world.workflow.draft_revision}


def create_body(world: World) -> dict:
    return form_body({**defaults_for_new(), "name": "New one", "slug": "new-one"})


def route_body(world: World, **extra) -> dict:
    """One route to the world's workflow, as the trigger forms post it."""
    return {"route": ["n0"], "route-n0-workflow": str(world.workflow.id),
            "route-n0-environment": "test", **extra}  # fmt: skip


def webhook_body(world: World) -> dict:
    return {"name": "Hooks", "webhook_id": "", "auth": "api-key", "execution_mode": "parallel",
            "max_attempts": "3", "backoff": "fixed", **route_body(world)}  # fmt: skip


def scheduler_body(world: World) -> dict:
    return {"name": "Hourly", "preset": "interval", "every": "1", "unit": "hours",
            "timezone": "UTC", "catch_up": "skip", "overlap": "allow",
            **route_body(world, **{"route-n0-payload": "{}"})}  # fmt: skip


def app_event_body(world: World) -> dict:
    return {"name": "Inbound", "connector": "http", "event_name": "inbound-webhook",
            "auth": "none", **route_body(world)}  # fmt: skip


def trigger_edit_body(world: World) -> dict:
    return {**webhook_body(world), "name": "Orders v2", "webhook_id": "orders"}


def connector_body(world: World) -> dict:
    return {"name": "Billing", "visibility": "private", "base_url": "https://billing.test",
            "auth_types": ["NO_AUTH"], "default_auth": "NO_AUTH"}  # fmt: skip


def action_body(world: World) -> dict:
    return {"name": "getContact", "method": "GET", "path": "/contacts/{id}",
            "param-name": ["id"], "param-in": ["path"], "param-type": ["string"],
            "param-required": ["yes"], "param-description": [""]}  # fmt: skip


VIEWER: dict[str, Rule] = {
    "space_home": PAGE,
    "connectors": PAGE,
    "connector_create": Rule(403, 403, connector_body),
    "connector_import": Rule(403, 403, lambda w: {"text": OPENAPI}),
    "connector_detail": Rule(200, 405),
    "connector_definition_file": Rule(200, 405),
    "connector_edit": Rule(403, 403, lambda w: {**connector_body(w), "name": "CRM 2"}),
    "connector_publish": Rule(405, 403, NO_BODY),
    "connector_delete": Rule(405, 403, NO_BODY),
    "connector_reimport": Rule(403, 403, lambda w: {"text": OPENAPI}),
    "connector_action_new": Rule(403, 403, action_body),
    "connector_action_edit": Rule(403, 403, action_body),
    "connector_action_delete": Rule(405, 403, NO_BODY),
    "connector_import_report": Rule(200, 405),
    "connections": PAGE,
    "events": PAGE,
    "traces": Rule(200, 405),
    "trace_detail": Rule(200, 405),
    "connector_typings": Rule(200, 405),
    "alerts": PAGE,
    "people": PAGE,
    "people_invite": Rule(403, 403, lambda w: {"email": "ada@example.com", "role": "viewer"}),
    "people_role": Rule(405, 403, lambda w: {"role": "operator"}),
    "people_remove": Rule(405, 403, NO_BODY),
    "people_transfer": Rule(403, 403, lambda w: {"confirm": "on"}),
    "invitation_revoke": Rule(405, 403, NO_BODY),
    "customers": PAGE,
    "customer_create": Rule(403, 403, lambda w: {"name": "Hooli", "external_id": "hooli"}),
    "customer_edit": Rule(403, 403, lambda w: {"name": "Initrode", "external_id": "initech"}),
    "customer_delete": Rule(405, 403, NO_BODY),
    "apikeys": Rule(403, 403, lambda w: {"name": "Deploy", "mode": "live"}),
    "apikey_revoke": Rule(405, 403, NO_BODY),
    "audit_log": MANAGERS_PAGE,
    "audit_log_csv": MANAGERS_PAGE,
    "secrets": MANAGERS_PAGE,
    "secret_create": Rule(403, 403, lambda w: {"name": "NEW", "type": "text", "value": "v"}),
    "secret_rotate": Rule(403, 403, lambda w: {"value": "rotated"}),
    "secret_delete": Rule(405, 403, NO_BODY),
    "configs": PAGE,
    "config_create": Rule(403, 403, lambda w: {"key": "TIER", "env_test": "gold"}),
    "config_edit": Rule(403, 403, lambda w: {"description": "Where it runs", "env_test": "us"}),
    "config_delete": Rule(405, 403, NO_BODY),
    "workflows": PAGE,
    "workflow_create": Rule(403, 403, create_body),
    "workflow_builder": PAGE,
    "workflow_editor": Rule(200, 405),
    "workflow_save": Rule(403, 403, save_body),
    "workflow_lifecycle": Rule(200, 405),
    "workflow_deploy": Rule(403, 403, lambda w: {"environment": w.environment.id, "version": 1}),
    "workflow_delete": Rule(403, 403, NO_BODY),
    "workflow_run": Rule(200, 403, lambda w: {"input": "{}"}),
    "workflow_test": Rule(403, 403, lambda w: {"input": "{}"}),
    "workflow_test_new": Rule(403, 403, lambda w: {**create_body(w), "input": "{}"}),
    "workflow_api": PAGE,  # POST carries the Test tab's input into the samples; reads only
    "insight_tab": PAGE,
    "insight_docs_generate": Rule(403, 403, NO_BODY),
    "insight_docs_markdown": Rule(200, 405),
    "workflow_compare": Rule(200, 405),
    "workflow_executions": Rule(200, 405),
    "workflow_version": Rule(200, 405),
    "workflow_restore": Rule(403, 403, NO_BODY),
    "testcases": Rule(200, 405),
    "testcase_new": Rule(403, 403, lambda w: case_body("Another")),
    "testcase_edit": Rule(403, 403, lambda w: case_body("Renamed")),
    "testcase_approve": Rule(403, 403, lambda w: {"approved": "true"}),
    "testcase_feedback": Rule(403, 403, lambda w: {"feedback": "Looks right"}),
    "testcase_delete": Rule(403, 403, NO_BODY),
    # Runs wait for a worker (tests/testcases covers them); with no approved case the gate
    # runs nothing, and the world's execution has not ended (nothing to save).
    "testcase_run": Rule(403, 403),
    "testcases_run": Rule(403, 403),
    "testcases_gate": Rule(403, 403),
    "execution_save_test_case": Rule(403, 403),
    "environments": Rule(200, 403, lambda w: {"name": "Canary"}),
    "environment_edit": Rule(403, 403, lambda w: {"name": "Pre-production"}),
    "environment_delete": Rule(403, 403, NO_BODY),
    "executions": PAGE,
    "execution_detail": PAGE,
    "execution_cancel": Rule(405, 403, NO_BODY),
    "execution_rerun": Rule(405, 403, NO_BODY),
    "execution_control": Rule(405, 403, lambda w: {"control": "pause"}),
    "execution_event_send": Rule(405, 403, lambda w: {"type": "approved", "payload": "{}"}),
    "triggers": PAGE,
    "trigger_new": Rule(403, 403),
    "trigger_new_webhook": Rule(403, 403, webhook_body),
    "trigger_new_scheduler": Rule(403, 403, scheduler_body),
    "trigger_new_app_event": Rule(403, 403, app_event_body),
    "trigger_app_event_source": Rule(403, 403),
    "trigger_schedule_preview": Rule(200, 405),
    "trigger_detail": PAGE,
    "trigger_edit": Rule(403, 403, trigger_edit_body),
    "trigger_toggle": Rule(405, 403, NO_BODY),
    "trigger_delete": Rule(405, 403, NO_BODY),
    "trigger_activity": Rule(200, 405),
    "trigger_event": Rule(200, 405),
    "trigger_send_test": Rule(405, 403, lambda w: {"body": '{"b": 2}'}),
    # The world's trigger is a signed webhook: Trigger Now (schedules), Retry Subscription
    # (app events) and Enable signing change nothing on it, so no Owner control here;
    # tests/triggers makes those POSTs as the roles that may.
    "trigger_run_now": Rule(405, 403),
    "trigger_retry_subscription": Rule(405, 403),
    "trigger_signing_enable": Rule(405, 403),
    "trigger_signing_rotate": Rule(405, 403, NO_BODY),
    "trigger_signing_remove": Rule(405, 403, NO_BODY),
    "event_detail": PAGE,
    "event_replay": Rule(405, 403, NO_BODY),
    "dead_letters": PAGE,
    "dead_letter_detail": PAGE,
    "dead_letter_replay": Rule(405, 403, NO_BODY),
    "dead_letters_replay_all": Rule(405, 403, lambda w: {"range": "all"}),
    "space_settings": Rule(403, 403, lambda w: {"name": "Acme", "time_zone": "Europe/Paris"}),
    "connection_new": Rule(
        403,
        403,
        lambda w: {"connector": "acme", "name": "Third", "auth_method": "BEARER", "token": "t3"},
    ),
    "connection_detail": PAGE,
    "connection_test": Rule(405, 403, NO_BODY),
    "connection_reconnect": Rule(
        403, 403, lambda w: {"connector": "acme", "auth_method": "BEARER", "token": "t2"}
    ),
    "connection_make_default": Rule(405, 403, NO_BODY),
    "connection_disconnect": Rule(405, 403, NO_BODY),
    "oauth_apps": MANAGERS_PAGE,
    "oauth_app_new": Rule(
        403, 403, lambda w: {"connector": "beta", "client_id": "b", "client_secret": "bs"}
    ),
    "oauth_app_edit": Rule(403, 403, lambda w: {"client_id": "cid2"}),
    "oauth_app_delete": Rule(405, 403, NO_BODY),
}


def rule_of(target: SpaceUrl) -> Rule:
    assert target.name in VIEWER, f"say in VIEWER what a viewer may do on {target.name}"
    return VIEWER[target.name]


# Owner POSTs that start a run and wait for it: they need a Celery worker, which this walk has
# not; tests/executions and the browser tests cover them.
RUNS_AND_WAITS = {"workflow_run", "workflow_test", "workflow_test_new"}


# --- What changed ---------------------------------------------------------------------------

# Written by any request: the session, and a member's "last active" time. Audit rows are
# compared on their own: a refused request writes one, `access.denied`.
IGNORED_MODELS = {Session, AuditEvent}
IGNORED_FIELDS = {(Membership, "last_active_at")}


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every model, as tuples of its column values (audit events apart)."""
    rows = {}
    for model in apps.get_models():
        if model in IGNORED_MODELS or model._meta.proxy:
            continue
        fields = [
            f.attname for f in model._meta.concrete_fields if (model, f.name) not in IGNORED_FIELDS
        ]
        rows[model._meta.label] = list(model.objects.order_by("pk").values_list(*fields))
    return rows


def changes(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> list[str]:
    return [label for label in before if before[label] != after[label]]


def observe(send: Callable[..., Any], url: str, *args, **kwargs):
    """Send one request; answer it with the tables it changed and the audit rows it wrote."""
    before = snapshot()
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    response = send(url, *args, **kwargs)
    audited = AuditEvent.objects.filter(id__gt=last).values_list("action", flat=True)
    return response, changes(before, snapshot()), list(audited)


# --- The walk -------------------------------------------------------------------------------


def test_every_url_of_a_space_has_a_parameter_fixture_and_a_viewer_rule():
    unfilled = {u.name: p for u in SPACE_URLS for p in u.params if p not in PARAMS}
    assert not unfilled, f"add to PARAMS how to fill these path parameters: {unfilled}"
    assert set(VIEWER) - set(BY_NAME) == set(), "VIEWER names a URL that no longer exists"
    missing = sorted(set(BY_NAME) - set(VIEWER))
    assert not missing, f"say in VIEWER what a viewer may do on {missing}"
    assert len(SPACE_URLS) >= 45  # the walk really found the console


def test_an_outsider_gets_404_for_every_url_of_the_space(client, cast, world):
    login(client, cast.outsider)
    problems = []
    for target in SPACE_URLS:
        url = url_of(target, cast.space.slug, world)
        for method in ("get", "post"):
            response, changed, audited = observe(getattr(client, method), url)
            if response.status_code != 404 or changed or audited:
                problems.append((method, url, response.status_code, changed, audited))
    assert problems == []


def test_an_outsider_gets_404_for_ids_of_the_space_under_their_own(client, cast, world):
    """The outsider is the Owner of their own Space: no role stands in the way, only tenancy.
    A view that refuses the method answers 405 before it looks anything up, revealing nothing;
    the other method must then be the 404."""
    login(client, cast.outsider)
    problems, walked = [], 0
    for target in SPACE_URLS:
        if not target.params:
            continue
        walked += 1
        url = url_of(target, cast.other_space.slug, world)
        body = (rule_of(target).body or NO_BODY)(world)
        statuses = []
        for method, args in (("get", ()), ("post", (body,))):
            response, changed, _ = observe(getattr(client, method), url, *args)
            statuses.append(response.status_code)
            if response.status_code not in (404, 405) or changed:
                problems.append((method, url, response.status_code, changed))
        if 404 not in statuses:
            problems.append(("get and post", url, statuses))
    assert problems == []
    assert walked >= 25


def test_the_owner_reaches_every_url_so_the_404s_above_are_tenancy(client, cast, world):
    login(client, cast.owner)
    problems = []
    for target in SPACE_URLS:
        url = url_of(target, cast.space.slug, world)
        status = client.get(url).status_code
        if status not in (200, 405):
            problems.append((url, status))
    assert problems == []


def test_a_viewer_gets_what_the_role_rules_say_on_every_url(client, cast, world):
    login(client, cast.viewer)
    problems = []
    for target in SPACE_URLS:
        rule = rule_of(target)
        url = url_of(target, cast.space.slug, world)
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response, changed, audited = observe(client.get, url, **headers)
            denied = ["access.denied"] if rule.get == 403 else []
            if (response.status_code, changed, audited) != (rule.get, [], denied):
                problems.append((url, headers, response.status_code, changed, audited))
    assert problems == []


def test_a_viewer_cannot_post_to_any_url_and_nothing_changes(client, cast, world):
    login(client, cast.viewer)
    problems = []
    for target in SPACE_URLS:
        rule = rule_of(target)
        url = url_of(target, cast.space.slug, world)
        response, changed, audited = observe(client.post, url, (rule.body or NO_BODY)(world))
        denied = ["access.denied"] if rule.post == 403 else []
        if (response.status_code, changed, audited) != (rule.post, [], denied):
            problems.append((url, response.status_code, changed, audited))
    assert problems == []


WRITES = sorted(name for name, rule in VIEWER.items() if rule.body is not None)


@pytest.mark.parametrize("name", [name for name in WRITES if name not in RUNS_AND_WAITS])
def test_the_owner_making_the_same_post_changes_the_database(client, cast, world, name):
    """The control of the viewer's walk: the bodies are accepted, and a change is seen."""
    login(client, cast.owner)
    url = url_of(BY_NAME[name], cast.space.slug, world)

    response, changed, _ = observe(client.post, url, VIEWER[name].body(world))

    assert response.status_code < 400, (url, response.status_code)
    assert changed, f"the Owner's POST to {url} changed nothing"


def test_every_write_is_refused_to_a_viewer():
    assert [name for name in WRITES if VIEWER[name].post not in (403, 405)] == []


def test_ids_of_the_space_in_the_body_of_another_spaces_post_change_nothing(client, cast, world):
    """The outsider posts to their own Space's URLs, naming the first Space's environment and
    customer in the body: the lookups are scoped, so nothing is deployed or created."""
    system = Actor.system("test")
    theirs = workflow_create(
        cast.other_space, actor=system, name="Theirs", slug="theirs", code=CODE
    )
    workflow_publish(theirs, actor=system)
    login(client, cast.outsider)
    slug = cast.other_space.slug

    deploy, deployed, _ = observe(
        client.post,
        reverse("workflow_deploy", args=[slug, theirs.id]),
        {"environment": world.environment.id, "version": 1},
    )
    secret, created, _ = observe(
        client.post,
        reverse("secret_create", args=[slug]),
        {"name": "NEW", "type": "text", "value": "v", "customer": world.customer.id},
    )

    assert (deploy.status_code, deployed) == (404, [])
    assert (secret.status_code, created) == (200, [])
    assert "Select a valid choice" in secret.content.decode()
