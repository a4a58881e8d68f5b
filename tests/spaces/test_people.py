from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from apps.spaces.audit import Actor
from apps.spaces.models import AuditEvent, Invitation, Membership, Role
from apps.spaces.services import (
    invitation_accept,
    invitation_create,
    membership_change_role,
    membership_remove,
    ownership_transfer,
)
from tests.conftest import login, make_user


def invite(cast, email="new@example.com", role="developer"):
    return invitation_create(
        cast.space, email=email, role=role, invited_by=cast.owner, actor=Actor.for_user(cast.owner)
    )


def test_invitation_link_adds_the_membership_once(client, cast):
    _, token = invite(cast)
    newcomer = make_user("new@example.com")
    login(client, newcomer)
    url = reverse("invitation_accept", args=[token])
    assert client.post(url).status_code == 302
    assert Membership.objects.get(space=cast.space, user=newcomer).role == Role.DEVELOPER
    again = client.post(url)
    assert again.status_code == 400
    assert b"already been used" in again.content
    assert AuditEvent.objects.filter(space=cast.space, action="member.join").count() == 1


def test_expired_invitation_is_refused(client, cast):
    invitation, token = invite(cast)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(1))
    login(client, make_user("new@example.com"))
    response = client.post(reverse("invitation_accept", args=[token]))
    assert response.status_code == 400
    assert b"expired" in response.content
    assert not Membership.objects.filter(space=cast.space, user__email="new@example.com").exists()


def test_invitation_for_another_email_is_refused(client, cast):
    _, token = invite(cast)
    login(client, make_user("someone-else@example.com"))
    response = client.post(reverse("invitation_accept", args=[token]))
    assert response.status_code == 400
    assert b"is for new@example.com" in response.content


def test_unknown_invitation_token_is_404(client, cast):
    login(client, cast.viewer)
    assert client.get(reverse("invitation_accept", args=["nope"])).status_code == 404


def test_inviting_an_existing_member_is_a_field_error(client, cast):
    login(client, cast.owner)
    response = client.post(
        reverse("people_invite", args=[cast.space.slug]),
        {"email": "viewer@example.com", "role": "admin"},
    )
    assert response.status_code == 200
    assert b"already a member" in response.content


def test_owner_cannot_be_invited_as_owner(client, cast):
    login(client, cast.owner)
    response = client.post(
        reverse("people_invite", args=[cast.space.slug]),
        {"email": "x@example.com", "role": "owner"},
    )
    assert b"Select a valid choice" in response.content
    assert not Invitation.objects.filter(email="x@example.com").exists()


def test_owner_cannot_be_removed_or_demoted(cast):
    owner = Membership.objects.get(space=cast.space, role=Role.OWNER)
    actor = Actor.for_user(cast.admin)
    with pytest.raises(ValidationError):
        membership_remove(owner, actor=actor)
    with pytest.raises(ValidationError):
        membership_change_role(owner, role="viewer", actor=actor)
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER


def test_ownership_transfer_swaps_owner_and_admin(cast):
    target = Membership.objects.get(space=cast.space, user=cast.developer)
    ownership_transfer(cast.space, to=target, actor=Actor.for_user(cast.owner))
    assert Membership.objects.get(space=cast.space, role=Role.OWNER).user == cast.developer
    assert Membership.objects.get(space=cast.space, user=cast.owner).role == Role.ADMIN


def test_change_role_and_remove_through_views(client, cast):
    login(client, cast.admin)
    viewer = Membership.objects.get(space=cast.space, user=cast.viewer)
    client.post(reverse("people_role", args=[cast.space.slug, viewer.id]), {"role": "operator"})
    assert Membership.objects.get(pk=viewer.pk).role == Role.OPERATOR
    client.post(reverse("people_remove", args=[cast.space.slug, viewer.id]))
    assert not Membership.objects.filter(pk=viewer.pk).exists()
    actions = set(AuditEvent.objects.filter(space=cast.space).values_list("action", flat=True))
    assert {"member.role_change", "member.remove"} <= actions


def test_accept_is_atomic_with_membership(cast):
    invitation, _ = invite(cast)
    user = make_user("new@example.com")
    invitation_accept(invitation, user=user)
    with pytest.raises(ValidationError):
        invitation_accept(invitation, user=user)
    assert Membership.objects.filter(space=cast.space, user=user).count() == 1
