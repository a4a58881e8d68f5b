"""Writing the audit log. Every service that changes something calls `audit_record` inside its
own transaction, so the audit row and the change commit or roll back together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models

from apps.spaces.clientip import client_ip
from apps.spaces.models import ActorType, AuditEvent, Outcome, Space


@dataclass(frozen=True)
class Actor:
    type: str
    label: str
    user_id: int | None = None

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(ActorType.USER, user.email or str(user), user.pk)

    @classmethod
    def for_api_key(cls, api_key) -> Actor:
        return cls(ActorType.SERVICE_ACCOUNT, f"API key {api_key.name} ({api_key.masked})")

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(ActorType.SYSTEM, label)


def actor(request) -> Actor:
    """Who is acting in a console request: its signed-in person."""
    return Actor.for_user(request.user)


def audit_record(
    *,
    space: Space | None,
    actor: Actor,
    action: str,
    resource: models.Model | None = None,
    resource_label: str = "",
    outcome: str = Outcome.SUCCESS,
    request=None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        space=space,
        actor_type=actor.type,
        actor_user_id=actor.user_id,
        actor_label=actor.label[:254],
        action=action,
        resource_type=resource._meta.model_name if resource is not None else "",
        resource_id=str(resource.pk) if resource is not None else "",
        resource_label=(resource_label or (str(resource) if resource is not None else ""))[:200],
        outcome=outcome,
        ip_address=client_ip(request),
        detail=detail or {},
    )
