"""services/connections.py: create, replace, disconnect, default, status — atomic, audited
without values, credentials sealed to the row."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.connectors.credentials import unseal
from apps.connectors.models import Connection, OAuthApp
from apps.connectors.services.connections import (
    create_connection,
    disconnect,
    mark_status,
    replace_credential,
    set_default,
)
from apps.connectors.services.oauth_apps import oauth_app_create
from apps.secrets.services import datakey_rotate
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent, Customer
from tests.connectors.factories import definition, make_connector

pytestmark = pytest.mark.django_db

TOKEN = "tok-very-secret-0001"


@pytest.fixture
def acme(cast):
    return make_connector(cast.space)


def actor(cast):
    return Actor.for_user(cast.owner)


def bearer(cast, name="Main", customer=None, token=TOKEN):
    return create_connection(
        cast.space,
        connector_slug="acme",
        name=name,
        auth_method="BEARER",
        credential={"token": token},
        customer=customer,
        actor=actor(cast),
    )


def test_create_seals_the_credential_and_audits_without_it(cast, acme):
    connection = bearer(cast)
    connection.refresh_from_db()
    assert connection.is_default and connection.status == "active"
    assert TOKEN.encode() not in bytes(connection.ciphertext)
    assert unseal(Connection.objects.select_related("data_key").get(pk=connection.pk)) == {
        "token": TOKEN
    }
    event = AuditEvent.objects.get(action="connection.create")
    assert event.detail["connector"] == "acme" and event.detail["auth"] == "BEARER"
    assert TOKEN not in str(event.detail) and TOKEN not in event.resource_label


def test_first_connection_per_scope_is_the_default(cast, acme):
    customer = Customer.objects.create(space=cast.space, name="Cust", external_id="c1")
    first, second = bearer(cast, "One"), bearer(cast, "Two")
    mine = bearer(cast, "Mine", customer=customer)
    assert first.is_default and not second.is_default and mine.is_default
    set_default(second, actor=actor(cast))
    assert set(Connection.objects.filter(is_default=True).values_list("name", flat=True)) == {
        "Two",
        "Mine",
    }
    assert AuditEvent.objects.filter(action="connection.set_default").count() == 1


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"connector_slug": "nope"}, "connector_slug", "no connector 'nope'"),
        ({"auth_method": "OAUTH_2"}, "auth_method", "does not offer 'OAUTH_2'"),
        ({"credential": {}}, "credential", "token is required"),
        ({"credential": {"tokn": "x"}}, "credential", "Unknown credential field 'tokn'"),
        ({"credential": {"token": 5}}, "credential", "token is required (a string)"),
        ({"name": "  "}, "name", "needs a name"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(cast, acme, kwargs, field, fragment):
    arguments = {
        "connector_slug": "acme",
        "name": "Main",
        "auth_method": "BEARER",
        "credential": {"token": TOKEN},
        "actor": actor(cast),
        **kwargs,
    }
    with pytest.raises(ValidationError) as caught:
        create_connection(cast.space, **arguments)
    assert field in caught.value.message_dict
    assert fragment in " ".join(caught.value.message_dict[field])
    assert not Connection.objects.exists()


def test_a_connector_of_another_space_is_unknown(cast):
    make_connector(cast.other_space)
    with pytest.raises(ValidationError, match="no connector"):
        bearer(cast)


def test_required_connection_fields_and_custom_values(cast):
    data = definition(
        "shop",
        connectionFields=[{"name": "shop", "label": "Shop", "required": True}],
    )
    make_connector(cast.space, data)
    base = dict(connector_slug="shop", name="S", actor=actor(cast))
    with pytest.raises(ValidationError, match="Shop"):
        create_connection(cast.space, auth_method="NO_AUTH", credential=None, **base)
    with pytest.raises(ValidationError, match=r"values\.token is required"):
        create_connection(
            cast.space, auth_method="INPUT", credential={"values": {}}, config={"shop": "x"}, **base
        )
    made = create_connection(
        cast.space,
        auth_method="INPUT",
        credential={"values": {"token": "abcd"}},
        config={"shop": "x"},
        **base,
    )
    assert made.config == {"shop": "x"}


def test_names_are_unique_per_scope(cast, acme):
    bearer(cast)
    with pytest.raises(ValidationError, match="already exists"):
        bearer(cast)


def test_replace_credential_reactivates_and_audits(cast, acme):
    connection = bearer(cast)
    mark_status(connection, "expired", error="refresh refused")
    replace_credential(connection, credential={"token": "tok-new-value-2"}, actor=actor(cast))
    row = Connection.objects.select_related("data_key").get(pk=connection.pk)
    assert row.status == "active" and row.last_error == ""
    assert unseal(row) == {"token": "tok-new-value-2"}
    assert AuditEvent.objects.filter(action="connection.credential_replace").count() == 1
    assert AuditEvent.objects.filter(action="connection.status").count() == 1


def test_disconnect_deletes_and_promotes_the_next_default(cast, acme):
    first = bearer(cast, "One")
    second = bearer(cast, "Two")
    disconnect(first, actor=actor(cast))
    assert not Connection.objects.filter(pk=first.pk).exists()
    assert Connection.objects.get(pk=second.pk).is_default
    assert AuditEvent.objects.get(action="connection.disconnect").detail["name"] == "One"


def test_oauth_pending_and_client_credentials(cast):
    data = definition(
        "oauthy",
        auth={
            "methods": [
                {
                    "type": "OAUTH_2",
                    "grantTypes": ["authorization_code", "client_credentials"],
                    "authorizationUrl": "http://127.0.0.1:1/authorize",
                    "tokenUrl": "http://127.0.0.1:1/token",
                }
            ]
        },
    )
    make_connector(cast.space, data)
    base = dict(connector_slug="oauthy", auth_method="OAUTH_2", actor=actor(cast))
    pending = create_connection(cast.space, name="P", credential=None, status="pending", **base)
    assert pending.status == "pending" and not pending.ciphertext
    with pytest.raises(ValidationError, match="accessToken"):
        create_connection(cast.space, name="Q", credential=None, **base)
    made = create_connection(
        cast.space,
        name="T",
        credential={"accessToken": "at-123456", "refreshToken": "rt-123456", "expiresAt": 2e9},
        **base,
    )
    assert made.expires_at.year == 2033
    cc = create_connection(cast.space, name="C", credential={"clientCredentials": True}, **base)
    row = Connection.objects.select_related("data_key").get(pk=cc.pk)
    assert unseal(row) == {"clientCredentials": True}


def test_rotating_the_data_keys_re_encrypts_connection_credentials_and_oauth_apps(cast, acme):
    connection, other = bearer(cast), bearer(cast, name="Other", token="tok-other")
    app = oauth_app_create(
        cast.space, connector_slug="acme", client_id="cid", client_secret="client-secret-1",
        actor=actor(cast),
    )  # fmt: skip
    # Its associated data no longer matches: it cannot be decrypted any more.
    Connection.objects.filter(pk=other.pk).update(connector_slug="another")
    old_key = connection.data_key_id

    report = datakey_rotate(actor=Actor.system(), batch_size=1)

    assert report.others == {"connection credential(s)": 1, "OAuth app credential(s)": 1}
    assert report.failed_others == [f"connection {other.pk}"]
    rotated = Connection.objects.select_related("data_key").get(pk=connection.pk)
    assert rotated.data_key_id != old_key and rotated.data_key.active
    assert unseal(rotated) == {"token": TOKEN}
    app = OAuthApp.objects.select_related("data_key").get(pk=app.pk)
    assert app.data_key.active and unseal(app)["clientSecret"] == "client-secret-1"
    assert Connection.objects.get(pk=other.pk).data_key_id == old_key  # left as it was
