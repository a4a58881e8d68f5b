"""Writes for Spaces, people, customers and API keys. Each function is atomic and audited."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import (
    ApiKey,
    ApiKeyMode,
    Customer,
    Invitation,
    Membership,
    Role,
    Space,
)
from apps.spaces.signals import customer_deleting, space_deleting
from apps.spaces.timezones import is_time_zone


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def unique_space_slug(name: str) -> str:
    base = slugify(name)[:50] or "space"
    slug, n = base, 1
    while Space.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def deletion_receivers_detail(responses: list[tuple[object, object]]) -> dict:
    """Merge what the receivers of `customer_deleting` / `space_deleting` report removing."""
    detail: dict = {}
    for _receiver, response in responses:
        if isinstance(response, dict):
            detail.update(response)
    return detail


# --- Spaces ---------------------------------------------------------------------------------


@transaction.atomic
def space_create(name: str, *, owner, actor: Actor, request=None) -> Space:
    name = name.strip()
    if not name:
        raise ValidationError("A Space needs a name.")
    space = Space.objects.create(name=name[:80], slug=unique_space_slug(name))
    Membership.objects.create(space=space, user=owner, role=Role.OWNER)
    audit_record(space=space, actor=actor, action="space.create", resource=space, request=request)
    return space


@transaction.atomic
def space_update(space: Space, *, name: str, time_zone: str, actor: Actor, request=None) -> Space:
    """Settings → General: the Space's name and the time zone new schedules start in."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A Space needs a name."})
    if not is_time_zone(time_zone):
        raise ValidationError({"time_zone": f"{time_zone} is not a known IANA time zone."})
    changed = {
        field: {"from": getattr(space, field), "to": value}
        for field, value in (("name", name[:80]), ("time_zone", time_zone))
        if getattr(space, field) != value
    }
    if not changed:
        return space
    Space.objects.filter(pk=space.pk).update(**{f: c["to"] for f, c in changed.items()})
    for field, change in changed.items():
        setattr(space, field, change["to"])
    audit_record(
        space=space, actor=actor, action="space.update", resource=space, request=request,
        detail=changed,
    )  # fmt: skip
    return space


@transaction.atomic
def space_delete(space: Space, *, actor: Actor, request=None) -> None:
    """Delete a Space and everything in it, for good.

    1. The apps holding its data delete it — every customer's and the Space's own `fastn.state`
       entries and secrets — and schedule the drop of every `fastn.db` database of the Space
       (the Space's own and each customer's) for after the commit.
    2. One audit row names what was removed (the audit log outlives the Space).
    3. The Space goes, and with it everything that hangs off it.
    """
    space = Space.objects.select_for_update().get(pk=space.pk)
    customer_ids = list(space.customers.values_list("id", flat=True))
    removed = deletion_receivers_detail(
        space_deleting.send(sender=Space, space=space, customer_ids=customer_ids, actor=actor)
    )
    audit_record(
        space=space, actor=actor, action="space.delete", resource=space, request=request,
        detail={"slug": space.slug, "customers": len(customer_ids), **removed},
    )  # fmt: skip
    space.delete()


# --- People ---------------------------------------------------------------------------------


@transaction.atomic
def membership_change_role(
    membership: Membership, *, role: str, actor: Actor, request=None
) -> Membership:
    if role == Role.OWNER:
        raise ValidationError("Use “Transfer ownership” to make someone the Owner.")
    if membership.role == Role.OWNER:
        raise ValidationError("The Owner’s role changes only by transferring ownership.")
    if role not in Role.values:
        raise ValidationError("Unknown role.")
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        space=membership.space,
        actor=actor,
        action="member.role_change",
        resource=membership,
        resource_label=membership.user.email,
        request=request,
        detail={"from": previous, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(membership: Membership, *, actor: Actor, request=None) -> None:
    if membership.role == Role.OWNER:
        raise ValidationError("The Owner cannot be removed. Transfer ownership first.")
    audit_record(
        space=membership.space,
        actor=actor,
        action="member.remove",
        resource=membership,
        resource_label=membership.user.email,
        request=request,
    )
    membership.delete()


@transaction.atomic
def ownership_transfer(space: Space, *, to: Membership, actor: Actor, request=None) -> None:
    """1. demote the current owner to Admin; 2. promote the new one (the one-owner
    constraint holds at every statement)."""
    if to.space_id != space.id:
        raise ValidationError("That person is not a member of this Space.")
    if to.role == Role.OWNER:
        raise ValidationError("That person is already the Owner.")
    current = Membership.objects.select_for_update().get(space=space, role=Role.OWNER)
    current.role = Role.ADMIN
    current.save(update_fields=["role"])
    to.role = Role.OWNER
    to.save(update_fields=["role"])
    audit_record(
        space=space,
        actor=actor,
        action="member.transfer_ownership",
        resource=to,
        resource_label=to.user.email,
        request=request,
        detail={"from": current.user.email, "to": to.user.email},
    )


@transaction.atomic
def invitation_create(
    space: Space, *, email: str, role: str, invited_by, actor: Actor, request=None
) -> tuple[Invitation, str]:
    """Returns the invitation and its one-time token (only the hash is stored)."""
    email = email.strip().lower()
    if role == Role.OWNER or role not in Role.values:
        raise ValidationError({"role": "Choose Admin, Developer, Operator or Viewer."})
    if Membership.objects.filter(space=space, user__email__iexact=email).exists():
        raise ValidationError({"email": "This person is already a member of the Space."})
    pending = Invitation.objects.filter(
        space=space,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )
    if pending.exists():
        raise ValidationError({"email": "This person already has a pending invitation."})
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        space=space, email=email, role=role, token_hash=sha256_hex(token), invited_by=invited_by
    )
    audit_record(
        space=space,
        actor=actor,
        action="member.invite",
        resource=invitation,
        resource_label=email,
        request=request,
        detail={"role": role},
    )
    return invitation, token


def invitation_for_token(token: str) -> Invitation | None:
    return Invitation.objects.select_related("space").filter(token_hash=sha256_hex(token)).first()


@transaction.atomic
def invitation_accept(invitation: Invitation, *, user, request=None) -> Membership:
    # Lock the row: two tabs accepting the same link must not both succeed.
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    actor = Actor.for_user(user)
    problem = None
    if invitation.accepted_at is not None:
        problem = "This invitation has already been used."
    elif invitation.revoked_at is not None:
        problem = "This invitation was revoked."
    elif invitation.is_expired:
        problem = "This invitation has expired. Ask for a new one."
    elif invitation.email.lower() != (user.email or "").lower():
        problem = f"This invitation is for {invitation.email}. Log in with that address."
    elif Membership.objects.filter(space=invitation.space, user=user).exists():
        problem = "You are already a member of this Space."
    if problem:
        raise ValidationError(problem)
    membership = Membership.objects.create(space=invitation.space, user=user, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit_record(
        space=invitation.space,
        actor=actor,
        action="member.join",
        resource=membership,
        resource_label=user.email,
        request=request,
        detail={"role": invitation.role},
    )
    return membership


@transaction.atomic
def invitation_revoke(invitation: Invitation, *, actor: Actor, request=None) -> None:
    if not invitation.is_pending:
        raise ValidationError("Only a pending invitation can be revoked.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        space=invitation.space,
        actor=actor,
        action="member.invite_revoke",
        resource=invitation,
        resource_label=invitation.email,
        request=request,
    )


# --- Customers ------------------------------------------------------------------------------


@transaction.atomic
def customer_create(
    space: Space, *, name: str, external_id: str, actor: Actor, request=None
) -> Customer:
    if Customer.objects.filter(space=space, external_id=external_id).exists():
        raise ValidationError({"external_id": "Another customer already has this external id."})
    customer = Customer.objects.create(space=space, name=name, external_id=external_id)
    audit_record(
        space=space,
        actor=actor,
        action="customer.create",
        resource=customer,
        request=request,
        detail={"external_id": external_id},
    )
    return customer


@transaction.atomic
def customer_update(
    customer: Customer, *, name: str, external_id: str, actor: Actor, request=None
) -> Customer:
    clash = Customer.objects.filter(space=customer.space, external_id=external_id).exclude(
        pk=customer.pk
    )
    if clash.exists():
        raise ValidationError({"external_id": "Another customer already has this external id."})
    changes = {}
    if customer.name != name:
        changes["name"] = [customer.name, name]
    if customer.external_id != external_id:
        changes["external_id"] = [customer.external_id, external_id]
    customer.name, customer.external_id = name, external_id
    customer.save(update_fields=["name", "external_id"])
    audit_record(
        space=customer.space,
        actor=actor,
        action="customer.update",
        resource=customer,
        request=request,
        detail=changes,
    )
    return customer


@transaction.atomic
def customer_delete(customer: Customer, *, actor: Actor, request=None) -> None:
    """Delete a customer and everything kept for it.

    1. The apps holding its data delete it (`fastn.state` entries, secrets) and schedule the
       drop of its `fastn.db` schema and role, or SQLite file, for after the commit.
    2. One audit row names what was removed; the drop audits its own outcome after commit.
    3. The row goes; what still references it cascades (or, for executions, keeps history).
    """
    removed = deletion_receivers_detail(
        customer_deleting.send(sender=Customer, customer=customer, actor=actor)
    )
    audit_record(
        space=customer.space, actor=actor, action="customer.delete", resource=customer,
        request=request, detail={"external_id": customer.external_id, **removed},
    )  # fmt: skip
    customer.delete()


# --- API keys -------------------------------------------------------------------------------


@transaction.atomic
def apikey_create(
    space: Space, *, name: str, mode: str, created_by=None, actor: Actor, request=None
) -> tuple[ApiKey, str]:
    """Returns the key row and the full key, which is never stored and never shown again."""
    if mode not in ApiKeyMode.values:
        raise ValidationError({"mode": "Choose Test or Live."})
    raw = f"fsk_{mode}_{secrets.token_urlsafe(32)}"
    try:
        api_key = ApiKey.objects.create(
            space=space,
            name=name.strip(),
            mode=mode,
            key_hash=sha256_hex(raw),
            last4=raw[-4:],
            created_by=created_by,
        )
    except IntegrityError:  # pragma: no cover - a 256-bit collision
        raise ValidationError("Could not create a unique key; try again.") from None
    audit_record(
        space=space,
        actor=actor,
        action="apikey.create",
        resource=api_key,
        request=request,
        detail={"mode": mode},
    )
    return api_key, raw


@transaction.atomic
def apikey_revoke(api_key: ApiKey, *, actor: Actor, request=None) -> None:
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if not updated:
        raise ValidationError("This key is already revoked.")
    audit_record(
        space=api_key.space, actor=actor, action="apikey.revoke", resource=api_key, request=request
    )


def user_create(email: str, password: str):
    User = get_user_model()
    user = User(username=email.lower(), email=email.lower())
    user.set_password(password)
    user.save()
    return user
