"""Role enforcement and cross-Space isolation for every Space view."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.spaces.audit import Actor
from apps.spaces.models import ApiKey, AuditEvent, Customer, Invitation, Membership, Role
from apps.spaces.services import apikey_create, customer_create, invitation_create
from tests.conftest import login


def objects_of(space, owner):
    """One of each object a Space has, for URL building."""
    actor = Actor.for_user(owner)
    customer = customer_create(space, name="Cust", external_id=f"c-{space.slug}", actor=actor)
    api_key, _ = apikey_create(space, name="k", mode="test", actor=actor)
    invitation, _ = invitation_create(
        space, email=f"new-{space.slug}@example.com", role="viewer", invited_by=owner, actor=actor
    )
    member = Membership.objects.filter(space=space).exclude(role=Role.OWNER).first()
    return {"customer": customer, "api_key": api_key, "invitation": invitation, "member": member}


def mutating_requests(space, objs):
    """(method, url, data, capability-holders) for every mutating Space view."""
    s = space.slug
    m = objs["member"]
    return [
        ("post", reverse("people_invite", args=[s]), {"email": "x@example.com", "role": "viewer"}),
        ("post", reverse("people_role", args=[s, m.id]), {"role": "viewer"}),
        ("post", reverse("people_remove", args=[s, m.id]), {}),
        ("post", reverse("people_transfer", args=[s, m.id]), {"confirm": "on"}),
        ("post", reverse("invitation_revoke", args=[s, objs["invitation"].id]), {}),
        ("post", reverse("customer_create", args=[s]), {"name": "N", "external_id": "n-1"}),
        (
            "post",
            reverse("customer_edit", args=[s, objs["customer"].id]),
            {"name": "N2", "external_id": "n-2"},
        ),
        ("post", reverse("customer_delete", args=[s, objs["customer"].id]), {}),
        ("post", reverse("apikeys", args=[s]), {"name": "k2", "mode": "live"}),
        ("post", reverse("apikey_revoke", args=[s, objs["api_key"].id]), {}),
    ]


def snapshot(space):
    return (
        list(Membership.objects.filter(space=space).values_list("user_id", "role").order_by("id")),
        list(Customer.objects.filter(space=space).values_list("id", "name", "external_id")),
        list(ApiKey.objects.filter(space=space).values_list("id", "revoked_at")),
        list(Invitation.objects.filter(space=space).values_list("id", "revoked_at")),
    )


@pytest.mark.parametrize("role", ["developer", "operator", "viewer"])
def test_roles_without_manage_space_get_403_on_every_mutating_view(client, cast, role):
    objs = objects_of(cast.space, cast.owner)
    login(client, cast.member(role))
    before = snapshot(cast.space)
    for method, url, data in mutating_requests(cast.space, objs):
        response = getattr(client, method)(url, data)
        assert response.status_code == 403, (role, url)
    assert snapshot(cast.space) == before
    denied = AuditEvent.objects.filter(space=cast.space, action="access.denied", outcome="denied")
    assert denied.count() == len(mutating_requests(cast.space, objs))


def test_admin_cannot_transfer_ownership(client, cast):
    objs = objects_of(cast.space, cast.owner)
    login(client, cast.admin)
    url = reverse("people_transfer", args=[cast.space.slug, objs["member"].id])
    assert client.post(url, {"confirm": "on"}).status_code == 403
    assert Membership.objects.get(space=cast.space, role=Role.OWNER).user == cast.owner


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_owner_and_admin_can_manage(client, cast, role):
    login(client, cast.member(role))
    response = client.post(
        reverse("customer_create", args=[cast.space.slug]),
        {"name": "Initech", "external_id": "initech"},
    )
    assert response.status_code == 302
    assert Customer.objects.filter(space=cast.space, external_id="initech").exists()


def test_member_of_a_gets_404_for_every_object_url_of_b(client, cast):
    b_objs = objects_of(cast.other_space, cast.outsider)
    login(client, cast.owner)
    s = cast.space.slug  # the Space the user IS a member of, with B's ids in the URL
    b = cast.other_space.slug
    urls = [
        *(
            reverse(name, args=[b])
            for name in ("space_home", "people", "customers", "apikeys", "audit_log", "workflows")
        ),
        reverse("customer_edit", args=[s, b_objs["customer"].id]),
        reverse("customer_edit", args=[b, b_objs["customer"].id]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    before = snapshot(cast.other_space)
    b_owner = Membership.objects.get(space=cast.other_space)
    posts = [
        reverse("customer_delete", args=[s, b_objs["customer"].id]),
        reverse("apikey_revoke", args=[s, b_objs["api_key"].id]),
        reverse("invitation_revoke", args=[s, b_objs["invitation"].id]),
        reverse("people_remove", args=[s, b_owner.id]),
        reverse("people_role", args=[s, b_owner.id]),
        reverse("customer_delete", args=[b, b_objs["customer"].id]),
        reverse("apikey_revoke", args=[b, b_objs["api_key"].id]),
    ]
    for url in posts:
        assert client.post(url, {"role": "viewer"}).status_code == 404, url
    assert snapshot(cast.other_space) == before


def test_anonymous_is_sent_to_login(client, cast):
    response = client.get(reverse("people", args=[cast.space.slug]))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_viewer_can_read_but_sees_no_manage_controls(client, cast):
    login(client, cast.viewer)
    response = client.get(reverse("people", args=[cast.space.slug]))
    assert response.status_code == 200
    assert b"Invite User" not in response.content
    assert client.get(reverse("apikeys", args=[cast.space.slug])).status_code == 403


def test_every_sidebar_section_answers_200_with_honest_empty_state(client, cast):
    login(client, cast.viewer)
    for name in ("alerts",):
        response = client.get(reverse(name, args=[cast.space.slug]))
        assert response.status_code == 200
        assert b"not available yet" in response.content
