"""secret_create / rotate / delete / resolve: validation, scoping, audit without values."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.secrets.errors import SecretNotFound
from apps.secrets.models import Secret
from apps.secrets.services import secret_delete, secret_resolve, secret_rotate
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent
from apps.spaces.services import customer_create
from tests.secrets.conftest import make_secret

VALUE = "pa55-Zq7Kx9Mm4Pp2Ww8"


def audit_text(space) -> str:
    rows = AuditEvent.objects.filter(space=space).values()
    return json.dumps(list(rows), default=str)


def test_create_rotate_delete_are_audited_without_the_value(cast):
    actor = Actor.for_user(cast.owner)
    secret = make_secret(cast.space, "API_TOKEN", VALUE)
    secret_rotate(secret, value=VALUE + "-2", actor=actor)
    secret_delete(secret, actor=actor)
    actions = list(
        AuditEvent.objects.filter(space=cast.space, action__startswith="secret.")
        .order_by("id")
        .values_list("action", "resource_label", "detail")
    )
    assert actions == [
        ("secret.create", "API_TOKEN", {"type": "text", "scope": "space"}),
        ("secret.rotate", "API_TOKEN", {"type": "text", "scope": "space"}),
        ("secret.delete", "API_TOKEN", {"type": "text", "scope": "space"}),
    ]
    assert "Zq7Kx9Mm4Pp2Ww8" not in audit_text(cast.space)
    assert not Secret.objects.filter(space=cast.space).exists()


def test_rotate_changes_the_value_and_updated_at_only(cast):
    secret = make_secret(cast.space, "API_TOKEN", "one")
    created = Secret.objects.get(pk=secret.pk)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        secret_rotate(secret, value="two", actor=Actor.system())
    row = Secret.objects.get(pk=secret.pk)
    assert row.created_at == created.created_at and row.updated_at > created.updated_at
    assert secret_resolve(cast.space, name="API_TOKEN") == ("text", "two")


def test_resolve_prefers_the_customers_secret_then_the_spaces(cast):
    actor = Actor.system()
    acme = customer_create(cast.space, name="Acme Co", external_id="acme", actor=actor)
    bolt = customer_create(cast.space, name="Bolt", external_id="bolt", actor=actor)
    make_secret(cast.space, "TOKEN", "space-value")
    make_secret(cast.space, "TOKEN", "acme-value", customer=acme)
    make_secret(cast.space, "ONLY_ACME", "acme-only", customer=acme)
    assert secret_resolve(cast.space, name="TOKEN", customer=acme) == ("text", "acme-value")
    assert secret_resolve(cast.space, name="TOKEN", customer=bolt) == ("text", "space-value")
    assert secret_resolve(cast.space, name="TOKEN") == ("text", "space-value")
    with pytest.raises(SecretNotFound):
        secret_resolve(cast.space, name="ONLY_ACME", customer=bolt)
    with pytest.raises(SecretNotFound):
        secret_resolve(cast.space, name="ONLY_ACME")


def test_a_missing_secret_names_itself_and_no_value(cast):
    make_secret(cast.other_space, "OTHER_SPACE_ONLY", VALUE)
    with pytest.raises(SecretNotFound) as excinfo:
        secret_resolve(cast.space, name="OTHER_SPACE_ONLY")
    assert str(excinfo.value) == "Secret OTHER_SPACE_ONLY is not defined in this Space"


def test_json_secrets_are_validated_and_resolved_as_their_text(cast):
    with pytest.raises(ValidationError) as excinfo:
        make_secret(cast.space, "CONFIG", '{"token": "Zq7Kx9Mm4Pp2Ww8",}', type="json")
    assert "Not valid JSON" in str(excinfo.value) and "Zq7Kx9" not in str(excinfo.value)
    with pytest.raises(ValidationError):
        make_secret(cast.space, "CONFIG", "NaN", type="json")
    make_secret(cast.space, "CONFIG", '{"token": "abc", "n": 1}', type="json")
    assert secret_resolve(cast.space, name="CONFIG") == ("json", '{"token": "abc", "n": 1}')
    secret = Secret.objects.get(name="CONFIG")
    with pytest.raises(ValidationError):
        secret_rotate(secret, value="not json", actor=Actor.system())


@pytest.mark.parametrize(
    "name", ["lower", "1STARTS_WITH_DIGIT", "HAS-DASH", "SP ACE", "", "A" * 129]
)
def test_names_must_be_upper_snake_case(cast, name):
    with pytest.raises(ValidationError):
        make_secret(cast.space, name)


def test_empty_and_oversized_values_are_refused(cast):
    with pytest.raises(ValidationError):
        make_secret(cast.space, "EMPTY", "")
    with pytest.raises(ValidationError):
        make_secret(cast.space, "HUGE", "x" * (64 * 1024 + 1))


def test_a_name_is_unique_per_scope(cast):
    acme = customer_create(cast.space, name="Acme Co", external_id="acme", actor=Actor.system())
    make_secret(cast.space, "TOKEN")
    make_secret(cast.space, "TOKEN", customer=acme)
    make_secret(cast.other_space, "TOKEN")
    with pytest.raises(ValidationError, match="already exists for the Space"):
        make_secret(cast.space, "TOKEN")
    with pytest.raises(ValidationError, match="already exists for Acme Co"):
        make_secret(cast.space, "TOKEN", customer=acme)


def test_the_database_enforces_one_space_wide_secret_per_name(cast):
    secret = make_secret(cast.space, "TOKEN")
    with pytest.raises(IntegrityError), transaction.atomic():
        Secret.objects.create(
            space=cast.space, name="TOKEN", ciphertext=b"x", nonce=b"y", data_key=secret.data_key
        )


def test_a_customer_of_another_space_is_refused(cast):
    foreign = customer_create(
        cast.other_space, name="Foreign", external_id="foreign", actor=Actor.system()
    )
    with pytest.raises(ValidationError, match="another Space"):
        make_secret(cast.space, "TOKEN", customer=foreign)
    assert not Secret.objects.exists()


def test_last_used_is_recorded_at_most_once_a_minute(cast):
    make_secret(cast.space, "TOKEN")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        secret_resolve(cast.space, name="TOKEN")
    assert Secret.objects.get().last_used_at == start
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        secret_resolve(cast.space, name="TOKEN")
    assert Secret.objects.get().last_used_at == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        secret_resolve(cast.space, name="TOKEN")
    assert Secret.objects.get().last_used_at == start + timedelta(seconds=61)
