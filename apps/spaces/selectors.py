from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from apps.spaces.forms import TIME_RANGES
from apps.spaces.models import AuditEvent, Invitation, Membership, Space


def audit_events(space: Space, *, user: str = "", action: str = "", range: str = "") -> QuerySet:
    events = AuditEvent.objects.filter(space=space)
    if user:
        events = events.filter(actor_label__icontains=user)
    if action:
        events = events.filter(action__startswith=action)
    if range in TIME_RANGES:
        events = events.filter(created_at__gte=timezone.now() - timedelta(hours=TIME_RANGES[range]))
    return events.order_by("-created_at", "-id")


def space_people(space: Space) -> tuple[QuerySet, QuerySet]:
    members = Membership.objects.filter(space=space).select_related("user").order_by("created_at")
    invitations = Invitation.objects.filter(
        space=space,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )
    return members, invitations
