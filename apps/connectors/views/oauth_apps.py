"""Settings → OAuth Apps: per connector with an OAuth 2.0 method, the Space's client ID and
secret (and optional endpoint and scope overrides), and the redirect URI to register at the
provider. Owner and Admin only, like the other Space settings that hold secrets. A client
secret goes in once and is never shown again; replacing it means typing a new one."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from apps.connectors.connection_forms import OAuthAppForm
from apps.connectors.connection_selectors import (
    connection_definition,
    get_oauth_app_for_member,
    space_connectors,
    space_oauth_apps,
)
from apps.connectors.services import oauth_apps as services
from apps.spaces.access import require
from apps.spaces.audit import actor
from apps.spaces.models import Capability


def no_store(response):
    response["Cache-Control"] = "no-store"
    return response


def redirect_uri(request) -> str:
    return request.build_absolute_uri(reverse("oauth_callback"))


def list_url(request) -> str:
    return reverse("oauth_apps", kwargs={"space_slug": request.space.slug})


@require(Capability.MANAGE_SPACE)
def oauth_app_list(request):
    apps = space_oauth_apps(request.space)
    rows = [{"choice": c, "app": apps.pop(c.slug, None)} for c in oauth_choices(request)]
    # Apps whose connector is gone (a deleted custom connector) can still be removed.
    orphans = list(apps.values())
    context = {"rows": rows, "orphans": orphans, "redirect_uri": redirect_uri(request)}
    return render(request, "connectors/oauth_apps/list.html", context)


def oauth_definition(request, slug: str):
    definition = connection_definition(request.space, slug)
    if definition is None or definition.auth("OAUTH_2") is None:
        raise Http404("No connector with OAuth 2.0 of that name.")
    return definition


def oauth_choices(request):
    return [c for c in space_connectors(request.space) if c.definition.auth("OAUTH_2") is not None]


@sensitive_post_parameters("client_secret")
@require(Capability.MANAGE_SPACE)
def oauth_app_new(request):
    """`?connector=<slug>` (the list's Configure buttons); without one, the choice of the
    connectors that offer OAuth 2.0."""
    slug = request.POST.get("connector") or request.GET.get("connector", "")
    if not slug:
        context = {"choices": oauth_choices(request), "redirect_uri": redirect_uri(request)}
        return render(request, "connectors/oauth_apps/form.html", context)
    definition = oauth_definition(request, slug)
    existing = space_oauth_apps(request.space).get(definition.slug)
    if existing is not None:
        return redirect("oauth_app_edit", space_slug=request.space.slug, app_id=existing.id)
    form = OAuthAppForm(request.POST or None, definition=definition)
    if request.method == "POST" and form.is_valid():
        try:
            services.oauth_app_create(
                request.space,
                connector_slug=definition.slug,
                actor=actor(request),
                request=request,
                **form.cleaned_data,
            )
        except services.OAuthAppExists as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"OAuth app for {definition.name} saved. The client secret is not shown again.",
            )
            return redirect(list_url(request))
    context = {"form": form, "definition": definition, "redirect_uri": redirect_uri(request)}
    return no_store(render(request, "connectors/oauth_apps/form.html", context))


@sensitive_post_parameters("client_secret")
@require(Capability.MANAGE_SPACE)
def oauth_app_edit(request, app_id):
    app = get_oauth_app_for_member(request, app_id)
    definition = oauth_definition(request, app.connector_slug)
    form = OAuthAppForm(request.POST or None, app=app, definition=definition)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.oauth_app_update(
            app,
            client_id=data["client_id"],
            client_secret=data["client_secret"] or None,
            authorization_url=data["authorization_url"],
            token_url=data["token_url"],
            scopes=data["scopes"],
            actor=actor(request),
            request=request,
        )
        replaced = " The new client secret is stored." if data["client_secret"] else ""
        messages.success(request, f"OAuth app for {definition.name} saved.{replaced}")
        return redirect(list_url(request))
    context = {
        "form": form,
        "definition": definition,
        "app": app,
        "redirect_uri": redirect_uri(request),
    }
    return no_store(render(request, "connectors/oauth_apps/form.html", context))


@require_POST
@require(Capability.MANAGE_SPACE)
def oauth_app_delete(request, app_id):
    app = get_oauth_app_for_member(request, app_id)
    services.oauth_app_delete(app, actor=actor(request), request=request)
    messages.success(
        request,
        f"OAuth app for {app.connector_slug} deleted. Its connections keep their tokens until "
        "they need a refresh.",
    )
    return redirect(list_url(request))
