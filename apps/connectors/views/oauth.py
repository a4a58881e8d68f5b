"""The provider's redirect back: GET /oauth/callback?code=…&state=… (outside any Space, since
the redirect URI registered at the provider is one URL for the whole console).

A state that cannot complete a flow (missing, unknown, replayed, expired, another person's)
gets a plain error page and an audit row (`connection.oauth`, Denied, with the reason); a
provider's refusal or a failed exchange is recorded on the connection; success stores the
token and goes back to the Connections page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from apps.connectors import oauth_flow


@require_GET
@login_required
def oauth_callback(request):
    try:
        outcome = oauth_flow.authorization_complete(request.GET, user=request.user, request=request)
    except oauth_flow.StateRefused as refusal:
        oauth_flow.audit_refusal(refusal, user=request.user, request=request)
        response = render(
            request, "connectors/connections/oauth_refused.html", {"refusal": refusal}, status=400
        )
        response["Cache-Control"] = "no-store"
        return response
    if outcome.ok:
        messages.success(request, outcome.message)
    else:
        messages.error(request, outcome.message)
    return redirect("connections", space_slug=outcome.connection.space.slug)
