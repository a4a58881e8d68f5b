from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse

from apps.api.auth import authenticate
from apps.api.errors import ApiError
from apps.spaces.audit import Actor
from apps.spaces.models import ApiKey, AuditEvent, Space
from apps.spaces.services import apikey_create, apikey_revoke, customer_create, sha256_hex
from tests.conftest import login

rf = RequestFactory()


def api_request(**headers):
    return rf.post("/api/v1/hello", headers=headers)


def make_key(space, mode="live"):
    return apikey_create(space, name="ci", mode=mode, actor=Actor.system())


def test_key_is_stored_only_as_hash_and_shown_once(client, cast):
    login(client, cast.owner)
    response = client.post(
        reverse("apikeys", args=[cast.space.slug]), {"name": "backend", "mode": "live"}
    )
    raw = response.context["new_key"]
    assert raw.startswith("fsk_live_")
    key = ApiKey.objects.get(space=cast.space, name="backend")
    assert key.key_hash == sha256_hex(raw) and key.last4 == raw[-4:]
    assert response["Cache-Control"] == "no-store"
    listing = client.get(reverse("apikeys", args=[cast.space.slug])).content.decode()
    assert raw not in listing and key.masked in listing


def test_valid_key_authenticates_with_space_customer_and_stage(cast):
    _, raw = make_key(cast.space)
    customer_create(cast.space, name="A", external_id="tenant-a", actor=Actor.system())
    ctx = authenticate(
        api_request(
            **{
                "x-fastn-api-key": raw,
                "x-fastn-space-id": str(cast.space.id),
                "x-fastn-space-tenantid": "tenant-a",
                "stage": "test",
            }
        )
    )
    assert ctx.space == cast.space and ctx.customer.external_id == "tenant-a"
    assert ctx.stage == "test"
    assert ApiKey.objects.get(space=cast.space).last_used_at is not None


@pytest.mark.parametrize(
    "headers",
    [
        {"x-fastn-access-key": "{raw}", "x-fastn-account-id": "{space}"},
        {"Authorization": "Bearer {raw}", "x-fastn-space-id": "{space}"},
    ],
)
def test_header_aliases(cast, headers):
    _, raw = make_key(cast.space)
    filled = {k: v.format(raw=raw, space=cast.space.id) for k, v in headers.items()}
    assert authenticate(api_request(**filled)).stage == "live"


@pytest.mark.parametrize(
    ("case", "status", "fragment"),
    [
        ("missing key", 401, "Missing API key"),
        ("unknown key", 401, "Invalid or revoked"),
        ("revoked key", 401, "Invalid or revoked"),
        ("missing space", 401, "Missing Space id"),
        ("wrong space", 403, "does not belong"),
        ("malformed space", 403, "does not belong"),
        ("test key on live", 403, "test API key"),
        ("unknown tenant", 404, "No customer"),
    ],
)
def test_authentication_failures(cast, case, status, fragment):
    key, raw = make_key(cast.space, mode="test" if case == "test key on live" else "live")
    headers = {"x-fastn-api-key": raw, "x-fastn-space-id": str(cast.space.id), "stage": "test"}
    if case == "missing key":
        del headers["x-fastn-api-key"]
    elif case == "unknown key":
        headers["x-fastn-api-key"] = "fsk_live_nope"
    elif case == "revoked key":
        apikey_revoke(key, actor=Actor.system())
    elif case == "missing space":
        del headers["x-fastn-space-id"]
    elif case == "wrong space":
        headers["x-fastn-space-id"] = str(cast.other_space.id)
    elif case == "malformed space":
        headers["x-fastn-space-id"] = "not-a-uuid"
    elif case == "test key on live":
        headers["stage"] = "live"
    elif case == "unknown tenant":
        headers["x-fastn-space-tenantid"] = "ghost"
    with pytest.raises(ApiError) as info:
        authenticate(api_request(**headers))
    assert info.value.status == status
    assert fragment in info.value.message


def test_wrong_space_attempt_is_audited_as_denied(cast):
    _, raw = make_key(cast.space)
    with pytest.raises(ApiError):
        authenticate(
            api_request(**{"x-fastn-api-key": raw, "x-fastn-space-id": str(cast.other_space.id)})
        )
    event = AuditEvent.objects.get(space=cast.space, action="api.auth")
    assert event.outcome == "denied" and event.actor_type == "service_account"


def test_api_errors_are_json_never_html(client, db):
    response = client.get("/api/v1/no/such/endpoint")
    assert response.status_code == 404
    assert response.json() == {"code": "NOT_FOUND", "statusCode": 404, "message": "Not found."}
    # Without a key that can see a workflow of that slug, the path is an unknown one.
    response = client.get("/api/v1/some-workflow")
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert client.get("/api/v1/openapi.json").json()["openapi"].startswith("3.")


def test_audit_log_rows_cannot_be_changed_or_deleted(cast):
    event = AuditEvent.objects.filter(space=cast.space).first()
    event.action = "tampered"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(space=cast.space).update(action="x")
    with pytest.raises(TypeError):
        AuditEvent.objects.filter(space=cast.space).delete()


@pytest.mark.django_db(transaction=True)
def test_audit_log_is_append_only_in_postgresql_too(cast):
    if connection.vendor != "postgresql":
        pytest.fail("the suite runs on PostgreSQL")
    from django.db import DatabaseError, transaction

    for statement in ("UPDATE spaces_auditevent SET action = 'x'", "DELETE FROM spaces_auditevent"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)


def test_audit_log_page_filters_and_exports_csv(client, cast):
    key, _ = make_key(cast.space)
    apikey_revoke(key, actor=Actor.for_user(cast.admin))
    login(client, cast.owner)
    url = reverse("audit_log", args=[cast.space.slug])
    page = client.get(url, {"action": "apikey."}).content.decode()
    assert "apikey.revoke" in page and "apikey.create" in page and "space.create" not in page
    page = client.get(url, {"user": "admin@"}).content.decode()
    assert "apikey.revoke" in page and "apikey.create" not in page
    csv_text = b"".join(
        client.get(reverse("audit_log_csv", args=[cast.space.slug])).streaming_content
    ).decode()
    assert csv_text.splitlines()[0].startswith("timestamp,actor_type,user,action")
    assert "apikey.revoke" in csv_text
    assert "Globex" not in csv_text  # the other Space's rows never show


def test_audit_page_paginates(client, cast):
    for n in range(60):
        customer_create(cast.space, name=f"c{n}", external_id=f"c{n}", actor=Actor.system())
    login(client, cast.owner)
    url = reverse("audit_log", args=[cast.space.slug])
    first = client.get(url)
    assert first.context["page"].paginator.num_pages == 2
    assert client.get(url, {"page": 2}).status_code == 200


def test_createapikey_prints_only_the_key(cast):
    out = io.StringIO()
    call_command("createapikey", "--space", cast.space.slug, "--name", "cli", "--live", stdout=out)
    raw = out.getvalue().strip()
    assert raw.startswith("fsk_live_") and "\n" not in raw
    assert ApiKey.objects.get(space=cast.space, name="cli").key_hash == sha256_hex(raw)
    assert AuditEvent.objects.filter(action="apikey.create", actor_type="system").exists()


def test_createspace_command(cast):
    out = io.StringIO()
    call_command("createspace", "Umbrella", "--owner", "viewer@example.com", stdout=out)
    space = Space.objects.get(slug=out.getvalue().strip())
    assert space.memberships.get().user == cast.viewer


def test_login_and_failed_login_are_audited(client, cast):
    client.post(reverse("account_login"), {"login": "owner@example.com", "password": "wrong"})
    assert AuditEvent.objects.filter(
        space=cast.space, action="auth.login", outcome="failure"
    ).exists()
    client.post(
        reverse("account_login"),
        {"login": "owner@example.com", "password": "correct-horse-battery-staple"},
    )
    assert AuditEvent.objects.filter(
        space=cast.space, action="auth.login", outcome="success"
    ).exists()
