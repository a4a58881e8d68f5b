"""Custom connectors' writes (apps/connectors/services/connectors.py): versions, Publish to
live and what live and test runs resolve, slug rules, actions, delete refused while connected,
OpenAPI and definition-file imports in one transaction, and audit rows."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.connectors.models import Connection, Connector, ConnectorVersion, OAuthApp
from apps.connectors.openapi import OpenAPIImportError
from apps.connectors.selectors import resolve_connector
from apps.connectors.services import connectors as services
from apps.spaces.models import AuditEvent
from tests.connectors.console_helpers import (  # noqa: F401 (builtins is a fixture)
    SPECS,
    SYSTEM,
    builtins,
    definition,
    make_connector,
)

pytestmark = pytest.mark.django_db


def test_create_makes_v1_unpublished_and_audits(cast):
    connector = make_connector(cast.space)

    assert connector.latest_version.number == 1
    assert connector.live_version is None
    assert connector.latest_version.action_count == 1
    assert (connector.name, connector.category) == ("Acme CRM", "CRM")
    event = AuditEvent.objects.get(action="connector.create")
    assert (event.space, event.resource_id) == (cast.space, str(connector.id))


def test_each_change_makes_the_next_version_and_an_unchanged_save_none(cast):
    connector = make_connector(cast.space)
    changed = definition(description="Contacts, deals and notes.")

    v2 = services.connector_save(connector, definition=changed, actor=SYSTEM)
    again = services.connector_save(connector, definition=changed, actor=SYSTEM)

    assert v2.number == 2
    assert again is None
    assert list(connector.versions.values_list("number", flat=True)) == [2, 1]
    connector.refresh_from_db()
    assert connector.latest_version == v2
    assert connector.description == "Contacts, deals and notes."


def test_live_runs_use_the_published_version_and_test_runs_the_latest(cast):
    connector = make_connector(cast.space)
    # Before the first publish, live uses the latest too.
    assert resolve_connector(cast.space, "crm", environment="live").version_label == "v1"
    services.connector_publish(connector, actor=SYSTEM)
    changed = definition(actions=[{"name": "listDeals", "method": "GET", "path": "/deals"}])
    services.connector_save(connector, definition=changed, actor=SYSTEM)

    live = resolve_connector(cast.space, "crm", environment="live")
    test = resolve_connector(cast.space, "crm", environment="test")

    assert (live.version_label, [a.name for a in live.definition.actions]) == (
        "v1", ["listContacts"]
    )  # fmt: skip
    assert (test.version_label, [a.name for a in test.definition.actions]) == ("v2", ["listDeals"])
    services.connector_publish(connector, actor=SYSTEM)
    assert resolve_connector(cast.space, "crm", environment="live").version_label == "v2"
    assert list(AuditEvent.objects.filter(action="connector.publish").order_by("id")
                .values_list("detail", flat=True)) == [{"version": 1, "previous": None},
                                                       {"version": 2, "previous": 1}]  # fmt: skip


def test_publishing_the_live_version_again_is_refused_and_an_old_one_rolls_back(cast):
    connector = make_connector(cast.space)
    services.connector_publish(connector, actor=SYSTEM)
    with pytest.raises(ValidationError, match="v1 is already live"):
        services.connector_publish(connector, actor=SYSTEM)
    services.connector_save(connector, definition=definition(name="CRM 2"), actor=SYSTEM)
    services.connector_publish(connector, actor=SYSTEM)

    services.connector_publish(connector, actor=SYSTEM, version=connector.versions.get(number=1))

    assert connector.live_version.number == 1


@pytest.mark.usefixtures("builtins")
def test_slugs_of_built_ins_other_connectors_and_reserved_words_are_refused(cast):
    make_connector(cast.space)
    for slug, message in (
        ("payments-demo", "slug of a built-in connector"),
        ("http", "slug of a built-in connector"),
        ("import", "slug of a built-in connector"),
        ("crm", "already uses the slug"),
        ("Bad_Slug", "lowercase letters"),
    ):  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            services.connector_create(cast.space, definition=definition(slug=slug), actor=SYSTEM)
        assert message in str(caught.value.message_dict["slug"]), slug
    assert Connector.objects.filter(space=cast.space).count() == 1


def test_the_same_slug_in_another_space_is_fine(cast):
    make_connector(cast.space)
    make_connector(cast.other_space)

    assert Connector.objects.filter(slug="crm").count() == 2


def test_slugs_whose_code_names_clash_are_refused(cast):
    make_connector(cast.space, slug="cin7-1")

    with pytest.raises(ValidationError, match="same name in code"):
        make_connector(cast.space, slug="cin71")


def test_the_slug_cannot_change(cast):
    connector = make_connector(cast.space)

    with pytest.raises(ValidationError, match="slug cannot change"):
        services.connector_save(connector, definition=definition(slug="crm2"), actor=SYSTEM)


def test_an_invalid_definition_lists_its_problems_and_saves_nothing(cast):
    bad = definition(actions=[{"name": "get item", "method": "FETCH", "path": "items/{id}"}])

    with pytest.raises(ValidationError) as caught:
        services.connector_create(cast.space, definition=bad, actor=SYSTEM)

    text = " ".join(caught.value.messages)
    assert "$.actions[0].name: must be a JavaScript identifier" in text
    assert "$.actions[0].method: one of GET" in text
    assert "$.actions[0].path: must start with /" in text
    assert not Connector.objects.exists()


def test_actions_are_added_renamed_and_deleted_as_new_versions(cast):
    connector = make_connector(cast.space, test={"action": "listContacts"})
    create = {"name": "createContact", "method": "POST", "path": "/contacts",
              "body": {"encoding": "json", "schema": {"type": "object"}}}  # fmt: skip

    services.connector_action_save(connector, action=create, actor=SYSTEM)
    with pytest.raises(ValidationError, match="already has an action createContact"):
        services.connector_action_save(connector, action=create, actor=SYSTEM)
    renamed = {"name": "searchContacts", "method": "GET", "path": "/contacts"}
    services.connector_action_save(connector, action=renamed, replaces="listContacts",
                                   actor=SYSTEM)  # fmt: skip
    latest = services.latest_definition(connector)
    assert [a["name"] for a in latest["actions"]] == ["searchContacts", "createContact"]
    assert latest["test"] == {"action": "searchContacts"}
    services.connector_action_delete(connector, name="searchContacts", actor=SYSTEM)

    latest = services.latest_definition(connector)
    assert [a["name"] for a in latest["actions"]] == ["createContact"]
    assert "test" not in latest
    assert connector.latest_version.number == 4


def test_delete_is_refused_while_connections_use_it(cast):
    connector = make_connector(cast.space)
    Connection.objects.create(space=cast.space, connector_slug="crm", name="Sales team",
                              auth_method="BEARER")  # fmt: skip

    with pytest.raises(ValidationError) as caught:
        services.connector_delete(connector, actor=SYSTEM)

    assert caught.value.messages == [
        "Acme CRM cannot be deleted: 1 connection uses it (Sales team (Space)). Disconnect it on "
        "the Connections page first."
    ]
    assert Connector.objects.filter(pk=connector.pk).exists()


def test_delete_removes_versions_and_the_oauth_app_and_audits(cast):
    connector = make_connector(cast.space)
    OAuthApp.objects.create(space=cast.space, connector_slug="crm", client_id="abc")
    OAuthApp.objects.create(space=cast.other_space, connector_slug="crm", client_id="theirs")

    services.connector_delete(connector, actor=SYSTEM)

    assert not Connector.objects.filter(space=cast.space).exists()
    assert not ConnectorVersion.objects.filter(connector_id=connector.pk).exists()
    assert list(OAuthApp.objects.values_list("client_id", flat=True)) == ["theirs"]
    assert AuditEvent.objects.get(action="connector.delete").detail["oauth_apps"] == 1


# --- Imports -------------------------------------------------------------------------------------


def test_openapi_import_creates_a_connector_with_its_report(cast):
    raw = (SPECS / "swagger-petstore-openapi3.yaml").read_bytes()

    result = services.connector_import_openapi(cast.space, raw, actor=SYSTEM, slug="petstore")

    assert result.status == "created"
    connector = result.connector
    assert (connector.slug, connector.name) == ("petstore", "Swagger Petstore - OpenAPI 3.0")
    version = connector.latest_version
    assert (version.source, version.action_count) == ("openapi", 19)
    assert len(version.import_report["actions"]) == 19
    assert version.import_report["spec_version"] == "OpenAPI 3.0.4"


def test_reimport_into_a_connector_keeps_its_name_and_category_and_skips_unchanged(cast):
    raw = (SPECS / "petstore-expanded-openapi3.json").read_bytes()
    first = services.connector_import_openapi(cast.space, raw, actor=SYSTEM, slug="pets")
    connector = first.connector
    services.connector_save(
        connector, actor=SYSTEM,
        definition={**services.latest_definition(connector), "name": "Pets",
                    "category": "Animals"},
    )  # fmt: skip

    again = services.connector_import_openapi(cast.space, raw, actor=SYSTEM, connector=connector)
    unchanged = services.connector_import_openapi(cast.space, raw, actor=SYSTEM,
                                                  connector=connector)  # fmt: skip

    assert again.status == "unchanged"  # the name and category were kept: nothing differs
    assert unchanged.version is None
    newer = raw.replace(b'"operationId": "deletePet"', b'"operationId": "removePet"')
    updated = services.connector_import_openapi(cast.space, newer, actor=SYSTEM,
                                                connector=connector)  # fmt: skip
    assert (updated.status, updated.version.number) == ("updated", 3)
    latest = services.latest_definition(connector)
    assert (latest["name"], latest["category"]) == ("Pets", "Animals")
    assert "removePet" in [a["name"] for a in latest["actions"]]


def test_an_invalid_document_imports_nothing(cast):
    raw = b'{"openapi": "3.0.3", "info": {"title": "Broken"}, "paths": {}}'

    with pytest.raises(OpenAPIImportError, match=r"\$\.info: 'version' is a required property"):
        services.connector_import_openapi(cast.space, raw, actor=SYSTEM)

    assert not Connector.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="connector.").exists()


def test_an_import_whose_slug_is_taken_rolls_back_whole(cast):
    make_connector(cast.space, slug="swagger-petstore")
    raw = (SPECS / "petstore-expanded-openapi3.json").read_bytes()

    with pytest.raises(ValidationError, match="already uses the slug"):
        services.connector_import_openapi(cast.space, raw, actor=SYSTEM)

    assert Connector.objects.count() == 1
    assert ConnectorVersion.objects.count() == 1


def test_definition_file_import_is_idempotent_and_publishes_when_asked(cast):
    data = definition(slug="files-crm")

    created = services.connector_import_definition(cast.space, data, actor=SYSTEM, publish=True)
    unchanged = services.connector_import_definition(cast.space, data, actor=SYSTEM,
                                                     publish=True)  # fmt: skip
    updated = services.connector_import_definition(
        cast.space, {**data, "description": "New"}, actor=SYSTEM
    )

    assert (created.status, created.published) == ("created", True)
    assert (unchanged.status, unchanged.version, unchanged.published) == ("unchanged", None, False)
    assert (updated.status, updated.version.number) == ("updated", 2)
    connector = Connector.objects.get(slug="files-crm")
    assert (connector.latest_version.number, connector.live_version.number) == (2, 1)
    assert connector.latest_version.source == "file"
