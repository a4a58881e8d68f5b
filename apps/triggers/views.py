"""Integrations → Triggers: the three tabs, the forms, a trigger's page with its request
inspector, Send test event and Trigger Now, and signing secrets.

Viewers read; Build creates, edits, enables and deletes; Operate sends test events, triggers
schedules now and retries subscriptions. A signing secret's value is in one response only
(the one that made it), which no cache keeps."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.secrets.errors import SecretError
from apps.spaces.access import require
from apps.spaces.audit import actor
from apps.spaces.models import Capability
from apps.triggers import services
from apps.triggers.catalog import app_event_connectors
from apps.triggers.display import (
    app_event_source,
    curl_command,
    event_settled,
    receiver_path,
    schedule_preview,
    schedule_summary,
)
from apps.triggers.forms import (
    FORMS,
    OPERATOR_CHOICES,
    AppEventForm,
    ListFilterForm,
    RouteSet,
    SchedulePreviewForm,
    TestEventForm,
)
from apps.triggers.models import Kind, Subscription
from apps.triggers.selectors import (
    get_trigger_event,
    get_trigger_for_member,
    trigger_counts,
    trigger_events,
    trigger_requests,
    trigger_routes,
    trigger_rows,
)

PAGE_SIZE = 25
TAB_LABELS = {Kind.WEBHOOK: "Webhooks", Kind.SCHEDULER: "Schedulers", Kind.APP_EVENT: "App Events"}
SAMPLE_BODY = '{\n  "event": "test",\n  "data": {\n    "id": "evt_123"\n  }\n}'


CREATE_URLS = {Kind.WEBHOOK: "trigger_new_webhook", Kind.SCHEDULER: "trigger_new_scheduler",
               Kind.APP_EVENT: "trigger_new_app_event"}  # fmt: skip


def list_url(request, kind: str) -> str:
    return reverse("triggers", kwargs={"space_slug": request.space.slug}) + f"?kind={kind}"


def detail_url(trigger) -> str:
    return reverse(
        "trigger_detail", kwargs={"space_slug": trigger.space.slug, "trigger_id": trigger.id}
    )


def no_store(response):
    response["Cache-Control"] = "no-store"
    return response


def present(request, trigger, routes=None, connectors=None) -> None:
    """What pages show of a trigger beside its fields: its absolute URL, the cURL command,
    for schedules the schedule in words with its next run in the schedule's zone, and for app
    events their connector and event (`connectors`: the Space's catalog, read once a page)."""
    routes = trigger_routes(trigger) if routes is None else routes
    trigger.url = request.build_absolute_uri(receiver_path(trigger))
    trigger.curl = curl_command(trigger, trigger.url, routes)
    if trigger.kind == Kind.SCHEDULER:
        trigger.summary = schedule_summary(trigger)
    if trigger.kind == Kind.APP_EVENT:
        trigger.source = app_event_source(trigger, connectors)
    until = trigger.signing_previous_until
    trigger.previous_secret_valid = bool(until and until > timezone.now())


# --- The Triggers page ----------------------------------------------------------------------


@require(Capability.VIEW)
def trigger_list(request):
    form = ListFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    kind = filters.get("kind") or Kind.WEBHOOK
    q, status = filters.get("q", ""), filters.get("status", "")
    rows = trigger_rows(request.space, kind=kind, q=q, status=status)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    connectors = app_event_connectors(request.space) if kind == Kind.APP_EVENT else None
    for trigger in page.object_list:
        present(request, trigger, list(trigger.routes.all()), connectors)
    counts = trigger_counts(request.space, q=q, status=status)
    context = {
        "page": page,
        "kind": kind,
        "q": q,
        "status": status,
        "tabs": [(k, TAB_LABELS[k], counts[k]) for k in Kind.values],
        "status_choices": form.fields["status"].choices,
        "create_url": reverse(CREATE_URLS[kind], kwargs={"space_slug": request.space.slug}),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "triggers/list.html#results", context)
    return render(request, "triggers/list.html", context)


@require(Capability.BUILD)
def trigger_new(request):
    return render(request, "triggers/new.html")


# --- Create and edit ------------------------------------------------------------------------


def form_page(request, form, routes, *, trigger=None, status: int = 200):
    context = {
        "form": form,
        "routes": routes,
        "kind": form.kind,
        "kind_label": Kind(form.kind).label,
        "trigger": trigger,
        "operator_choices": OPERATOR_CHOICES,
    }
    if trigger is not None:
        present(request, trigger)
    return render(request, "triggers/form.html", context, status=status)


@require(Capability.BUILD)
def trigger_create(request, kind: str):
    if kind not in FORMS:
        raise Http404("No such trigger type.")
    data = request.POST if request.method == "POST" else None
    if kind == Kind.APP_EVENT:  # ?connector=<slug>: the Connect page's way back
        form = AppEventForm(request.space, data, connector=request.GET.get("connector", ""))
    else:
        form = FORMS[kind](request.space, data)
    routes = RouteSet(request.space, kind, data)
    if data is not None and all([form.is_valid(), routes.is_valid()]):
        try:
            trigger = services.trigger_create(
                request.space, kind=kind, fields=form.trigger_fields(), routes=routes.specs(),
                actor=actor(request), request=request,
            )  # fmt: skip
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Trigger {trigger.name} created.")
            if form.cleaned_data.get("enable_signing"):
                return signing_answer(request, trigger, services.trigger_signing_enable)
            return redirect(detail_url(trigger))
    return form_page(request, form, routes)


@require(Capability.BUILD)
def trigger_edit(request, trigger_id):
    trigger = get_trigger_for_member(request, trigger_id)
    data = request.POST if request.method == "POST" else None
    form = FORMS[trigger.kind](request.space, data, trigger=trigger)
    routes = RouteSet(request.space, trigger.kind, data, trigger=trigger)
    if data is not None and all([form.is_valid(), routes.is_valid()]):
        try:
            services.trigger_update(
                trigger, fields=form.trigger_fields(), routes=routes.specs(),
                actor=actor(request), request=request,
            )  # fmt: skip
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Trigger {trigger.name} saved.")
            return redirect(detail_url(trigger))
    return form_page(request, form, routes, trigger=trigger)


@require(Capability.BUILD)
@require_GET
def trigger_app_event_source(request):
    """The Connection and Event fields of the chosen connector, swapped in when the
    Connector changes on the new app event form."""
    form = AppEventForm(request.space, connector=request.GET.get("connector", "")[:80])
    return render(request, "triggers/form.html#app_event_source", {"form": form})


@require(Capability.VIEW)
@require_GET
def trigger_schedule_preview(request):
    """The live preview beside the schedule fields: the schedule in words and its next five
    runs in the chosen zone, or what is wrong with it."""
    form = SchedulePreviewForm(request.space, request.GET)
    return render(request, "triggers/form.html#schedule_preview", schedule_preview(form))


@require_POST
@require(Capability.BUILD)
def trigger_toggle(request, trigger_id):
    trigger = get_trigger_for_member(request, trigger_id)
    enable = not trigger.enabled
    services.trigger_set_enabled(trigger, enabled=enable, actor=actor(request), request=request)
    messages.success(request, f"Trigger {trigger.name} {'enabled' if enable else 'disabled'}.")
    if request.POST.get("next") == "detail":
        return redirect(detail_url(trigger))
    return redirect(list_url(request, trigger.kind))


@require_POST
@require(Capability.BUILD)
def trigger_delete(request, trigger_id):
    trigger = get_trigger_for_member(request, trigger_id)
    services.trigger_delete(trigger, actor=actor(request), request=request)
    messages.success(request, f"Trigger {trigger.name} deleted.")
    return redirect(list_url(request, trigger.kind))


# --- A trigger's page -----------------------------------------------------------------------


def detail_context(request, trigger, **extra) -> dict:
    routes = trigger_routes(trigger)
    present(request, trigger, routes)
    return {
        "trigger": trigger,
        "routes": routes,
        "requests": trigger_requests(trigger),
        "events": trigger_events(trigger) if trigger.kind == Kind.SCHEDULER else [],
        "test_form": TestEventForm(initial={"body": SAMPLE_BODY}),
        **extra,
    }


@require(Capability.VIEW)
def trigger_detail(request, trigger_id):
    trigger = get_trigger_for_member(request, trigger_id)
    return render(request, "triggers/detail.html", detail_context(request, trigger))


@require(Capability.VIEW)
@require_GET
def trigger_requests_part(request, trigger_id):
    trigger = get_trigger_for_member(request, trigger_id)
    context = {
        "trigger": trigger,
        "requests": trigger_requests(trigger),
        "events": trigger_events(trigger) if trigger.kind == Kind.SCHEDULER else [],
    }
    return render(request, "triggers/detail.html#activity", context)


@require(Capability.VIEW)
@require_GET
def trigger_event(request, trigger_id, event_id):
    """An event this page sent, polled until it is routed: its status and executions."""
    trigger = get_trigger_for_member(request, trigger_id)
    event = get_trigger_event(trigger, event_id)
    event.settled = event_settled(event)
    return render(request, "triggers/detail.html#event", {"trigger": trigger, "event": event})


@require_POST
@require(Capability.OPERATE)
def trigger_send_test(request, trigger_id):
    trigger = get_trigger_for_member(request, trigger_id)
    form = TestEventForm(request.POST)
    context = {"trigger": trigger, "test_form": form}
    if form.is_valid():
        try:
            accepted = services.trigger_send_test(
                trigger, body=form.cleaned_data["body"], actor=actor(request), request=request
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            event = get_trigger_event(trigger, accepted.event.id)
            event.settled = event_settled(event)
            context["event"] = event
    return render(request, "triggers/detail.html#test_event", context)


@require_POST
@require(Capability.OPERATE)
def trigger_run_now(request, trigger_id):
    trigger = get_trigger_for_member(request, trigger_id)
    try:
        accepted = services.trigger_run_now(trigger, actor=actor(request), request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Triggered {trigger.name}: event {accepted.event.id}.")
    if request.POST.get("next") == "list":
        return redirect(list_url(request, trigger.kind))
    return redirect(detail_url(trigger))


@require_POST
@require(Capability.OPERATE)
def trigger_retry_subscription(request, trigger_id):
    trigger = get_trigger_for_member(request, trigger_id)
    try:
        services.trigger_retry_subscription(trigger, actor=actor(request), request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        subscription_message(request, trigger)
    if request.POST.get("next") == "list":
        return redirect(list_url(request, trigger.kind))
    return redirect(detail_url(trigger))


def subscription_message(request, trigger) -> None:
    if trigger.subscription_error:
        messages.error(request, f"Subscription failed: {trigger.subscription_error}")
    elif trigger.subscription == Subscription.NOT_SUBSCRIBED:
        instruction = app_event_source(trigger).instruction
        messages.info(request, f"The connection is active. {instruction}")
    else:
        messages.success(
            request, f"Trigger {trigger.name} is {trigger.get_subscription_display()}."
        )


# --- Signing --------------------------------------------------------------------------------


def signing_answer(request, trigger, action):
    """Run a signing action; show the trigger's page with the new secret (once), or the
    reason it could not be done."""
    try:
        secret = action(trigger, actor=actor(request), request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(detail_url(trigger))
    except SecretError as exc:
        messages.error(request, f"The signing secret could not be stored: {exc}")
        return redirect(detail_url(trigger))
    trigger.refresh_from_db()
    context = detail_context(request, trigger, new_secret=secret)
    return no_store(render(request, "triggers/detail.html", context))


@require_POST
@require(Capability.BUILD)
def trigger_signing_enable(request, trigger_id):
    trigger = get_trigger_for_member(request, trigger_id)
    return signing_answer(request, trigger, services.trigger_signing_enable)


@require_POST
@require(Capability.BUILD)
def trigger_signing_rotate(request, trigger_id):
    trigger = get_trigger_for_member(request, trigger_id)
    return signing_answer(request, trigger, services.trigger_signing_rotate)


@require_POST
@require(Capability.BUILD)
def trigger_signing_remove(request, trigger_id):
    trigger = get_trigger_for_member(request, trigger_id)
    try:
        services.trigger_signing_remove(trigger, actor=actor(request), request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, "Signing removed: requests are no longer checked for a signature."
        )
    return redirect(detail_url(trigger))
