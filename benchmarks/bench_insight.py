"""The editor's Docs tab (apps/insight): the Flow of a 300-line workflow, cold and cached, and
the run statistics of its last 1,000 runs, each beside its floor.

1. Graph + SVG: the Flow view asked for a 300-line workflow whose drawing is in no cache (a
   unique comment at its end each time): parse, lay out with `dot`, write the boxes' text,
   render the partial. Floor: a bare console view rendering a trivial template, through the
   same stack (target ≤ 20×).
2. Cached re-render: the same request again (the drawing comes from the process's cache; the
   statistics slots are filled in per request). Same floor (target ≤ 2×).
3. Run statistics: the Flow view of a deployed 300-line workflow with its last 1,000 finished
   runs (12 recorded steps each, with lines, arguments and results) counted per node, the
   drawing cached. Floor: Activity → Executions of a Space with 10,000 runs (target ≤ 3×).

Requests go through the whole Django stack in-process (middleware, session, auth), logged in,
alternating with their floor. Setup: DATABASE_URL (PostgreSQL, migrated) and REDIS_URL;
`make bench` provides both: `scripts/bench.sh bench_insight`. The module deletes its Spaces,
rows and user afterwards.
"""

from __future__ import annotations

import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from common import p50_pair, row

REPETITIONS = 21
RUNS, PAGE_ROWS = 1_000, 10_000
TRIVIAL_TEMPLATE = "<!DOCTYPE html><html><head><title>t</title></head><body>ok</body></html>"


def workflow_300() -> str:
    """A 300-line workflow of the usual shape: pages of a connector, a loop over each page
    with state, SQL and error handling, a notification above a threshold, a final report."""
    lines = [
        "// Syncs paid orders from the shop into the ledger and reports to the CRM.",
        "export default async function (ctx) {",
        "  const { since, limit = 50 } = ctx.input;",
        '  const token = await fastn.secrets.get("LEDGER_TOKEN");',
        "  const summary = { synced: 0, skipped: 0, failed: 0 };",
    ]
    batch = 0
    while len(lines) < 290:
        batch += 1
        b = batch
        lines += [
            f"  // batch {b}",
            f"  const page{b} = await fastn.connector.shopify.listOrders({{ since, page: {b} }});",
            f"  if (!page{b}.orders || page{b}.orders.length === 0) {{",
            "    summary.skipped += 1;",
            "  } else {",
            f"    for (const order of page{b}.orders) {{",
            "      const seen = await fastn.state.get(`order:${order.id}`);",
            "      if (seen) continue;",
            "      try {",
            f'        await fastn.db.query("INSERT INTO ledger_{b} (id) VALUES ($1)", [order.id]);',
            "        await fastn.state.set(`order:${order.id}`, true, { ttl: 86400 });",
            "        summary.synced += 1;",
            "      } catch (err) {",
            "        summary.failed += 1;",
            '        console.warn("ledger", err.message);',
            "      }",
            "    }",
            "  }",
            f"  const total{b} = (page{b}.orders || []).reduce((sum, o) => sum + o.total, 0);",
            f"  if (total{b} > 10000) await fastn.connector.slack.postMessage({{ text: `{b}` }});",
        ]
    lines += [
        "  const note = await fastn.connector.hubspot.createNote({ body: `${summary.synced}` });",
        "  return { ok: summary.failed === 0, ...summary, note: note.id };",
        "}",
    ]
    return "\n".join(lines) + "\n"


def trivial_view(request):
    """The floor: a console page with no logic of its own (same middleware, login and Space
    membership), rendering a trivial template."""
    from django.shortcuts import render

    return render(request, "bench_trivial.html", {})


def _urlpatterns():
    from django.urls import include, path

    from apps.spaces.access import require
    from apps.spaces.models import Capability

    return [
        path("s/<slug:space_slug>/__bench/trivial/", require(Capability.VIEW)(trivial_view)),
        path("", include("fastn_console.urls")),
    ]


def __getattr__(name):  # the URLconf of the benchmark: the trivial view plus the console
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


def _templates():
    from django.conf import settings

    templates = [dict(t) for t in settings.TEMPLATES]
    options = dict(templates[0].get("OPTIONS", {}))
    options["loaders"] = [
        (
            "django.template.loaders.cached.Loader",
            [
                ("django.template.loaders.locmem.Loader", {"bench_trivial.html": TRIVIAL_TEMPLATE}),
                "django.template.loaders.filesystem.Loader",
                "django.template.loaders.app_directories.Loader",
            ],
        )
    ]
    templates[0] = {**templates[0], "APP_DIRS": False, "OPTIONS": options}
    return templates


def run() -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client, override_settings

    from apps.insight import services
    from apps.spaces.audit import Actor
    from apps.spaces.services import space_create

    tag = uuid.uuid4().hex[:10]
    user = get_user_model().objects.create_user(
        username=f"bench-insight-{tag}", email=f"bench-insight-{tag}@example.com"
    )
    actor = Actor.for_user(user)
    space = space_create(f"bench insight {tag}", owner=user, actor=actor)
    busy = space_create(f"bench insight executions {tag}", owner=user, actor=actor)
    code = workflow_300()
    try:
        draft, deployed = _workflows(space, user, code)
        _executions(deployed, RUNS, with_steps=True)
        _executions(_workflows(busy, user, code)[0], PAGE_ROWS, with_steps=False)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        tab = f"/s/{space.slug}/workflows/{{}}/insight/"
        counter = iter(range(10**9))

        def flow(workflow, text, **extra):
            upload = SimpleUploadedFile("workflow.js", text.encode(), "text/javascript")
            response = client.post(tab.format(workflow.id), {"code": upload, **extra})
            if response.status_code != 200 or b"<svg" not in response.content:
                raise RuntimeError(f"the Flow answered {response.status_code}")
            return response

        with override_settings(
            ROOT_URLCONF=__name__, ALLOWED_HOSTS=["localhost"], TEMPLATES=_templates()
        ):
            trivial = f"/s/{space.slug}/__bench/trivial/"
            executions_page = f"/s/{busy.slug}/activity/executions/?tab=all"
            for target in (trivial, executions_page):
                if client.get(target).status_code != 200:
                    raise RuntimeError(f"{target} did not answer 200")
            cold, floor_cold = p50_pair(
                lambda: flow(draft, f"{code}// {next(counter)}\n"),
                lambda: client.get(trivial),
                repetitions=REPETITIONS,
            )
            cached, floor_cached = p50_pair(
                lambda: flow(draft, code), lambda: client.get(trivial), repetitions=REPETITIONS
            )
            body = flow(deployed, code, runs=str(RUNS)).content.decode()
            if f"{RUNS:,} finished runs" not in body and f"{RUNS} finished runs" not in body:
                raise RuntimeError("the statistics did not count 1,000 runs")
            stats, page = p50_pair(
                lambda: flow(deployed, code, runs=str(RUNS)),
                lambda: client.get(executions_page),
                repetitions=REPETITIONS,
            )
        print(f"  {len(code.splitlines())} lines, {_nodes(space, code)} nodes", flush=True)
    finally:
        services.LOCAL.clear()
        for one in (space, busy):
            one.delete()
        user.delete()
    return [
        row("Flow: graph + SVG of a 300-line workflow (p50)", cold, "ms",
            "trivial template view (target ≤ 20×)", floor_cold),
        row("Flow: cached re-render, same workflow (p50)", cached, "ms",
            "trivial template view (target ≤ 2×)", floor_cached),
        row(f"Flow: run statistics of the last {RUNS:,} runs (p50)", stats, "ms",
            f"Executions page, {PAGE_ROWS:,} runs (≤ 3×)", page),
    ]  # fmt: skip


def _nodes(space, code: str) -> int:
    from apps.insight import services

    return len(services.flow_build(space, code, trigger_label="").graph.nodes)


def _workflows(space, user, code: str):
    """A draft-only workflow and one published and deployed to live, with `code`."""
    from apps.environments.selectors import environment_by_slug
    from apps.spaces.audit import Actor
    from apps.workflows import services

    actor = Actor.for_user(user)
    draft = services.workflow_create(space, name="Draft 300", actor=actor, code=code)
    deployed = services.workflow_create(space, name="Deployed 300", actor=actor, code=code)
    version = services.workflow_publish(deployed, actor=actor, created_by=user)
    services.workflow_deploy(
        deployed,
        version=version,
        environment=environment_by_slug(space, "live"),
        actor=actor,
        deployed_by=user,
    )
    return draft, deployed


def _executions(workflow, count: int, *, with_steps: bool) -> None:
    """`count` finished runs of the workflow's live version, newest first, one a second; with
    steps recorded as the runtime does (12 per run, on the lines of the workflow's calls)."""
    from django.utils import timezone

    from apps.executions.models import Execution
    from apps.insight.graph import build_graph

    version = workflow.versions.order_by("-number").first()
    calls = [
        (node.start_line, kind, name)
        for node in build_graph(workflow.draft_code).nodes
        for kind, name in node.calls
    ][:12]
    now = timezone.now()
    rows = []
    for i in range(count):
        steps = []
        if with_steps:
            for j, (line, kind, name) in enumerate(calls):
                steps.append({
                    "kind": kind, "name": name, "line": line,
                    "args": {"key": f"order:{i}-{j}", "value": {"page": j, "cursor": "abc123"}},
                    "result": {"rows": [{"id": i, "total": 120.5}], "rowCount": 1},
                    "error": {"code": "X", "message": "boom"} if (i + j) % 37 == 0 else None,
                    "startedAt": "2026-01-01T00:00:00.000Z", "durationMs": 1.0 + j,
                })  # fmt: skip
        rows.append(
            Execution(
                space=workflow.space, workflow=workflow, workflow_name=workflow.name,
                version=version, version_number=version.number if version else None,
                environment="live", tier="instant", timeout_seconds=60, triggered_by="api",
                status="failed" if i % 25 == 0 else "completed", duration_ms=40.0 + i % 50,
                queued_at=now - timedelta(seconds=i), steps=steps, input={"n": i},
            )
        )  # fmt: skip
    Execution.objects.bulk_create(rows, batch_size=1000)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastn_console.settings")
    import django

    django.setup()
    for result in run():
        print(result)
