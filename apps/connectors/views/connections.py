"""Integrations → Connections: the list (filters, 10 a page, a menu per row), New
connection, a connection's page with Test connection, and Reconnect, Make default and
Disconnect.

Viewers read; Operators and every role above connect, test, reconnect, make default and
disconnect. Credentials only go in: no view unseals one, and the pages that receive them are
kept out of every cache. A page whose form may start an OAuth 2.0 authorization allows that
provider's origin in its Content-Security-Policy `form-action`: CSP 3 applies form-action to
the redirects that follow a form submission, and the Connect button's answer is a redirect to
the provider."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.csp import CSP
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from apps.connectors import calls, oauth_flow
from apps.connectors.connection_forms import ConnectionForm, ListFilterForm
from apps.connectors.connection_selectors import (
    connection_definition,
    connector_names,
    get_connection_for_member,
    space_connections,
    space_connectors,
    used_connector_slugs,
)
from apps.connectors.definition import ConnectorDefinition
from apps.connectors.models import AuthMethod
from apps.connectors.oauth_flow import OAuthError
from apps.connectors.services import connections as services
from apps.spaces.access import require
from apps.spaces.audit import actor
from apps.spaces.models import Capability

PAGE_SIZE = 10
# Where a service's ValidationError goes on the form; anything else is a form-wide error.
FORM_FIELDS = {"name": "name", "customer": "customer", "auth_method": "auth_method"}


def no_store(response):
    response["Cache-Control"] = "no-store"
    return response


def allow_form_target(response, sources: list[str]):
    """Let this page's forms lead to `sources` (the OAuth provider's authorization page,
    reached by the redirect that answers the Connect button)."""
    if sources:
        policy = dict(settings.SECURE_CSP)
        policy["form-action"] = [CSP.SELF, *sources]
        response._csp_config = policy
    return response


def provider_targets(space, definition: ConnectorDefinition) -> list[str]:
    try:
        url = oauth_flow.oauth_client(space, definition).authorization_url
    except OAuthError:
        return []
    target = oauth_flow.form_target(url)
    return [target] if target else []


def connections_url(request) -> str:
    return reverse("connections", kwargs={"space_slug": request.space.slug})


def detail_url(connection) -> str:
    return reverse(
        "connection_detail",
        kwargs={"space_slug": connection.space.slug, "connection_id": connection.id},
    )


def callback_uri(request) -> str:
    return request.build_absolute_uri(reverse("oauth_callback"))


def add_service_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for key, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(FORM_FIELDS.get(key) if key in form.fields else None, error)
    else:
        for error in exc.messages:
            form.add_error(None, error)


# --- The list -------------------------------------------------------------------------------


@require(Capability.VIEW)
def connection_list(request):
    names = connector_names(request.space)
    used = used_connector_slugs(request.space)
    form = ListFilterForm(
        request.space, [(slug, names.get(slug, slug)) for slug in used], request.GET or None
    )
    filters = form.cleaned_data if form.is_valid() else {}
    rows = space_connections(
        request.space,
        connector=filters.get("connector", ""),
        customer=filters.get("customer", ""),
        status=filters.get("status", ""),
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    for connection in page.object_list:
        connection.connector_name = names.get(connection.connector_slug, connection.connector_slug)
    query = {k: v for k, v in filters.items() if v}
    context = {
        "page": page,
        "form": form,
        "filtered": bool(query),
        "query": "&".join(f"{k}={v}" for k, v in query.items()),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "connectors/connections/list.html#results", context)
    return render(request, "connectors/connections/list.html", context)


# --- New connection -------------------------------------------------------------------------


@sensitive_post_parameters()  # credentials: out of error reports too
@require(Capability.OPERATE)
def connection_new(request):
    """Choose a connector (`?connector=<slug>`, the Connectors page links here), then fill
    the form: a credential saves the connection; OAuth 2.0 (authorization code) saves it
    pending and sends the browser to the provider."""
    choices = space_connectors(request.space)
    slug = request.POST.get("connector") or request.GET.get("connector", "")
    choice = next((c for c in choices if c.slug == slug), None)
    context = {"choices": choices, "choice": choice, "unknown": slug if slug and not choice else ""}
    if choice is None:
        return render(request, "connectors/connections/new.html", context)
    definition = choice.definition
    form = ConnectionForm(request.space, definition, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            return _connect(request, form, definition)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except OAuthError as exc:
            form.add_error(None, exc.message)
    context.update(form=form, **oauth_context(request, definition))
    response = render(request, "connectors/connections/new.html", context)
    return no_store(allow_form_target(response, provider_targets(request.space, definition)))


def _connect(request, form: ConnectionForm, definition: ConnectorDefinition):
    credential = form.credential()
    if form.method == AuthMethod.OAUTH_2:
        # Configured (with the connection's fields for its endpoints), or the error now.
        client = oauth_flow.oauth_client(request.space, definition, form.config())
        if not form.wants_authorization_code:
            credential = oauth_flow.client_credentials_token(client)
    with transaction.atomic():
        connection = services.create_connection(
            request.space,
            connector_slug=definition.slug,
            name=form.cleaned_data["name"],
            auth_method=form.method,
            credential=credential,
            config=form.config(),
            customer=form.cleaned_data.get("customer"),
            actor=actor(request),
            request=request,
            status=form.initial_status,
        )
        if form.wants_authorization_code:
            url = oauth_flow.authorization_start(
                connection,
                definition=definition,
                user=request.user,
                redirect_uri=callback_uri(request),
            )
            return redirect(url)
    messages.success(
        request, f"Connection {connection.name} saved. Its credential is not shown again."
    )
    return redirect(detail_url(connection))


def oauth_context(request, definition: ConnectorDefinition) -> dict:
    """Whether the Space's OAuth app for the connector is ready, for the OAuth panel."""
    if definition.auth("OAUTH_2") is None:
        return {}
    try:
        client = oauth_flow.oauth_client(request.space, definition)
    except OAuthError as exc:
        return {"oauth_problem": exc.message}
    return {"oauth_client_id": client.client_id, "oauth_grants": client.grant_types}


# --- A connection ---------------------------------------------------------------------------


@require(Capability.VIEW)
def connection_detail(request, connection_id):
    connection = get_connection_for_member(request, connection_id)
    definition = connection_definition(request.space, connection.connector_slug)
    return render(
        request,
        "connectors/connections/detail.html",
        {"connection": connection, "definition": definition},
    )


@require_POST
@require(Capability.OPERATE)
def connection_test(request, connection_id):
    """Run the connector's test action (or GET the connection's test URL) with the stored
    credential; the outcome also updates the connection's status and last error. htmx gets
    the outcome in place; a plain form post goes back to the list with it as a message."""
    connection = get_connection_for_member(request, connection_id)
    outcome = calls.test_connection(connection)
    if request.htmx:
        connection.refresh_from_db()
        context = {"connection": connection, "outcome": outcome}
        return render(request, "connectors/connections/detail.html#test_result", context)
    status = f" (HTTP {outcome.http_status})" if outcome.http_status else ""
    text = f"Test of {connection.name}: {'OK' if outcome.ok else 'failed'}{status}."
    if outcome.message:
        text = f"{text} {outcome.message}"
    (messages.success if outcome.ok else messages.error)(request, text)
    return redirect(connections_url(request))


@sensitive_post_parameters()
@require(Capability.OPERATE)
def connection_reconnect(request, connection_id):
    """A new credential for the same connection: typed again, or (OAuth 2.0 authorization
    code) the provider's flow again, the current token working until the new one arrives."""
    connection = get_connection_for_member(request, connection_id)
    definition = connection_definition(request.space, connection.connector_slug)
    if definition is None:
        messages.error(request, f"The connector {connection.connector_slug} no longer exists.")
        return redirect(detail_url(connection))
    form = ConnectionForm(request.space, definition, request.POST or None, connection=connection)
    if request.method == "POST" and form.is_valid():
        try:
            return _reconnect(request, form, connection, definition)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except OAuthError as exc:
            form.add_error(None, exc.message)
    context = {
        "connection": connection,
        "definition": definition,
        "form": form,
        **oauth_context(request, definition),
    }
    response = render(request, "connectors/connections/reconnect.html", context)
    return no_store(allow_form_target(response, provider_targets(request.space, definition)))


def _reconnect(request, form: ConnectionForm, connection, definition):
    credential, config = form.credential(), form.config()
    if form.method == AuthMethod.OAUTH_2:
        config = None  # an OAuth connection keeps its settings (the form has none)
        client = oauth_flow.oauth_client(request.space, definition, connection.config or {})
        if form.wants_authorization_code:
            url = oauth_flow.authorization_start(
                connection,
                definition=definition,
                user=request.user,
                redirect_uri=callback_uri(request),
            )
            return redirect(url)
        credential = oauth_flow.client_credentials_token(client)
    if credential is None:  # No Auth: nothing to replace but the settings
        credential = {}
    services.replace_credential(
        connection,
        credential=credential,
        config=config,
        actor=actor(request),
        request=request,
    )
    messages.success(request, f"{connection.name} reconnected. The new credential is not shown.")
    return redirect(detail_url(connection))


@require_POST
@require(Capability.OPERATE)
def connection_make_default(request, connection_id):
    connection = get_connection_for_member(request, connection_id)
    services.set_default(connection, actor=actor(request), request=request)
    scope = connection.customer.name if connection.customer_id else "the Space"
    messages.success(
        request, f"{connection.name} is now the default {connection.connector_slug} connection "
        f"for {scope}."
    )  # fmt: skip
    if request.POST.get("next") == "detail":
        return redirect(detail_url(connection))
    return redirect(connections_url(request))


@require_POST
@require(Capability.OPERATE)
def connection_disconnect(request, connection_id):
    connection = get_connection_for_member(request, connection_id)
    services.disconnect(connection, actor=actor(request), request=request)
    messages.success(request, f"{connection.name} disconnected; its credential is deleted.")
    return redirect(connections_url(request))
