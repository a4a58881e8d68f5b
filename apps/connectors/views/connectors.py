"""Integrations → Connectors: the cards, a connector's page, custom connectors (create, edit,
actions, Publish to live, delete) and OpenAPI imports with their report.

Viewers and Operators read; Build (Developer, Admin, Owner) creates and changes connectors;
Publish to live also needs Deploy live. Built-in (MANAGED) connectors are read-only for
everyone: their write URLs are 404s, like another Space's connector."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.connectors import connector_selectors as selectors
from apps.connectors.connector_forms import ActionForm, ConnectorForm, ImportForm, ListFilterForm
from apps.connectors.openapi import ImportReport, OpenAPIImportError
from apps.connectors.services import connectors as services
from apps.spaces.access import require
from apps.spaces.audit import actor
from apps.spaces.models import Capability

NEW_CONNECTION_PATH = "/s/{space}/connections/new/?connector={slug}"
CONNECTIONS_PATH = "/s/{space}/connections/?connector={slug}"


def detail_url(request, slug: str) -> str:
    return reverse("connector_detail", kwargs={"space_slug": request.space.slug,
                                               "connector_slug": slug})  # fmt: skip


def connect_url(request, slug: str) -> str:
    """The Connections page's new-connection form for this connector."""
    return NEW_CONNECTION_PATH.format(space=request.space.slug, slug=slug)


def problems_of(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


# --- The Connectors page ---------------------------------------------------------------------


@require(Capability.VIEW)
def connector_list(request):
    form = ListFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    kind, q, category = filters.get("kind", ""), filters.get("q", ""), filters.get("category", "")
    found = selectors.connector_cards(request.space, q=q, category=category, kind=kind)
    cards = [(card, connect_url(request, card.slug)) for card in found["cards"]]
    context = {
        "cards": cards,
        "kind": kind,
        "q": q,
        "category": category,
        "categories": found["categories"],
        "tabs": [
            ("", "All", found["counts"]["all"]),
            ("managed", "Managed", found["counts"]["managed"]),
            ("personal", "Personal", found["counts"]["personal"]),
        ],
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "connectors/connectors/list.html#results", context)
    return render(request, "connectors/connectors/list.html", context)


# --- A connector's page ----------------------------------------------------------------------


@require(Capability.VIEW)
@require_GET
def connector_detail(request, connector_slug):
    number = request.GET.get("version")
    page = selectors.get_connector_page(
        request, connector_slug, number=int(number) if (number or "").isdigit() else None
    )
    connector = page.connector
    context = {
        "page": page,
        "definition": page.definition,
        "connector": connector,
        "versions": selectors.connector_versions(connector) if connector else [],
        "connections": selectors.connector_connections(request.space, page.slug),
        "connect_url": connect_url(request, page.slug),
        "connections_url": CONNECTIONS_PATH.format(space=request.space.slug, slug=page.slug),
    }
    return render(request, "connectors/connectors/detail.html", context)


@require(Capability.VIEW)
@require_GET
def connector_definition_file(request, connector_slug):
    """The definition as a file, for `manage.py connector import` or a repository."""
    number = request.GET.get("version")
    page = selectors.get_connector_page(
        request, connector_slug, number=int(number) if (number or "").isdigit() else None
    )
    data = page.version.definition if page.version else page.definition.raw
    response = HttpResponse(
        json.dumps(data, indent=2) + "\n", content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{page.slug}.json"'
    return response


# --- Create, edit, publish, delete -----------------------------------------------------------


def form_page(request, form, *, connector=None, status=200):
    categories = selectors.connector_cards(request.space)["categories"]
    return render(request, "connectors/connectors/form.html",
                  {"form": form, "connector": connector, "categories": categories},
                  status=status)  # fmt: skip


def add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field_name, errors in exc.error_dict.items():
            target = field_name if field_name in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        for message in exc.messages:
            form.add_error(None, message)


@require(Capability.BUILD)
def connector_create(request):
    form = ConnectorForm(request.POST or None, initial={"auth_types": ["API_KEY"],
                                                        "default_auth": "API_KEY"})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            connector = services.connector_create(
                request.space, definition=form.definition(), actor=actor(request),
                visibility=form.cleaned_data["visibility"], request=request,
            )  # fmt: skip
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Connector {connector.name} created (v1). Add its "
                                      "actions below.")  # fmt: skip
            return redirect(detail_url(request, connector.slug))
    return form_page(request, form)


@require(Capability.BUILD)
def connector_edit(request, connector_slug):
    connector = selectors.get_connector_for_member(request, connector_slug)
    base = services.latest_definition(connector)
    form = ConnectorForm(
        request.POST or None, slug_locked=connector.slug,
        initial=ConnectorForm.initial_from(base, connector.visibility),
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            version = services.connector_save(
                connector, definition=form.definition(base), actor=actor(request),
                visibility=form.cleaned_data["visibility"], request=request,
            )  # fmt: skip
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            saved_message(request, connector, version)
            return redirect(detail_url(request, connector.slug))
    return form_page(request, form, connector=connector)


def saved_message(request, connector, version) -> None:
    if version is None:
        messages.info(request, "Nothing changed: no new version.")
    elif connector.live_version_id:
        messages.success(
            request, f"Saved as v{version.number}. Live runs keep using "
                     f"v{connector.live_version.number} until you publish it to live.",
        )  # fmt: skip
    else:
        messages.success(request, f"Saved as v{version.number}.")


@require_POST
@require(Capability.BUILD)
@require(Capability.DEPLOY_LIVE)
def connector_publish(request, connector_slug):
    connector = selectors.get_connector_for_member(request, connector_slug)
    number = request.POST.get("version", "")
    version = selectors.get_version_for_member(connector, int(number)) if number.isdigit() else None
    try:
        published = services.connector_publish(connector, actor=actor(request), request=request,
                                               version=version)  # fmt: skip
    except ValidationError as exc:
        messages.error(request, " ".join(problems_of(exc)))
    else:
        messages.success(request, f"v{published.number} of {connector.name} is live.")
    return redirect(detail_url(request, connector.slug))


@require_POST
@require(Capability.BUILD)
def connector_delete(request, connector_slug):
    connector = selectors.get_connector_for_member(request, connector_slug)
    try:
        services.connector_delete(connector, actor=actor(request), request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(problems_of(exc)))
        return redirect(detail_url(request, connector.slug))
    messages.success(request, f"Connector {connector.name} deleted.")
    return redirect(reverse("connectors", kwargs={"space_slug": request.space.slug}))


# --- Actions ---------------------------------------------------------------------------------


def action_page(request, connector, form, *, action_name=""):
    return render(request, "connectors/connectors/action_form.html",
                  {"connector": connector, "form": form, "action_name": action_name})  # fmt: skip


@require(Capability.BUILD)
def connector_action_new(request, connector_slug):
    connector = selectors.get_connector_for_member(request, connector_slug)
    form = ActionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.connector_action_save(
                connector, action=form.action(), actor=actor(request), request=request
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            saved_message(request, connector, version)
            return redirect(detail_url(request, connector.slug) + "#actions")
    return action_page(request, connector, form)


def find_action(connector, name: str) -> dict:
    for action in services.latest_definition(connector).get("actions") or []:
        if action.get("name") == name:
            return action
    raise Http404("No such action.")


@require(Capability.BUILD)
def connector_action_edit(request, connector_slug, action_name):
    connector = selectors.get_connector_for_member(request, connector_slug)
    original = find_action(connector, action_name)
    initial, rows = ActionForm.initial_from(original)
    if request.method == "POST":
        form = ActionForm(request.POST)
    else:
        form = ActionForm(initial=initial, initial_rows=rows)
    if request.method == "POST" and form.is_valid():
        try:
            version = services.connector_action_save(
                connector, action=form.action(original), replaces=action_name,
                actor=actor(request), request=request,
            )  # fmt: skip
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            saved_message(request, connector, version)
            return redirect(detail_url(request, connector.slug) + "#actions")
    return action_page(request, connector, form, action_name=action_name)


@require_POST
@require(Capability.BUILD)
def connector_action_delete(request, connector_slug, action_name):
    connector = selectors.get_connector_for_member(request, connector_slug)
    find_action(connector, action_name)
    try:
        version = services.connector_action_delete(
            connector, name=action_name, actor=actor(request), request=request
        )
    except ValidationError as exc:
        messages.error(request, " ".join(problems_of(exc)))
    else:
        messages.success(request, f"Action {action_name} deleted (v{version.number}).")
    return redirect(detail_url(request, connector.slug) + "#actions")


# --- Import ----------------------------------------------------------------------------------


def import_form(request, *, reimport: bool) -> ImportForm:
    if request.method != "POST":
        return ImportForm(reimport=reimport)
    return ImportForm(request.POST, request.FILES, reimport=reimport)


def import_page(request, form, *, connector=None, problems=(), status=200):
    context = {"form": form, "connector": connector, "problems": list(problems)}
    return render(request, "connectors/connectors/import.html", context, status=status)


def run_import(request, form, *, connector=None):
    try:
        result = services.connector_import_openapi(
            request.space, form.raw(), actor=actor(request), request=request,
            slug=form.cleaned_data.get("slug", ""), name=form.cleaned_data.get("name", ""),
            base_url=form.cleaned_data.get("base_url", ""), connector=connector,
            publish=bool(form.cleaned_data.get("publish"))
            and request.membership.can(Capability.DEPLOY_LIVE),
        )  # fmt: skip
    except OpenAPIImportError as exc:
        return import_page(request, form, connector=connector, problems=exc.problems, status=422)
    except ValidationError as exc:
        return import_page(request, form, connector=connector, problems=problems_of(exc),
                           status=422)  # fmt: skip
    if result.version is None:
        messages.info(request, "The document imports to the same definition as the latest "
                               "version: nothing changed.")  # fmt: skip
        return redirect(detail_url(request, result.connector.slug))
    return redirect(reverse("connector_import_report", kwargs={
        "space_slug": request.space.slug, "connector_slug": result.connector.slug,
        "version_number": result.version.number,
    }))  # fmt: skip


@require(Capability.BUILD)
def connector_import(request):
    form = import_form(request, reimport=False)
    if request.method == "POST" and form.is_valid():
        return run_import(request, form)
    return import_page(request, form)


@require(Capability.BUILD)
def connector_reimport(request, connector_slug):
    """A new version of the Space's connector from a new edition of its OpenAPI document."""
    connector = selectors.get_connector_for_member(request, connector_slug)
    form = import_form(request, reimport=True)
    if request.method == "POST" and form.is_valid():
        return run_import(request, form, connector=connector)
    return import_page(request, form, connector=connector)


@require(Capability.VIEW)
@require_GET
def connector_import_report(request, connector_slug, version_number):
    connector = selectors.get_connector_for_member(request, connector_slug)
    version = selectors.get_version_for_member(connector, version_number)
    report = ImportReport.from_json(version.import_report) if version.import_report else None
    context = {"connector": connector, "version": version, "report": report}
    return render(request, "connectors/connectors/report.html", context)
