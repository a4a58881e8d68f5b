from __future__ import annotations

from apps.spaces.models import Capability, Membership


def console(request) -> dict:
    """The Space switcher's list and the current member's capabilities, for every template."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    return {
        "my_memberships": Membership.objects.filter(user=user).select_related("space"),
        "can": {c.value: membership.can(c) for c in Capability} if membership else {},
    }
