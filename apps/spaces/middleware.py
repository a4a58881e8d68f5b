"""Resolves the current Space from the URL and refuses people who are not its members."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.utils import timezone

from apps.spaces.models import Membership

LAST_ACTIVE_RESOLUTION = timedelta(minutes=5)


class CurrentSpaceMiddleware:
    """Every console URL of a Space carries `<space_slug>`. This fills `request.space` and
    `request.membership`, and answers 404 to anyone who is not a member: missing and forbidden
    look the same."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.space = None
        request.membership = None
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.pop("space_slug", None)
        if slug is None:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = (
            Membership.objects.select_related("space")
            .filter(space__slug=slug, user=request.user)
            .first()
        )
        if membership is None:
            raise Http404("No such Space.")
        request.space = membership.space
        request.membership = membership
        if request.session.get("space_slug") != slug:
            # Remembered for "/" — written only on a switch, not on every page view.
            request.session["space_slug"] = slug
        touch_last_active(membership)
        return None


def touch_last_active(membership: Membership) -> None:
    now = timezone.now()
    if membership.last_active_at and now - membership.last_active_at < LAST_ACTIVE_RESOLUTION:
        return
    Membership.objects.filter(pk=membership.pk).update(last_active_at=now)
    membership.last_active_at = now
