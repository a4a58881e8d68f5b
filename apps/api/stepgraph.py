"""GET /api/v1/tenants/{space_id}/workflows/{slug}/versions/{version}/graph: the durable step
graph of a published version's code (or of the draft: `draft`), in the shape of the
reference's "Get Workflow version graph" — parsed by apps/insight/stepgraph.py, with the
tree-sitter parser the Flow view uses."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from apps.api.auth import authenticate
from apps.api.errors import ApiError
from apps.insight.graph import ParseFailure
from apps.insight.stepgraph import step_graph
from apps.workflows.models import Workflow


def _stamp(value) -> str | None:
    return value.isoformat() if value else None


@require_GET
def version_graph(request, space_id: str, workflow_slug: str, version: str):
    auth = authenticate(request, space_id=space_id)
    workflow = Workflow.objects.filter(space=auth.space, slug=workflow_slug).first()
    if workflow is None:
        raise ApiError(404, f"No workflow {workflow_slug!r} in this Space.")
    if version == "draft":
        code, number, version_id, created = workflow.draft_code, 0, None, workflow.updated_at
    else:
        if not version.isdigit() or len(version) > 9:
            raise ApiError(400, "version must be a version number (1, 2, …) or draft.")
        row = workflow.versions.filter(number=int(version)).first()
        if row is None:
            raise ApiError(404, f"The workflow {workflow_slug!r} has no version {version}.")
        code, number, version_id, created = row.code, row.number, str(row.id), row.created_at
    try:
        graph = step_graph(code)
    except ParseFailure as exc:
        raise ApiError(
            422,
            f"The code of this version does not parse: {exc.message}",
            code="SYNTAX_ERROR",
            line=exc.line,
            column=exc.column,
        ) from None
    return JsonResponse(
        {
            "id": version_id,
            "workflow_id": str(workflow.id),
            "class_name": graph.get("class_name", "default"),
            "created_on": _stamp(created),
            "modified_on": _stamp(created),
            "graph": {"version": number, "workflow": graph},
        }
    )
