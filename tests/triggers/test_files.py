"""`manage.py trigger export|import`: triggers as files in git, beside workflows."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.environments.models import Environment
from apps.secrets.models import Secret
from apps.secrets.services import secret_create
from apps.spaces.models import AuditEvent
from apps.spaces.services import customer_create
from apps.triggers import services
from apps.triggers.files import FORMAT
from apps.triggers.models import Event, Kind, Route, Trigger
from apps.triggers.services import signing_names
from apps.workflows.services import workflow_update
from tests.triggers.ui_helpers import (  # noqa: F401 (master_key is a fixture)
    SYSTEM,
    make_connection,
    make_scheduler,
    make_shopify_event,
    make_webhook,
    make_workflow,
    master_key,
    route,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("master_key")]


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("trigger", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def export(space, directory) -> dict[str, dict]:
    run("export", "--space", space.slug, "--out", str(directory))
    return {p.name: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def import_(space, *paths) -> str:
    return run("import", *map(str, paths), "--space", space.slug)[0]


def refused(space, *paths) -> str:
    with pytest.raises(CommandError) as exc:
        import_(space, *paths)
    assert "Nothing was imported." in str(exc.value)
    return str(exc.value)


def write(directory, name, document) -> object:
    path = directory / name
    path.write_text(json.dumps(document, indent=2))
    return path


def webhook_file(**overrides) -> dict:
    document = {
        "format": FORMAT,
        "kind": "webhook",
        "name": "Orders",
        "webhookId": "orders-in",
        "routes": [
            {
                "workflow": "echo",
                "environment": "test",
                "headers": {"x-source": "shop"},
                "filters": [{"path": "type", "operator": "eq", "value": "order"}],
            }
        ],
    }
    return document | overrides


def scheduler_file(**overrides) -> dict:
    document = {
        "format": FORMAT,
        "kind": "scheduler",
        "name": "Nightly",
        "schedule": {"preset": "daily", "time": "02:30", "timezone": "Europe/Paris"},
        "routes": [{"workflow": "echo", "payload": {"report": "daily"}}],
    }
    return document | overrides


@pytest.fixture
def echo(cast):
    return make_workflow(cast.space)


def everything(space, signing="SHOP_SIGNING"):
    """A Space with one trigger of each kind, customers, a named environment and a signing
    secret, all through the console's services."""
    echo = make_workflow(space)
    notify = make_workflow(space, "Notify", "notify")
    Environment.objects.create(space=space, slug="staging", name="Staging")
    customer = customer_create(space, name="Shop", external_id="shop-1", actor=SYSTEM)
    secret_create(space, name=signing, type="text", value="whsec_abc", actor=SYSTEM)
    webhook = services.trigger_create(
        space,
        kind=Kind.WEBHOOK,
        fields={
            "name": "Orders",
            "description": "From the shop",
            "customer": customer,
            "webhook_id": "orders-in",
            "auth": "none",
            "execution_mode": "sequential",
            "dedup_path": "data.id",
            "dead_letter_enabled": False,
            "max_attempts": 7,
            "backoff": "linear",
        },
        routes=[
            route(
                echo,
                environment="staging",
                headers={"x-b": "2", "x-a": "1"},
                filters=[
                    {"path": "amount", "operator": "gt", "value": 100},
                    {"path": "$headers.x-kind", "operator": "exists", "value": True},
                    {"path": "tags", "operator": "in", "value": ["a", {"z": 1, "b": 2}]},
                ],
            ),
            route(notify, environment="DRAFT"),
        ],
        actor=SYSTEM,
    )
    services.trigger_signing_use(webhook, name=signing, actor=SYSTEM)
    make_scheduler(
        space,
        notify,
        schedule={"preset": "weekly", "weekdays": [0, 4], "time": "07:15",
                  "timezone": "America/New_York", "starts_at": "2026-01-05T07:15:00-05:00"},
        catch_up="once",
        overlap="skip",
    )  # fmt: skip
    services.trigger_create(
        space,
        kind=Kind.APP_EVENT,
        fields={"name": "Inbound", "connector": "http", "event_name": "inbound-webhook",
                "webhook_id": "inbound-1"},
        routes=[route(echo)],
        actor=SYSTEM,
        enabled=False,
    )  # fmt: skip


# --- Export ---------------------------------------------------------------------------------


def test_export_writes_one_file_per_trigger_with_slugs_and_no_secret(tmp_path, cast):
    everything(cast.space)
    make_webhook(cast.other_space, make_workflow(cast.other_space), "Theirs")
    files = export(cast.space, tmp_path)
    triggers = {str(t.id): t for t in Trigger.objects.filter(space=cast.space)}
    assert set(files) == {f"{key}.json" for key in triggers}
    webhook = next(d for d in files.values() if d["kind"] == "webhook")
    assert list(webhook) == [
        "format", "id", "kind", "name", "description", "enabled", "customer", "webhookId",
        "auth", "executionMode", "dedupPath", "deadLetterQueue", "maxAttempts", "backoff",
        "signingSecret", "routes",
    ]  # fmt: skip
    assert webhook["format"] == "fastn.trigger/1"
    assert webhook["customer"] == "shop-1"
    assert webhook["signingSecret"] == {"secret": "SHOP_SIGNING"}
    assert webhook["routes"][0]["workflow"] == "echo"
    assert webhook["routes"][0]["environment"] == "staging"
    assert list(webhook["routes"][0]["headers"]) == ["x-a", "x-b"]
    assert webhook["routes"][0]["filters"][2]["value"] == ["a", {"b": 2, "z": 1}]
    assert webhook["routes"][1] == {
        "workflow": "notify", "environment": "DRAFT", "headers": {}, "filters": [],
    }  # fmt: skip
    scheduler = next(d for d in files.values() if d["kind"] == "scheduler")
    assert scheduler["schedule"] == {
        "preset": "weekly", "timezone": "America/New_York", "weekdays": [0, 4], "time": "07:15",
        "startsAt": "2026-01-05T07:15:00-05:00",
    }  # fmt: skip
    assert scheduler["routes"][0]["payload"] == {"report": "daily"}
    app_event = next(d for d in files.values() if d["kind"] == "app-event")
    assert (app_event["connector"], app_event["event"], app_event["enabled"]) == (
        "http", "inbound-webhook", False,
    )  # fmt: skip
    text = "".join(p.read_text() for p in tmp_path.glob("*.json"))
    assert "whsec_abc" not in text and "Theirs" not in text
    assert str(cast.space.id) not in text  # routes name workflows by slug, not id
    first = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    export(cast.space, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.json")} == first
    assert AuditEvent.objects.filter(space=cast.space, action="trigger.export").count() == 2


def test_export_defaults_to_the_current_directory_and_warns_of_credential_headers(
    tmp_path, cast, echo, monkeypatch
):
    services.trigger_create(
        cast.space, kind=Kind.WEBHOOK, fields={"name": "Orders"},
        routes=[route(echo, headers={"Authorization": "Bearer abc"})], actor=SYSTEM,
    )  # fmt: skip
    monkeypatch.chdir(tmp_path)
    out, err = run("export", "--space", cast.space.slug)
    assert "Exported 1 trigger(s) of acme to ." in out
    assert len(list(tmp_path.glob("*.json"))) == 1
    assert "routes[0].headers.Authorization looks like a credential" in err


def test_an_unknown_space_is_refused(tmp_path, cast):
    with pytest.raises(CommandError, match="No Space with the slug “nope”"):
        run("export", "--space", "nope", "--out", str(tmp_path))
    with pytest.raises(CommandError, match="No Space with the slug"):
        run("import", str(tmp_path), "--space", str(cast.space.id))  # a slug, not an id


# --- Round trip and idempotency -------------------------------------------------------------


def test_round_trip_into_another_space_gives_the_same_files_but_ids(tmp_path, cast):
    everything(cast.space)
    other = cast.other_space  # the same workflow slugs, environment, customer and secret name
    make_workflow(other)
    make_workflow(other, "Notify", "notify")
    Environment.objects.create(space=other, slug="staging", name="Staging")
    customer_create(other, name="Shop", external_id="shop-1", actor=SYSTEM)
    secret_create(other, name="SHOP_SIGNING", type="text", value="other", actor=SYSTEM)
    first = export(cast.space, tmp_path / "a")
    output = import_(cast.other_space, tmp_path / "a")
    assert "3 created" in output
    second = export(cast.other_space, tmp_path / "b")

    def without_ids(files):
        return sorted(
            (json.dumps({k: v for k, v in d.items() if k != "id"}, sort_keys=True))
            for d in files.values()
        )

    assert without_ids(first) == without_ids(second)
    assert not set(first) & set(second)  # new ids in the other Space
    assert Trigger.objects.filter(space=cast.space).count() == 3  # the originals untouched


def test_importing_an_export_into_the_same_space_changes_nothing(tmp_path, cast):
    everything(cast.space)
    export(cast.space, tmp_path)
    before = list(Trigger.objects.order_by("id").values())
    routes = list(Route.objects.order_by("id").values())
    audits = AuditEvent.objects.count()
    output = import_(cast.space, tmp_path)
    assert output.count("unchanged") == 3
    assert "Nothing to change: the 3 trigger(s) in acme already match the files." in output
    assert list(Trigger.objects.order_by("id").values()) == before
    assert list(Route.objects.order_by("id").values()) == routes
    assert AuditEvent.objects.count() == audits


def test_a_second_import_says_unchanged_for_each_file(tmp_path, cast, echo):
    write(tmp_path, "orders.json", webhook_file())
    write(tmp_path, "nightly.json", scheduler_file())
    first = import_(cast.space, tmp_path)
    assert "2 created" in first and "created   " in first
    created = {t.name: t for t in Trigger.objects.filter(space=cast.space)}
    # The ids the first import printed, written into the files as it suggests.
    write(tmp_path, "orders.json", webhook_file(id=str(created["Orders"].id)))
    write(tmp_path, "nightly.json", scheduler_file(id=str(created["Nightly"].id)))
    second = import_(cast.space, tmp_path)
    assert "unchanged " + str(tmp_path / "nightly.json") in second
    assert "unchanged " + str(tmp_path / "orders.json") in second
    assert "Nothing to change" in second
    assert Trigger.objects.filter(space=cast.space).count() == 2


def test_import_updates_by_id_keeping_route_ids_and_audits(tmp_path, cast, echo):
    trigger = make_webhook(cast.space, echo, webhook_id="orders-in")
    kept = trigger.routes.get().id
    write(
        tmp_path,
        "orders.json",
        webhook_file(id=str(trigger.id), name="Shop orders", maxAttempts=9, enabled=False),
    )
    output = import_(cast.space, tmp_path)
    assert "updated   " in output and "1 updated" in output
    trigger.refresh_from_db()
    assert (trigger.name, trigger.max_attempts, trigger.enabled) == ("Shop orders", 9, False)
    route_row = trigger.routes.get()
    assert route_row.id == kept and route_row.headers == {"x-source": "shop"}
    actions = set(AuditEvent.objects.filter(space=cast.space).values_list("action", flat=True))
    assert {"trigger.update", "trigger.disable", "trigger.import"} <= actions


def test_importing_a_scheduler_recomputes_its_next_run(tmp_path, cast, echo):
    with time_machine.travel("2026-03-02T08:00:00Z", tick=False):
        trigger = make_scheduler(cast.space, echo)
        assert trigger.next_run_at is not None
    with time_machine.travel("2026-03-10T12:00:00Z", tick=False):
        write(tmp_path, "nightly.json", scheduler_file(id=str(trigger.id)))
        import_(cast.space, tmp_path)
    trigger.refresh_from_db()
    # Daily at 02:30 in Paris (UTC+1 in March before the change): the next is the 11th 01:30Z.
    assert trigger.next_run_at.isoformat() == "2026-03-11T01:30:00+00:00"
    assert trigger.schedule["time"] == "02:30"


def test_a_disabled_scheduler_file_creates_no_next_run_and_does_not_run_on_create(
    tmp_path, cast, echo
):
    write(tmp_path, "a.json", scheduler_file(enabled=False, runOnCreate=True))
    import_(cast.space, tmp_path)
    trigger = Trigger.objects.get(space=cast.space)
    assert (trigger.enabled, trigger.next_run_at) == (False, None)
    assert not Event.objects.exists()
    write(tmp_path, "a.json", scheduler_file(id=str(trigger.id), runOnCreate=True))
    import_(cast.space, tmp_path)
    trigger.refresh_from_db()
    assert trigger.enabled and trigger.next_run_at > timezone.now()


def test_a_scheduler_file_that_runs_on_create_runs_once_when_created(tmp_path, cast, echo):
    write(tmp_path, "a.json", scheduler_file(runOnCreate=True))
    import_(cast.space, tmp_path)
    trigger = Trigger.objects.get(space=cast.space)
    assert Event.objects.filter(trigger=trigger).count() == 1
    write(tmp_path, "a.json", scheduler_file(id=str(trigger.id), runOnCreate=True, name="New"))
    assert "updated" in import_(cast.space, tmp_path)
    assert Event.objects.filter(trigger=trigger).count() == 1  # an update does not run it


def test_a_schedule_without_timezone_takes_the_space_s(tmp_path, cast, echo):
    cast.space.time_zone = "Asia/Tokyo"
    cast.space.save()
    write(tmp_path, "a.json", scheduler_file(schedule={"preset": "interval", "every": 2,
                                                        "unit": "hours"}))  # fmt: skip
    import_(cast.space, tmp_path)
    assert Trigger.objects.get().schedule["timezone"] == "Asia/Tokyo"


# --- Isolation ------------------------------------------------------------------------------


def test_a_file_with_another_space_s_trigger_id_creates_a_new_trigger(tmp_path, cast, echo):
    theirs = make_webhook(cast.other_space, make_workflow(cast.other_space), "Theirs",
                          webhook_id="orders-in")  # fmt: skip
    before = Trigger.objects.filter(pk=theirs.pk).values().get()
    write(tmp_path, "orders.json", webhook_file(id=str(theirs.id), name="Mine"))
    output = import_(cast.space, tmp_path)
    mine = Trigger.objects.get(space=cast.space)
    assert mine.id != theirs.id and mine.name == "Mine"
    assert f"created   {tmp_path / 'orders.json'} as {mine.id}" in output
    assert Trigger.objects.filter(pk=theirs.pk).values().get() == before
    assert theirs.routes.get().workflow.space_id == cast.other_space.id


def test_a_route_cannot_name_another_space_s_workflow(tmp_path, cast):
    make_workflow(cast.other_space, "Theirs", "theirs")
    write(tmp_path, "orders.json", webhook_file(routes=[{"workflow": "theirs"}]))
    message = refused(cast.space, tmp_path)
    assert 'orders.json: routes[0].workflow: no workflow with the slug "theirs" in this Space.' in (
        message
    )


# --- Errors: each names the file and the field, and nothing is written ----------------------


def assert_nothing_written(space):
    assert not Trigger.objects.filter(space=space).exists()
    assert not AuditEvent.objects.filter(space=space, action__startswith="trigger.").exists()


def refused_with(tmp_path, space, document, expected: str, name="bad.json"):
    write(tmp_path, "aaa-good.json", scheduler_file(name="Good"))
    write(tmp_path, name, document)
    message = refused(space, tmp_path)
    assert f"{tmp_path / name}: {expected}" in message, message
    assert_nothing_written(space)
    return message


def test_an_unknown_operator_names_the_file_route_row_and_field(tmp_path, cast, echo):
    routes = [
        {"workflow": "echo"},
        {"workflow": "echo", "filters": [{"path": "status", "operator": "equals", "value": 1}]},
    ]
    refused_with(
        tmp_path, cast.space, webhook_file(routes=routes),
        'routes[1].filters[0].operator: unknown operator "equals"; '
        "use eq, neq, gt, lt, in, contains, exists.",
        name="orders.json",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"colour": "red"}, "colour: unknown key; a webhook trigger has format, id, kind,"),
        ({"schedule": {"preset": "daily"}}, "schedule: not a key of a webhook trigger."),
        ({"format": None}, 'format: missing; a trigger file starts with "format"'),
        ({"format": "fastn.trigger/2"}, 'format: "fastn.trigger/2" is not supported'),
        ({"kind": "hook"}, 'kind: unknown value "hook"; use webhook, scheduler, app-event.'),
        ({"name": ""}, "name: must be a non-empty string."),
        ({"id": "42"}, "id: a trigger id is a UUID"),
        ({"enabled": "yes"}, "enabled: must be true or false."),
        ({"maxAttempts": 11}, "maxAttempts: a whole number from 1 to 10."),
        ({"auth": "basic"}, 'auth: unknown value "basic"; use api-key, none.'),
        ({"backoff": "random"}, 'backoff: unknown value "random"'),
        ({"executionMode": "serial"}, 'executionMode: unknown value "serial"'),
        ({"webhookId": "a b"}, "webhookId: 3 to 64 letters, digits, dashes or underscores"),
        ({"dedupPath": "a..b"}, "dedupPath: not a valid path: empty key"),
        ({"customer": "acme"}, 'customer: no customer with the external id "acme" in this Space.'),
        ({"signingSecret": "whsec_abc"}, 'signingSecret: name a Space secret: {"secret": "NAME"}'),
        ({"signingSecret": {"secret": "lower"}}, "signingSecret.secret: a secret name in UPPER"),
        ({"signingSecret": {"secret": "NOPE"}}, "signingSecret.secret: the Space has no secret "
                                                "named NOPE; create it first"),
        ({"routes": []}, "routes: required: a list of at least one route"),
        ({"routes": [{"workflow": "nope"}]},
         'routes[0].workflow: no workflow with the slug "nope" in this Space.'),
        ({"routes": [{"workflow": "echo", "environment": "prod"}]},
         'routes[0].environment: no environment "prod" in this Space; use DRAFT, test, live.'),
        ({"routes": [{"workflow": "echo", "headres": {}}]},
         "routes[0].headres: unknown key; a route has workflow, environment, headers, filters."),
        ({"routes": [{"workflow": "echo", "payload": {}}]},
         "routes[0].payload: only a scheduler's routes have a payload"),
        ({"routes": [{"workflow": "echo", "headers": {"x-a": "1", "X-A": "2"}}]},
         "routes[0].headers.X-A: given twice"),
        ({"routes": [{"workflow": "echo", "headers": {"x-a": "1\n2"}}]},
         "routes[0].headers.x-a: one line of text"),
        ({"routes": [{"workflow": "echo", "headers": {"bad name": "1"}}]},
         'routes[0].headers: "bad name" is not a header name'),
        ({"routes": [{"workflow": "echo", "filters": [{"path": "", "operator": "eq",
                                                        "value": 1}]}]},
         "routes[0].filters[0].path: the path is required."),
        ({"routes": [{"workflow": "echo", "filters": [{"path": "a", "operator": "in",
                                                        "value": 1}]}]},
         "routes[0].filters[0].value: in takes a list"),
        ({"routes": [{"workflow": "echo", "filters": [{"path": "a", "operator": "eq"}]}]},
         "routes[0].filters[0].value: eq needs a value."),
        ({"routes": [{"workflow": "echo", "filters": [{"path": "a", "op": "eq"}]}]},
         "routes[0].filters[0]: unknown key 'op'"),
    ],
)  # fmt: skip
def test_an_invalid_webhook_file_is_refused_naming_the_field(
    tmp_path, cast, echo, overrides, expected
):
    document = {k: v for k, v in webhook_file(**overrides).items() if v is not None}
    refused_with(tmp_path, cast.space, document, expected)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"schedule": {"preset": "daily", "time": "25:00"}}, "schedule.time: Enter the time as"),
        ({"schedule": {"preset": "daily", "tiem": "09:00"}}, "schedule.tiem: unknown key"),
        ({"schedule": {"preset": "daily", "every": 5}},
         "schedule.every: not used by the daily preset (it uses time)."),
        ({"schedule": {"preset": "custom", "cron": "61 * * * *"}}, "schedule.cron: Field 1"),
        ({"schedule": {"preset": "daily", "timezone": "Mars/Olympus"}},
         'schedule.timezone: "Mars/Olympus" is not a known time zone'),
        ({"schedule": {"preset": "interval", "startsAt": "2026-05-01T09:00:00"}},
         "schedule.startsAt: Starts at needs a time zone offset"),
        ({"schedule": None}, "schedule: required"),
        ({"catchUp": "all"}, 'catchUp: unknown value "all"; use skip, once.'),
        ({"webhookId": "x-1"}, "webhookId: not a key of a scheduler trigger."),
        ({"routes": [{"workflow": "echo", "filters": []}]},
         "routes[0].filters: a scheduler's routes have no filters"),
    ],
)  # fmt: skip
def test_an_invalid_scheduler_file_is_refused_naming_the_field(
    tmp_path, cast, echo, overrides, expected
):
    refused_with(tmp_path, cast.space, scheduler_file(**overrides), expected)


def test_an_invalid_app_event_file_is_refused_naming_the_field(tmp_path, cast, echo):
    document = webhook_file(kind="app-event", connector="http", event="outbound")
    del document["routes"][0]["filters"]
    refused_with(
        tmp_path, cast.space, document, 'event: HTTP has no event "outbound"; use inbound-webhook.'
    )


def shopify_file(**overrides) -> dict:
    document = webhook_file(kind="app-event", name="Orders created", connector="shopify",
                            connection={"name": "Acme shop", "customer": "shop-1"},
                            event="orders/create", webhookId="shop-in")  # fmt: skip
    del document["routes"][0]["filters"]
    return document | overrides


def test_an_app_event_file_names_its_connection_and_round_trips(tmp_path, cast, echo):
    customer = customer_create(cast.space, name="Shop", external_id="shop-1", actor=SYSTEM)
    shop = make_connection(cast.space, customer=customer)
    trigger = make_shopify_event(cast.space, echo, shop, webhook_id="shop-in")
    files = export(cast.space, tmp_path / "a")
    document = files[f"{trigger.id}.json"]
    assert list(document)[7:10] == ["connector", "connection", "event"]
    assert document["connection"] == {"name": "Acme shop", "customer": "shop-1"}
    assert "tok-not-shown" not in json.dumps(document) and str(shop.id) not in json.dumps(document)
    assert "unchanged" in import_(cast.space, tmp_path / "a")
    # Into another Space with a connection of the same name and customer: the same file.
    make_workflow(cast.other_space)
    theirs = customer_create(cast.other_space, name="Shop", external_id="shop-1", actor=SYSTEM)
    other_shop = make_connection(cast.other_space, customer=theirs)
    assert "1 created" in import_(cast.other_space, tmp_path / "a")
    created = Trigger.objects.get(space=cast.other_space)
    assert (created.connection, created.subscription) == (other_shop, "not-subscribed")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"connection": None}, 'connection: required: {"name": "<connection name>", '),
        ({"connection": {"name": "Nope", "customer": "shop-1"}},
         'connection: no Shopify connection "Nope" of the customer "shop-1" in this Space.'),
        ({"connection": {"name": "Acme shop", "customer": None}},
         'connection: no Shopify connection "Acme shop" (Space-wide) in this Space.'),
        ({"connection": {"name": "Acme shop", "customer": "shop-1", "token": "x"}},
         "connection.token: unknown key; use name and customer."),
        ({"connector": "slack", "event": "app_mention"},
         'connection: no Slack connection "Acme shop" of the customer "shop-1" in this Space.'),
        ({"connector": "email"},
         'connector: no connector "email" with events in this Space; use http, '),
        ({"event": "orders/nope"},
         'event: Shopify has no event "orders/nope"; use orders/create, '),
    ],
)  # fmt: skip
def test_an_app_event_file_s_connection_is_checked_against_the_space(
    tmp_path, cast, echo, overrides, expected
):
    customer = customer_create(cast.space, name="Shop", external_id="shop-1", actor=SYSTEM)
    make_connection(cast.space, customer=customer)
    make_connection(cast.other_space, "Acme shop")  # another Space's: never found
    refused_with(tmp_path, cast.space, shopify_file(**overrides), expected)


def test_an_http_app_event_file_takes_no_connection(tmp_path, cast, echo):
    make_connection(cast.space)
    document = shopify_file(connector="http", event="inbound-webhook")
    refused_with(
        tmp_path, cast.space, document, "connection: HTTP's events need no connection: null."
    )


def test_a_file_that_is_not_json_is_refused(tmp_path, cast, echo):
    (tmp_path / "broken.json").write_text('{"format": ')
    message = refused(cast.space, tmp_path)
    assert f"{tmp_path / 'broken.json'}: not valid JSON: Expecting value (line 1" in message


def test_what_is_not_a_trigger_file_is_refused(tmp_path, cast, echo):
    (tmp_path / "list.json").write_text("[]")
    assert f"{tmp_path / 'list.json'}: a trigger file is a JSON object." in refused(
        cast.space, tmp_path
    )
    (tmp_path / "list.json").unlink()
    assert "No trigger files found" in refused(cast.space, tmp_path)
    assert f"{tmp_path / 'nope.json'}: no such file or directory." in refused(
        cast.space, tmp_path / "nope.json"
    )


def test_every_file_at_fault_is_listed(tmp_path, cast, echo):
    write(tmp_path, "a.json", webhook_file(name=""))
    write(tmp_path, "b.json", scheduler_file(catchUp="all"))
    message = refused(cast.space, tmp_path)
    assert f"{tmp_path / 'a.json'}: name:" in message
    assert f"{tmp_path / 'b.json'}: catchUp:" in message
    assert_nothing_written(cast.space)


def test_a_disabled_workflow_is_refused_for_a_new_route(tmp_path, cast, echo):
    workflow_update(echo, expected_revision=None, actor=SYSTEM, enabled=False)
    refused_with(
        tmp_path, cast.space, webhook_file(),
        'routes[0].workflow: the workflow "echo" is disabled; enable it first.',
    )  # fmt: skip


def test_a_kind_cannot_change(tmp_path, cast, echo):
    trigger = make_scheduler(cast.space, echo)
    write(tmp_path, "orders.json", webhook_file(id=str(trigger.id)))
    message = refused(cast.space, tmp_path)
    assert f"orders.json: kind: the trigger {trigger.id} is a scheduler trigger" in message


def test_a_webhook_id_twice_in_the_files_is_refused(tmp_path, cast, echo):
    write(tmp_path, "a.json", webhook_file())
    write(tmp_path, "b.json", webhook_file(name="Other"))
    message = refused(cast.space, tmp_path)
    assert (
        f'{tmp_path / "b.json"}: webhookId: "orders-in" is also the webhookId in '
        f"{tmp_path / 'a.json'}"
    ) in message
    assert_nothing_written(cast.space)


def test_a_webhook_id_of_another_trigger_of_the_space_is_refused(tmp_path, cast, echo):
    holder = make_webhook(cast.space, echo, "Held", webhook_id="orders-in")
    write(tmp_path, "a.json", webhook_file())
    message = refused(cast.space, tmp_path)
    assert (
        f'{tmp_path / "a.json"}: webhookId: "orders-in" is taken by the trigger "Held" '
        f"({holder.id}) of this Space"
    ) in message
    assert Trigger.objects.filter(space=cast.space).count() == 1


def test_a_webhook_id_may_move_from_an_updated_trigger_to_a_new_one(tmp_path, cast, echo):
    old = make_webhook(cast.space, echo, "Old", webhook_id="orders-in")
    write(tmp_path, "a.json", webhook_file(name="New"))
    write(tmp_path, "b.json", webhook_file(id=str(old.id), name="Old", webhookId="orders-old"))
    output = import_(cast.space, tmp_path)
    assert "1 created, 1 updated" in output
    assert Trigger.objects.get(name="New").webhook_id == "orders-in"


def test_the_same_webhook_id_in_another_space_is_fine(tmp_path, cast, echo):
    make_webhook(cast.other_space, make_workflow(cast.other_space), webhook_id="orders-in")
    write(tmp_path, "a.json", webhook_file())
    assert "1 created" in import_(cast.space, tmp_path)


def test_the_same_id_in_two_files_is_refused(tmp_path, cast, echo):
    trigger = make_webhook(cast.space, echo, webhook_id="orders-in")
    write(tmp_path, "a.json", webhook_file(id=str(trigger.id)))
    write(tmp_path, "b.json", webhook_file(id=str(trigger.id), webhookId="orders-2"))
    message = refused(cast.space, tmp_path)
    assert f"{tmp_path / 'b.json'}: id: {trigger.id} is also the id in" in message


# --- Signing secrets ------------------------------------------------------------------------


def test_a_signing_secret_is_referenced_by_name_and_must_exist(tmp_path, cast, echo):
    secret_create(cast.space, name="SHOP_SIGNING", type="text", value="whsec_abc", actor=SYSTEM)
    write(tmp_path, "a.json", webhook_file(signingSecret={"secret": "SHOP_SIGNING"}))
    import_(cast.space, tmp_path)
    trigger = Trigger.objects.get(space=cast.space)
    assert trigger.signing_secret_name == "SHOP_SIGNING"
    # A secret of another Space, or of one customer only, is not the Space's.
    secret_create(cast.other_space, name="OTHER_SIGNING", type="text", value="x", actor=SYSTEM)
    write(tmp_path, "a.json", webhook_file(id=str(trigger.id),
                                           signingSecret={"secret": "OTHER_SIGNING"}))  # fmt: skip
    message = refused(cast.space, tmp_path)
    assert "signingSecret.secret: the Space has no secret named OTHER_SIGNING" in message
    shop = customer_create(cast.space, name="Shop", external_id="shop-1", actor=SYSTEM)
    secret_create(
        cast.space, name="TENANT_SIGNING", type="text", value="x", customer=shop, actor=SYSTEM
    )
    write(tmp_path, "a.json", webhook_file(id=str(trigger.id),
                                           signingSecret={"secret": "TENANT_SIGNING"}))  # fmt: skip
    message = refused(cast.space, tmp_path)
    assert "signingSecret.secret: the Space has no secret named TENANT_SIGNING" in message


def test_pointing_signing_elsewhere_deletes_the_secret_the_console_generated(tmp_path, cast, echo):
    trigger = make_webhook(cast.space, echo, webhook_id="orders-in")
    services.trigger_signing_enable(trigger, actor=SYSTEM)
    generated, _previous = signing_names(trigger)
    files = export(cast.space, tmp_path)
    assert next(iter(files.values()))["signingSecret"] == {"secret": generated}
    secret_create(cast.space, name="SHOP_SIGNING", type="text", value="whsec_abc", actor=SYSTEM)
    write(
        tmp_path,
        f"{trigger.id}.json",
        webhook_file(id=str(trigger.id), name="Orders", signingSecret={"secret": "SHOP_SIGNING"}),
    )
    import_(cast.space, tmp_path)
    trigger.refresh_from_db()
    assert trigger.signing_secret_name == "SHOP_SIGNING"
    assert not Secret.objects.filter(space=cast.space, name=generated).exists()
    # null turns signing off, and leaves a secret the Space named itself alone.
    write(tmp_path, f"{trigger.id}.json", webhook_file(id=str(trigger.id), signingSecret=None))
    import_(cast.space, tmp_path)
    trigger.refresh_from_db()
    assert trigger.signing_secret_name == ""
    assert Secret.objects.filter(space=cast.space, name="SHOP_SIGNING").exists()


def test_a_rotation_in_its_grace_period_survives_an_unchanged_import(tmp_path, cast, echo):
    trigger = make_webhook(cast.space, echo, webhook_id="orders-in")
    services.trigger_signing_enable(trigger, actor=SYSTEM)
    services.trigger_signing_rotate(trigger, actor=SYSTEM, grace=timedelta(hours=1))
    export(cast.space, tmp_path)
    assert "unchanged" in import_(cast.space, tmp_path)
    trigger.refresh_from_db()
    assert trigger.signing_previous_secret_name and trigger.signing_previous_until
