"""Access helpers: the only way views reach tenant-owned rows.

`require(cap)` guards a view by capability; refused attempts are answered 403 and audited as
Denied. `get_*_for_member` look objects up inside the current Space only, so an id from another
Space is a 404, exactly like an id that does not exist."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import ApiKey, Capability, Customer, Invitation, Membership, Outcome


def deny(request, capability: Capability, status: int = 403):
    audit_record(
        space=request.space,
        actor=Actor.for_user(request.user),
        action="access.denied",
        resource_label=request.path[:200],
        outcome=Outcome.DENIED,
        request=request,
        detail={"capability": str(capability), "method": request.method},
    )
    return render(
        request,
        "console/forbidden.html",
        {"capability": capability},
        status=status,
    )


def require(capability: Capability):
    """Decorator for Space views: the member's role must grant `capability`."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.membership is None:
                raise AssertionError("require() guards only views under a <space_slug> URL")
            if not request.membership.can(capability):
                return deny(request, capability)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def get_membership_for_member(request, membership_id) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user"), space=request.space, id=membership_id
    )


def get_invitation_for_member(request, invitation_id) -> Invitation:
    return get_object_or_404(Invitation, space=request.space, id=invitation_id)


def get_customer_for_member(request, customer_id) -> Customer:
    return get_object_or_404(Customer, space=request.space, id=customer_id)


def get_apikey_for_member(request, apikey_id) -> ApiKey:
    return get_object_or_404(ApiKey, space=request.space, id=apikey_id)
