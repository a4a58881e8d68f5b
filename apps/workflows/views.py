from __future__ import annotations

import json
import shlex
import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseClientRefresh,
    trigger_client_event,
)

from apps.environments.models import TEST
from apps.spaces.access import deny, require
from apps.spaces.audit import actor
from apps.spaces.models import Capability
from apps.workflows import services
from apps.workflows.access import (
    can_deploy,
    deploy_capability,
    get_environment_for_member,
    get_version_for_member,
    get_workflow_for_member,
)
from apps.workflows.config_diff import config_changes, flat_config
from apps.workflows.forms import (
    TABLE_PAGE_SIZE,
    TableFilterForm,
    WorkflowForm,
    draft_config,
)
from apps.workflows.models import (
    DESCRIPTION_MAX,
    MAX_CODE_BYTES,
    NAME_MAX,
    RELEASE_NOTE_MAX,
    RETRY_ATTEMPTS_RANGE,
    RETRY_COEFFICIENT_RANGE,
    RETRY_INITIAL_RANGE_MS,
    RETRY_MAX_INTERVAL_LIMIT_MS,
    SLUG_MAX,
    TIER_DESCRIPTIONS,
    TIER_LIMITS,
    Tier,
    Workflow,
)
from apps.workflows.replay import replay_for
from apps.workflows.selectors import (
    DRAFT,
    api_sample_stage,
    deployed_environments,
    tier_counts,
    workflow_environments,
    workflow_rows,
    workflow_versions,
)
from fastn_console.strictjson import JsonInputError, parse_json

EDITOR = "workflows/editor.html"
RETRY_FIELDS = ("retry_max_attempts", "retry_initial_interval_ms", "retry_backoff_coefficient",
                "retry_max_interval_ms")  # fmt: skip


def editor_url(workflow: Workflow) -> str:
    return reverse(
        "workflow_editor", kwargs={"space_slug": workflow.space.slug, "workflow_id": workflow.id}
    )


# --- The Workflows table --------------------------------------------------------------------


@require(Capability.VIEW)
def workflow_list(request):
    form = TableFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    tier, q = filters.get("tier", ""), filters.get("q", "")
    page = Paginator(workflow_rows(request.space, tier=tier, q=q), TABLE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    row_urls(request.space.slug, page.object_list)
    deployed = deployed_environments(w.id for w in page.object_list)
    for workflow in page.object_list:
        workflow.environments = deployed.get(workflow.id, [])
    context = {
        "page": page,
        "tier": tier or "all",
        "q": q,
        "tabs": list(tier_counts(request.space, q=q).items()),
    }
    if request.htmx and not request.htmx.boosted:
        return render(request, "workflows/list.html#results", context)
    return render(request, "workflows/list.html", context)


def row_urls(space_slug: str, workflows) -> None:
    """Set `editor_url`, `run_url` and `delete_url` on each row: each pattern is reversed once
    with a placeholder id, then filled in (a page has 25 rows)."""
    placeholder = uuid.UUID(int=0)
    patterns = {
        attr: reverse(name, kwargs={"space_slug": space_slug, "workflow_id": placeholder})
        for attr, name in (
            ("editor_url", "workflow_editor"),
            ("run_url", "workflow_run"),
            ("delete_url", "workflow_delete"),
        )
    }
    for workflow in workflows:
        for attr, pattern in patterns.items():
            setattr(workflow, attr, pattern.replace(str(placeholder), str(workflow.id)))


# --- The editor -----------------------------------------------------------------------------


def lifecycle_context(request, workflow: Workflow, urls: dict[str, str]) -> dict:
    """Versions and deployments: the lower part of the Configuration panel."""
    versions = list(workflow_versions(workflow))
    latest_number = versions[0].number if versions else None
    environments = workflow_environments(workflow, latest_number)
    for version in versions:
        version.restore_url = urls["restore"].replace("/0/", f"/{version.number}/")
    # Where this member may deploy: `test` follows the latest version by itself.
    deploy_targets = [
        state.environment
        for state in environments
        if state.environment.slug != TEST and can_deploy(request.membership, state.environment)
    ]
    return {
        "versions": versions,
        "latest_number": latest_number,
        "environments": environments,
        "deploy_targets": deploy_targets if versions else [],
        "can_edit": request.membership.can(Capability.BUILD),
        "urls": urls,
        "workflow": workflow,
    }


def editor_context(
    request, workflow: Workflow | None, form: WorkflowForm, *, lazy: bool = False, **extra
) -> dict:
    """The editor page. With `lazy`, versions and deployments are left to a second request
    (`workflow_lifecycle`) so that the page itself renders fast; `workflow.latest_number`
    (annotated by the lookup) stands in for them until then."""
    membership = request.membership
    urls = editor_urls(request.space.slug, workflow)
    if workflow is None:
        lifecycle = {"versions": [], "latest_number": None}
    elif lazy:
        lifecycle = {"versions": [], "latest_number": workflow.latest_number}
    else:
        lifecycle = lifecycle_context(request, workflow, urls)
    latest_number = lifecycle["latest_number"]
    code = (form["code"].value() if form.is_bound else form.initial.get("code", "")) or ""
    if form.is_bound and "code" in form.files:
        code = form.cleaned_data.get("code", "") if hasattr(form, "cleaned_data") else ""
    tier_value = form["tier"].value()
    low, high, default = TIER_LIMITS.get(tier_value, TIER_LIMITS[Tier.INSTANT])
    return {
        **lifecycle,
        "workflow": workflow,
        "urls": urls,
        "lifecycle_lazy": lazy,
        "form": form,
        "code": code,
        "code_bytes": len(code.encode("utf-8")),
        "tier_value": tier_value,
        "tier_description": TIER_DESCRIPTIONS.get(tier_value, ""),
        "retry_hidden": not form["retry_enabled"].value()
        and not any(form[name].errors for name in RETRY_FIELDS),
        "timeout_min": low,
        "timeout_max": high,
        "timeout_default": default,
        "name_max": NAME_MAX,
        "slug_max": SLUG_MAX,
        "description_max": DESCRIPTION_MAX,
        "release_note_max": RELEASE_NOTE_MAX,
        "can_edit": membership.can(Capability.BUILD),
        "can_run": membership.can(Capability.OPERATE),
        "editor_config": {
            "tiers": {
                t: {"min": lo, "max": hi, "default": d} for t, (lo, hi, d) in TIER_LIMITS.items()
            },
            "maxCodeBytes": MAX_CODE_BYTES,
            "readOnly": not membership.can(Capability.BUILD),
            "canRun": membership.can(Capability.OPERATE),
            "isNew": workflow is None,
            "published": bool(latest_number),
            "versionUrl": urls.get("version", ""),
            "compareUrl": urls.get("compare", ""),
            "listUrl": urls["list"],
            "monacoBase": static("vendor/monaco/vs"),
            "connectorTypesUrl": urls["connector_types"],
        },
        "tiers": [(t.value, t.label, TIER_DESCRIPTIONS[t.value]) for t in Tier],
        "limits": {
            "attempts": RETRY_ATTEMPTS_RANGE,
            "initial": RETRY_INITIAL_RANGE_MS,
            "coefficient": RETRY_COEFFICIENT_RANGE,
            "max_interval": RETRY_MAX_INTERVAL_LIMIT_MS,
        },
        **extra,
    }


def editor_urls(space_slug: str, workflow: Workflow | None) -> dict[str, str]:
    """Each URL the editor page links to, reversed once (the page is rendered often)."""
    space = {"space_slug": space_slug}
    urls = {
        "list": reverse("workflows", kwargs=space),
        "apikeys": reverse("apikeys", kwargs=space),
        "create": reverse("workflow_create", kwargs=space),
        # TypeScript declarations of the Space's connectors, for Monaco (apps/connectors).
        "connector_types": reverse("connector_typings", kwargs=space),
    }
    if workflow is not None:
        one = {**space, "workflow_id": workflow.id}
        for key in ("editor", "save", "deploy", "delete", "test", "executions", "lifecycle", "api"):
            urls[key] = reverse(f"workflow_{key}", kwargs=one)
        # Per-version URLs: reversed once with number 0, then filled in.
        urls["version"] = reverse("workflow_version", kwargs={**one, "number": 0})
        urls["restore"] = reverse("workflow_restore", kwargs={**one, "number": 0})
        urls["compare"] = reverse("workflow_compare", kwargs={**one, "number": 0})
    else:
        urls["test"] = reverse("workflow_test_new", kwargs=space)
    urls["form"] = urls.get("save", urls["create"])
    return urls


def initial_of(workflow: Workflow | None) -> dict:
    fields = services.fields_of(workflow) if workflow else services.defaults_for_new()
    if workflow:
        fields["draft_revision"] = workflow.draft_revision
    return dict(fields)


@require(Capability.BUILD)
@require_http_methods(["GET", "POST"])
def workflow_create(request):
    form = WorkflowForm(request.POST or None, request.FILES or None, initial=initial_of(None))
    if request.method == "POST" and form.is_valid():
        try:
            workflow = services.workflow_create(
                request.space,
                actor=actor(request),
                created_by=request.user,
                request=request,
                **form.workflow_fields(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Workflow “{workflow.name}” created.")
            if request.htmx:
                response = HttpResponseClientRedirect(editor_url(workflow))
                return trigger_client_event(response, "workflowLeaving", {})
            return redirect(editor_url(workflow))
    if request.method == "POST":
        return config_response(request, None, form, status=400)
    return render(request, EDITOR, editor_context(request, None, form))


@require(Capability.VIEW)
@require_GET
def workflow_editor(request, workflow_id):
    workflow = get_workflow_for_member(request, workflow_id, with_latest_number=True)
    form = WorkflowForm(initial=initial_of(workflow))
    context = editor_context(request, workflow, form, lazy=True)
    replay = replay_for(request, workflow)
    if replay is not None:
        # "Open in editor" from an execution: what ran, and its input, in the Test tab.
        code = replay.version.code if replay.version else replay.draft_code
        context.update(
            code=code,
            code_bytes=len(code.encode("utf-8")),
            replay=replay,
            test_input=json.dumps(replay.input, indent=2),
            test_headers=json.dumps(replay.headers, indent=2),
        )
    return render(request, EDITOR, context)


@require(Capability.VIEW)
@require_GET
def workflow_lifecycle(request, workflow_id):
    """Deployments and version history of the editor, loaded right after the page."""
    workflow = get_workflow_for_member(request, workflow_id)
    urls = editor_urls(request.space.slug, workflow)
    return render(request, f"{EDITOR}#lifecycle", lifecycle_context(request, workflow, urls))


def config_response(request, workflow, form, *, status=200, toast=None, **extra):
    """The Configuration panel (and, out of band, the code footer) after a save, publish or
    deploy. A full page when the request did not come from htmx (no JavaScript)."""
    context = editor_context(request, workflow, form, **extra)
    if not request.htmx:
        return render(request, EDITOR, context, status=status)
    response = render(request, "workflows/editor.html#config_response", context, status=status)
    if toast:
        trigger_client_event(response, "toast", toast)
    return response


@require(Capability.BUILD)
@require_POST
def workflow_save(request, workflow_id):
    """Save the draft; with `intent=publish` also publish it as the next version."""
    workflow = get_workflow_for_member(request, workflow_id)
    form = WorkflowForm(request.POST, request.FILES)
    publish = request.POST.get("intent") == "publish"
    if not form.is_valid():
        return config_response(request, workflow, form, status=400)
    try:
        result = services.workflow_update(
            workflow,
            expected_revision=form.cleaned_data["draft_revision"],
            actor=actor(request),
            request=request,
            **form.workflow_fields(),
        )
    except services.StaleDraft as exc:
        return config_response(request, workflow, form, status=409, conflict=exc.current)
    except ValidationError as exc:
        form.add_error(None, exc)
        return config_response(request, workflow, form, status=400)
    workflow = result.workflow
    toast = {
        "level": "success",
        "message": "Draft saved." if result.changed else "No changes to save.",
    }
    status = 200
    publish_error = None
    if publish:
        try:
            version = services.workflow_publish(
                workflow,
                actor=actor(request),
                created_by=request.user,
                release_note=form.cleaned_data["release_note"],
                request=request,
            )
        except ValidationError as exc:
            publish_error = " ".join(exc.messages)
            toast = {"level": "error", "message": publish_error}
            status = 400
        else:
            toast = {"level": "success", "message": f"Published v{version.number}."}
    if not request.htmx:
        messages.add_message(
            request, messages.ERROR if publish_error else messages.SUCCESS, toast["message"]
        )
        return redirect(editor_url(workflow))
    fresh = WorkflowForm(initial=initial_of(workflow))
    response = config_response(
        request, workflow, fresh, status=status, toast=toast, publish_error=publish_error
    )
    return trigger_client_event(
        response, "workflowSaved", {"revision": workflow.draft_revision}, after="swap"
    )


@require(Capability.OPERATE)
@require_POST
def workflow_deploy(request, workflow_id):
    workflow = get_workflow_for_member(request, workflow_id)
    environment = get_environment_for_member(request, _uuid(request.POST.get("environment")))
    if not can_deploy(request.membership, environment):
        return deny(request, deploy_capability(environment))
    version = get_version_for_member(request, workflow, _int(request.POST.get("version")))
    try:
        services.workflow_deploy(
            workflow,
            version=version,
            environment=environment,
            actor=actor(request),
            deployed_by=request.user,
            request=request,
        )
    except ValidationError as exc:
        toast = {"level": "error", "message": " ".join(exc.messages)}
        status = 400
    else:
        toast = {"level": "success", "message": f"v{version.number} now serves {environment.slug}."}
        status = 200
    if not request.htmx:
        level = messages.SUCCESS if status == 200 else messages.ERROR
        messages.add_message(request, level, toast["message"])
        return redirect(editor_url(workflow))
    # Only the deployments and versions are re-rendered: unsaved configuration stays as it is.
    urls = editor_urls(request.space.slug, workflow)
    context = lifecycle_context(request, workflow, urls)
    response = render(request, f"{EDITOR}#lifecycle", context, status=status)
    return trigger_client_event(response, "toast", toast)


def _uuid(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise Http404("No such environment.") from None


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("No such version.") from None


@require(Capability.VIEW)
@require_GET
def workflow_version(request, workflow_id, number: int):
    """One version, read-only, as JSON for the editor's version viewer and diff."""
    workflow = get_workflow_for_member(request, workflow_id)
    version = get_version_for_member(request, workflow, number)
    return JsonResponse(
        {
            "number": version.number,
            "label": version.label,
            "code": version.code,
            "config": version.config,
            "release_note": version.release_note,
            "created_by": version.created_by.email if version.created_by else "",
            "created_at": version.created_at.isoformat(),
        }
    )


@require(Capability.VIEW)
@require_GET
def workflow_compare(request, workflow_id, number: int):
    """The configuration beside the code in the editor's Compare dialog: version `number`
    against version `?to=N`, or against the draft (`to=draft`) as the Configuration panel's
    values in the query — the dialog compares unsaved work, as its code side does."""
    workflow = get_workflow_for_member(request, workflow_id)
    old = get_version_for_member(request, workflow, number)
    target = request.GET.get("to", "draft")
    if target != "draft":
        new = get_version_for_member(request, workflow, _int(target))
        new_label, new_config = new.label, flat_config(new.config)
    elif "tier" in request.GET:
        new_label, new_config = "Draft", draft_config(request.GET)
    else:  # nothing sent from the panel: the saved draft
        new_label, new_config = "Saved draft", flat_config(workflow.config())
    rows = config_changes(flat_config(old.config), new_config)
    context = {
        "rows": rows,
        "changed_count": sum(row.changed for row in rows),
        "old_label": old.label,
        "new_label": new_label,
    }
    return render(request, f"{EDITOR}#config_diff", context)


@require(Capability.BUILD)
@require_POST
def workflow_restore(request, workflow_id, number: int):
    workflow = get_workflow_for_member(request, workflow_id)
    version = get_version_for_member(request, workflow, number)
    services.workflow_restore(workflow, version=version, actor=actor(request), request=request)
    messages.success(
        request, f"v{version.number} restored to the draft. Publish to make it a new version."
    )
    if request.htmx:
        return trigger_client_event(HttpResponseClientRefresh(), "workflowLeaving", {})
    return redirect(editor_url(workflow))


@require(Capability.BUILD)
@require_POST
def workflow_delete(request, workflow_id):
    workflow = get_workflow_for_member(request, workflow_id)
    services.workflow_delete(workflow, actor=actor(request), request=request)
    messages.success(request, f"Workflow “{workflow.name}” deleted.")
    return redirect("workflows", space_slug=request.space.slug)


@require(Capability.VIEW)
@require_http_methods(["GET", "POST"])
def workflow_api(request, workflow_id):
    """The editor's API tab (loaded each time it is shown, so it follows deploys): curl and
    fetch samples calling the environment the workflow is deployed to, ready to paste, with
    the Test tab's input (POSTed as `input`: it may be larger than a URL holds)."""
    workflow = get_workflow_for_member(request, workflow_id)
    deployed = deployed_environments([workflow.id]).get(workflow.id, [])
    stage = api_sample_stage(workflow, deployed)
    sample_input, input_error = api_sample_input(request.POST.get("input"))
    context = {
        "curl_data": shlex.quote(
            json.dumps({"input": sample_input}, ensure_ascii=False, separators=(",", ":"))
        ),
        # Indented to sit inside the fetch sample's object literal.
        "input_pretty": json.dumps(sample_input, ensure_ascii=False, indent=2).replace(
            "\n", "\n    "
        ),
        "input_error": input_error,
        "workflow": workflow,
        "stage": stage,
        "deployed": deployed,
        # A test key reaches only DRAFT and test (DESIGN §6).
        "key_mode": "test" if stage in (TEST, DRAFT) else "live",
        "api_url": request.build_absolute_uri(f"/api/v1/{workflow.slug}"),
        "apikeys_url": reverse("apikeys", kwargs={"space_slug": request.space.slug}),
        "can_manage_keys": request.membership.can(Capability.MANAGE_SPACE),
    }
    return render(request, f"{EDITOR}#api_tab", context)


API_SAMPLE_INPUT_MAX = 64 * 1024


def api_sample_input(text: str | None) -> tuple[Any, str]:
    """The Test tab's input for the API samples, and why it was not used ("" when it was)."""
    if text is None or not text.strip():
        return {}, ""
    if len(text) > API_SAMPLE_INPUT_MAX:
        return {}, "The Test tab's input is over 64 KB, so the samples send {} instead."
    try:
        return parse_json(text, label="The Test tab's input"), ""
    except JsonInputError as exc:
        return {}, f"{exc} The samples send {{}} instead."
