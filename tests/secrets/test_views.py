"""Settings → Secrets pages: roles, tenancy, validation, and no value in any page ever."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote, quote_plus

import pytest
from django.urls import NoReverseMatch, URLResolver, get_resolver, reverse

from apps.secrets.models import Secret
from apps.secrets.services import secret_resolve
from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent
from apps.spaces.services import customer_create
from tests.conftest import login
from tests.secrets.conftest import make_secret

SPACE_PREFIX = "s/<slug:space_slug>/"
# A distinctive core (found whatever the escaping) wrapped in characters that HTML, URL and
# JSON encodings all change.
CORE = "Zq7Kx9Mm4Pp2Ww8"
TEXT_VALUE = f'sk_live_{CORE} <b>&"quoted"/+=? päss'
JSON_CORE = "Jv8Rr3Tt6Yy1Uu0"
JSON_VALUE = json.dumps({"token": f"{JSON_CORE}/+ <&>", "n": 1})


def forms_of(value: str) -> list[str]:
    raw = value.encode()
    return [
        value,
        html.escape(value),
        html.escape(value, quote=False),
        json.dumps(value)[1:-1],
        quote(value, safe=""),
        quote_plus(value),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
    ]


def assert_absent(content: str, value: str, core: str, where: str) -> None:
    assert core not in content, where
    for form in forms_of(value):
        assert form not in content, (where, form)


def secret_urls(space, secret) -> list[tuple[str, str, dict]]:
    s = space.slug
    return [
        ("get", reverse("secrets", args=[s]), {}),
        ("get", reverse("secret_create", args=[s]), {}),
        ("post", reverse("secret_create", args=[s]), {"name": "NEW", "type": "text", "value": "v"}),
        ("get", reverse("secret_rotate", args=[s, secret.id]), {}),
        ("post", reverse("secret_rotate", args=[s, secret.id]), {"value": "new"}),
        ("post", reverse("secret_delete", args=[s, secret.id]), {}),
    ]


def snapshot(space):
    return list(Secret.objects.filter(space=space).values_list("id", "name", "nonce", "updated_at"))


@pytest.mark.parametrize("role", ["developer", "operator", "viewer"])
def test_roles_without_manage_space_get_403_on_every_secrets_page(client, cast, role):
    secret = make_secret(cast.space)
    before = snapshot(cast.space)
    login(client, cast.member(role))
    urls = secret_urls(cast.space, secret)
    for method, url, data in urls:
        assert getattr(client, method)(url, data).status_code == 403, (role, method, url)
    assert snapshot(cast.space) == before
    denied = AuditEvent.objects.filter(space=cast.space, action="access.denied")
    assert denied.count() == len(urls)


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owner_and_admin_create_rotate_and_delete(client, cast, role):
    login(client, cast.member(role))
    s = cast.space.slug
    response = client.post(
        reverse("secret_create", args=[s]), {"name": "API_TOKEN", "type": "text", "value": "one"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("secrets", args=[s])
    secret = Secret.objects.get(space=cast.space, name="API_TOKEN")
    assert secret.created_by == cast.member(role)

    response = client.post(reverse("secret_rotate", args=[s, secret.id]), {"value": "two"})
    assert response.status_code == 302
    assert secret_resolve(cast.space, name="API_TOKEN") == ("text", "two")

    assert client.post(reverse("secret_delete", args=[s, secret.id])).status_code == 302
    assert not Secret.objects.filter(pk=secret.pk).exists()
    assert client.get(reverse("secret_delete", args=[s, secret.id])).status_code == 405


def test_outsider_gets_404_for_another_spaces_secret(client, cast):
    secret = make_secret(cast.space, "API_TOKEN", "mine")
    before = snapshot(cast.space)
    login(client, cast.outsider)
    for slug in (cast.other_space.slug, cast.space.slug):
        assert client.get(reverse("secret_rotate", args=[slug, secret.id])).status_code == 404
        rotate = client.post(reverse("secret_rotate", args=[slug, secret.id]), {"value": "x"})
        assert rotate.status_code == 404
        assert client.post(reverse("secret_delete", args=[slug, secret.id])).status_code == 404
    assert client.get(reverse("secrets", args=[cast.space.slug])).status_code == 404
    assert snapshot(cast.space) == before


def test_a_customer_of_another_space_is_refused_with_a_form_error(client, cast):
    foreign = customer_create(
        cast.other_space, name="Foreign", external_id="foreign", actor=Actor.system()
    )
    login(client, cast.owner)
    response = client.post(
        reverse("secret_create", args=[cast.space.slug]),
        {"name": "TOKEN", "type": "text", "value": TEXT_VALUE, "customer": str(foreign.id)},
    )
    assert response.status_code == 200
    assert "customer" in response.context["form"].errors
    assert not Secret.objects.exists()
    assert_absent(response.content.decode(), TEXT_VALUE, CORE, "customer error page")


def test_the_scope_select_lists_only_this_spaces_customers(client, cast):
    actor = Actor.system()
    customer_create(cast.space, name="Initech", external_id="initech", actor=actor)
    customer_create(cast.other_space, name="Hooli", external_id="hooli", actor=actor)
    login(client, cast.owner)
    page = client.get(reverse("secret_create", args=[cast.space.slug])).content.decode()
    assert "Initech" in page and "Hooli" not in page


def test_invalid_json_is_a_field_error_and_the_value_is_not_echoed(client, cast):
    login(client, cast.owner)
    bad = JSON_VALUE[:-1] + ","
    response = client.post(
        reverse("secret_create", args=[cast.space.slug]),
        {"name": "CONFIG", "type": "json", "value": bad},
    )
    assert response.status_code == 200
    assert any("Not valid JSON" in e for e in response.context["form"].errors["value"])
    assert not Secret.objects.exists()
    assert_absent(response.content.decode(), bad, JSON_CORE, "json error page")
    assert response["Cache-Control"] == "no-store"


def test_a_rotate_with_invalid_json_keeps_the_old_value_and_does_not_echo(client, cast):
    secret = make_secret(cast.space, "CONFIG", '{"a": 1}', type="json")
    login(client, cast.owner)
    bad = f"{{{JSON_CORE}"
    response = client.post(
        reverse("secret_rotate", args=[cast.space.slug, secret.id]), {"value": bad}
    )
    assert response.status_code == 200 and response.context["form"].errors["value"]
    assert JSON_CORE not in response.content.decode()
    assert secret_resolve(cast.space, name="CONFIG") == ("json", '{"a": 1}')


def test_an_invalid_name_keeps_the_name_but_not_the_value(client, cast):
    login(client, cast.owner)
    response = client.post(
        reverse("secret_create", args=[cast.space.slug]),
        {"name": "lower_case", "type": "text", "value": TEXT_VALUE},
    )
    assert response.context["form"].errors["name"]
    content = response.content.decode()
    assert "lower_case" in content
    assert_absent(content, TEXT_VALUE, CORE, "name error page")


def test_name_and_json_errors_are_reported_together(client, cast):
    login(client, cast.owner)
    response = client.post(
        reverse("secret_create", args=[cast.space.slug]),
        {"name": "bad name", "type": "json", "value": f"[{JSON_CORE}"},
    )
    errors = response.context["form"].errors
    assert errors["name"] and any("Not valid JSON" in e for e in errors["value"])
    assert JSON_CORE not in response.content.decode()


def test_the_list_shows_name_scope_and_type_but_never_the_value(client, cast):
    acme = customer_create(cast.space, name="Acme Co", external_id="acme", actor=Actor.system())
    make_secret(cast.space, "SPACE_TOKEN", TEXT_VALUE)
    make_secret(cast.space, "CUSTOMER_JSON", JSON_VALUE, type="json", customer=acme)
    login(client, cast.admin)
    content = client.get(reverse("secrets", args=[cast.space.slug])).content.decode()
    assert "SPACE_TOKEN" in content and "CUSTOMER_JSON" in content
    assert "Acme Co" in content and "JSON" in content and "Never" in content
    assert_absent(content, TEXT_VALUE, CORE, "list")
    assert_absent(content, JSON_VALUE, JSON_CORE, "list")


def space_page_names() -> list[str]:
    """Every URL name under s/<space_slug>/, with its namespace."""
    space = next(
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and str(p.pattern) == SPACE_PREFIX
    )
    names: list[str] = []

    def walk(patterns, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                walk(pattern.url_patterns, inner)
            elif pattern.name:
                names.append(namespace + pattern.name)

    walk(space.url_patterns, "")
    return names


def space_page_urls(slug: str) -> list[str]:
    urls = []
    for name in space_page_names():
        try:
            urls.append(reverse(name, kwargs={"space_slug": slug}))
        except NoReverseMatch:  # needs an object id too
            continue
    return urls


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def test_after_saving_no_page_of_the_console_contains_the_value(client, cast):
    """Fetch every page a Space has, as its Owner, plainly and through htmx, after creating,
    using and rotating secrets (and a failed attempt): no value in any form."""
    login(client, cast.owner)
    s = cast.space.slug
    acme = customer_create(cast.space, name="Acme Co", external_id="acme", actor=Actor.system())
    create = reverse("secret_create", args=[s])
    responses = [
        ("create text", client.post(create, {"name": "TEXT", "type": "text", "value": TEXT_VALUE})),
        (
            "create json",
            client.post(
                create,
                {"name": "JSON", "type": "json", "value": JSON_VALUE, "customer": str(acme.id)},
            ),
        ),
        (
            "failed create",
            client.post(create, {"name": "TEXT", "type": "text", "value": TEXT_VALUE}),
        ),
    ]
    assert Secret.objects.filter(space=cast.space).count() == 2
    secret_resolve(cast.space, name="TEXT")  # sets "last used"
    text = Secret.objects.get(name="TEXT")
    old = "old-value-Oo5Ll3Dd9"
    rotated = make_secret(cast.space, "ROTATED", old)
    responses.append(
        (
            "rotate",
            client.post(
                reverse("secret_rotate", args=[s, rotated.id]), {"value": TEXT_VALUE + "2"}
            ),
        )
    )
    assert secret_resolve(cast.space, name="ROTATED")[1] == TEXT_VALUE + "2"

    urls = space_page_urls(s)
    assert {reverse(n, args=[s]) for n in ("secrets", "configs", "audit_log", "people")} <= set(
        urls
    )
    urls += [
        reverse("secret_rotate", args=[s, text.id]),
        reverse("secret_rotate", args=[s, rotated.id]),
        reverse("audit_log", args=[s]) + "?action=secret.",
    ]
    for url in urls:
        responses.append((url, client.get(url)))
        responses.append((url + " (htmx)", client.get(url, headers={"HX-Request": "true"})))
    for where, response in responses:
        assert response.status_code < 500, where
        content = body(response)
        assert_absent(content, TEXT_VALUE, CORE, where)
        assert_absent(content, TEXT_VALUE + "2", CORE, where)
        assert_absent(content, JSON_VALUE, JSON_CORE, where)
        assert_absent(content, old, "Oo5Ll3Dd9", where)


def test_changes_are_in_the_audit_log_page_without_values(client, cast):
    login(client, cast.owner)
    s = cast.space.slug
    client.post(
        reverse("secret_create", args=[s]),
        {"name": "API_TOKEN", "type": "text", "value": TEXT_VALUE},
    )
    secret = Secret.objects.get(name="API_TOKEN")
    client.post(reverse("secret_rotate", args=[s, secret.id]), {"value": TEXT_VALUE + "2"})
    client.post(reverse("secret_delete", args=[s, secret.id]))
    page = client.get(reverse("audit_log", args=[s])).content.decode()
    for action in ("secret.create", "secret.rotate", "secret.delete"):
        assert action in page
    events = AuditEvent.objects.filter(space=cast.space, action__startswith="secret.")
    assert events.count() == 3
    assert all(
        e.actor_label == "owner@example.com" and e.resource_label == "API_TOKEN" for e in events
    )
    assert CORE not in json.dumps(list(events.values()), default=str)
