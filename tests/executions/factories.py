from __future__ import annotations

from apps.workflows.models import Workflow

TRIVIAL = "export default async function (ctx) {\n  return { ok: true, input: ctx.input };\n}\n"


def make_workflow(space, *, slug="echo", code=TRIVIAL, tier="instant", timeout=10, **fields):
    return Workflow.objects.create(
        space=space,
        name=fields.pop("name", slug.title()),
        slug=slug,
        tier=tier,
        timeout_seconds=timeout,
        draft_code=code,
        **fields,
    )
