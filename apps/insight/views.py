"""The editor's Docs tab: Flow, Sequence and Docs of the code in the editor.

Every sub-view is the same partial (`insight/docs_tab.html#tab`) asked for with `view=flow |
sequence | docs`; the editor's code travels as a file part like the Test tab's (the saved
draft when none is sent), with the statistics' environment and run count."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from apps.insight import selectors, services
from apps.insight.docs import REPLAY_NOTE
from apps.insight.forms import InsightForm
from apps.insight.graph import ParseFailure
from apps.insight.models import GeneratedDoc
from apps.insight.render import STATS_WIDTH
from apps.insight.sequence import sequence_rows
from apps.spaces.access import require
from apps.spaces.audit import actor
from apps.spaces.models import Capability
from apps.workflows.access import get_workflow_for_member

TAB = "insight/docs_tab.html#tab"
VIEWS = (("flow", "Flow"), ("sequence", "Sequence"), ("docs", "Docs"))


@require(Capability.VIEW)
@require_http_methods(["GET", "POST"])
def insight_tab(request, workflow_id):
    workflow = get_workflow_for_member(request, workflow_id, with_latest_number=True)
    form = InsightForm(request.POST or request.GET, request.FILES or None)
    view = request.POST.get("view") or request.GET.get("view") or "flow"
    if view not in dict(VIEWS):
        view = "flow"
    if not form.is_valid() and "code" in form.errors:
        context = {**base_context(request, workflow, view), "code_errors": form.errors["code"]}
        return render(request, TAB, context, status=400)
    code = form.cleaned_data.get("code")
    return render(request, TAB, tab_context(request, workflow, form, view, code))


@require(Capability.BUILD)
@require_POST
def insight_docs_generate(request, workflow_id):
    """Generate the reference of the editor's code and keep it (replacing the last one)."""
    workflow = get_workflow_for_member(request, workflow_id)
    form = InsightForm(request.POST, request.FILES)
    if not form.is_valid() and "code" in form.errors:
        context = {**base_context(request, workflow, "docs"), "code_errors": form.errors["code"]}
        return render(request, TAB, context, status=400)
    code = form.cleaned_data.get("code")
    code = workflow.draft_code if code is None else code
    try:
        services.docs_generate(
            workflow, code=code, actor=actor(request), user=request.user, request=request
        )
    except ParseFailure as failure:
        context = tab_context(request, workflow, form, "docs", code)
        response = render(request, TAB, context, status=400)
        return trigger_client_event(
            response, "toast", {"level": "error", "message": f"Not generated: {failure}"}
        )
    response = render(request, TAB, tab_context(request, workflow, form, "docs", code))
    return trigger_client_event(
        response, "toast", {"level": "success", "message": "Docs generated."}
    )


@require(Capability.VIEW)
@require_GET
def insight_docs_markdown(request, workflow_id):
    """The generated docs as a Markdown file (`<slug>.md`); before any were generated, those
    of the saved draft, made now and not kept."""
    workflow = get_workflow_for_member(request, workflow_id)
    doc = GeneratedDoc.objects.filter(workflow=workflow, space=request.space).first()
    if doc is not None:
        markdown = doc.markdown
    else:
        try:
            markdown = services.docs_markdown_of_draft(workflow)
        except ParseFailure as failure:
            raise Http404(f"The saved draft does not parse: {failure}") from None
    response = HttpResponse(markdown, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{workflow.slug}.md"'
    return response


# --- Context ----------------------------------------------------------------------------------


def base_context(request, workflow, view: str) -> dict:
    one = {"space_slug": request.space.slug, "workflow_id": workflow.id}
    return {
        "workflow": workflow,
        "view": view,
        "views": VIEWS,
        "urls": {
            "tab": reverse("insight_tab", kwargs=one),
            "generate": reverse("insight_docs_generate", kwargs=one),
            "markdown": reverse("insight_docs_markdown", kwargs=one),
        },
        "can_generate": request.membership.can(Capability.BUILD),
    }


def tab_context(request, workflow, form: InsightForm, view: str, code: str | None) -> dict:
    context = base_context(request, workflow, view)
    from_editor = code is not None
    code = workflow.draft_code if code is None else code
    context["from_editor"] = from_editor
    if view == "docs":
        context.update(docs_context(workflow, code))
        return context
    triggers = selectors.attached_triggers(workflow)
    flow = services.flow_build(
        workflow.space, code, trigger_label=selectors.trigger_label(triggers)
    )
    context["flow"] = flow
    if flow.graph is None:
        return context
    served = selectors.served_versions(workflow)
    chosen = form.served(served)
    runs = form.cleaned_data.get("runs") if form.is_valid() else selectors.DEFAULT_RUNS
    stats = None
    if chosen is not None:
        stats = services.run_statistics(
            workflow,
            flow.graph,
            code,
            environment=chosen.slug,
            version=chosen.number,
            limit=runs or selectors.DEFAULT_RUNS,
        )
    summaries = {
        node.id: (stats.nodes[node.id].summary() if stats else "no deployed version")
        for node in flow.graph.nodes
    }
    context.update(
        served=served,
        chosen=chosen,
        runs=runs or selectors.DEFAULT_RUNS,
        run_counts=selectors.RUN_COUNTS,
        stats=stats,
        summaries=summaries,
        # What the page's script needs to select a node's code: its lines (kept small, the
        # JSON is escaped character by character into the page).
        nodes_meta={node.id: [node.start_line, node.end_line] for node in flow.graph.nodes},
    )
    if view == "flow" and flow.svg is not None:
        classes = {n: s.state for n, s in stats.nodes.items()} if stats else {}
        texts = {n: text[:STATS_WIDTH] for n, text in summaries.items()}
        context["svg"] = flow.svg.fill(texts, classes)
    if view == "sequence":
        context["rows"] = [(row, summaries[row.node.id]) for row in sequence_rows(flow.graph)]
        context["trigger_label"] = selectors.trigger_label(triggers)
    return context


def docs_context(workflow, code: str) -> dict:
    doc = GeneratedDoc.objects.filter(workflow=workflow, space=workflow.space).first()
    current = services.code_hash(code)
    context: dict = {
        "doc": doc,
        "out_of_date": doc is not None and doc.code_hash != current,
        "replay_note": REPLAY_NOTE,
    }
    if doc is not None:
        context["content"] = doc.content
        return context
    try:
        context["content"] = services.docs_build(workflow, code)
        context["preview"] = True
    except ParseFailure as failure:
        context["docs_failure"] = failure
    return context
