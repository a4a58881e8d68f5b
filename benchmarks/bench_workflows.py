"""Server render times of the workflow pages, each beside its floor.

- Workflows table: the page of a Space with 2,000 workflows against the same page of a Space
  with 20 (target: within 1.5×). Both Spaces get the same mix: versions, live deployments.
- Editor page: the editor of a workflow against a bare Django template view that renders a
  page of the same size (target: within 3×).

Requests go through the whole Django stack in-process (middleware, session, auth), logged in.
Setup: needs DATABASE_URL pointing at a migrated database; `make bench` provides one, and
benchmarks/run.py calls `django.setup()` first. Standalone:

    DATABASE_URL=postgres://… python manage.py migrate && python benchmarks/bench_workflows.py

The benchmark creates its own Spaces and user and deletes them afterwards.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

from common import p50_pair

REPETITIONS = 31
SMALL, LARGE = 20, 2000
FILLER_HTML = None  # set per run: the bare view's page, as large as the editor's


def bare_template_view(request):
    """The floor: a console page with no logic of its own. Same URL prefix, so the same
    middleware (session, login, Space membership) and the same `render(request, …)` with the
    context processors; it only renders a template as large as the editor's page."""
    from django.shortcuts import render

    return render(request, "bench_bare.html", {"filler": FILLER_HTML})


def _urlpatterns():
    from django.urls import include, path

    from apps.spaces.access import require
    from apps.spaces.models import Capability

    return [
        path("s/<slug:space_slug>/__bench/bare/", require(Capability.VIEW)(bare_template_view)),
        path("", include("fastn_console.urls")),
    ]


def __getattr__(name):  # the URLconf of the benchmark: the bare view plus the whole console
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


def _bare_template_engine():
    """`bench_bare.html` from memory, next to the project's own templates."""
    from django.conf import settings

    templates = [dict(t) for t in settings.TEMPLATES]
    options = dict(templates[0].get("OPTIONS", {}))
    # Cached, like Django's default loaders: templates compile once, not per request.
    options["loaders"] = [
        (
            "django.template.loaders.cached.Loader",
            [
                ("django.template.loaders.locmem.Loader", {"bench_bare.html": BARE_TEMPLATE}),
                "django.template.loaders.filesystem.Loader",
                "django.template.loaders.app_directories.Loader",
            ],
        )
    ]
    templates[0] = {**templates[0], "APP_DIRS": False, "OPTIONS": options}
    return templates


BARE_TEMPLATE = (
    "<!DOCTYPE html><html><head><title>bare</title></head><body>{{ filler }}</body></html>"
)


def run() -> list[dict]:
    global FILLER_HTML
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    from apps.spaces.audit import Actor
    from apps.spaces.services import space_create

    User = get_user_model()
    tag = uuid.uuid4().hex[:10]
    user = User.objects.create_user(username=f"bench-{tag}", email=f"bench-{tag}@example.com")
    actor = Actor.for_user(user)
    small = space_create(f"bench small {tag}", owner=user, actor=actor)
    large = space_create(f"bench large {tag}", owner=user, actor=actor)
    try:
        _populate(small, SMALL, user)
        editor_workflow = _populate(large, LARGE, user)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        with override_settings(
            ROOT_URLCONF=__name__, ALLOWED_HOSTS=["localhost"], TEMPLATES=_bare_template_engine()
        ):
            small_url = f"/s/{small.slug}/workflows/"
            large_url = f"/s/{large.slug}/workflows/"
            editor_url = f"/s/{large.slug}/workflows/{editor_workflow.id}/"
            for target in (small_url, large_url, editor_url):
                response = client.get(target)
                if response.status_code != 200:
                    raise RuntimeError(f"{target} answered {response.status_code}")
            FILLER_HTML = "x" * len(client.get(editor_url).content)
            bare_url = f"/s/{large.slug}/__bench/bare/"
            bare = client.get(bare_url)
            if abs(len(bare.content) - len(FILLER_HTML)) > 200:
                raise RuntimeError("the bare page is not the editor's size")

            table_large, table_small = p50_pair(
                lambda: client.get(large_url),
                lambda: client.get(small_url),
                repetitions=REPETITIONS,
            )
            editor, floor = p50_pair(
                lambda: client.get(editor_url),
                lambda: client.get(bare_url),
                repetitions=REPETITIONS,
            )
    finally:
        small.delete()
        large.delete()
        user.delete()

    return [
        {
            "name": f"Workflows table, {LARGE:,} workflows (p50)",
            "value": table_large,
            "unit": "ms",
            "floor_name": f"same page, {SMALL} workflows (target ≤1.5×)",
            "floor_value": table_small,
            "ratio": table_large / table_small,
        },
        {
            "name": "Workflow editor page (p50)",
            "value": editor,
            "unit": "ms",
            "floor_name": "bare console template view, same size (≤3×)",
            "floor_value": floor,
            "ratio": editor / floor,
        },
    ]


def _populate(space, count: int, user):
    """`count` workflows with a realistic mix: every third unpublished, the others with one to
    three versions, half of the published ones deployed to live. Answers a published one."""
    from apps.demo.samples import DEDUPE
    from apps.environments.selectors import environment_by_slug
    from apps.workflows.models import Deployment, Workflow, WorkflowVersion

    live = environment_by_slug(space, "live")
    workflows = Workflow.objects.bulk_create(
        [
            Workflow(
                space=space,
                name=f"Workflow {i:04}",
                slug=f"workflow-{i:04}",
                description=f"Moves records of kind {i} from the CRM to the warehouse.",
                tier=("instant", "standard", "long")[i % 3],
                timeout_seconds=(60, 900, 21600)[i % 3],
                draft_code=DEDUPE,
                created_by=user,
            )
            for i in range(count)
        ]
    )
    versions, deployments = [], []
    for i, workflow in enumerate(workflows):
        if i % 3 == 0:
            continue
        mine = [
            WorkflowVersion(
                workflow=workflow, number=n, code=DEDUPE, config=workflow.config(), created_by=user
            )
            for n in range(1, 2 + i % 3)
        ]
        versions.extend(mine)
        if i % 2 == 0:
            deployments.append(
                Deployment(workflow=workflow, environment=live, version=mine[0], deployed_by=user)
            )
    WorkflowVersion.objects.bulk_create(versions)
    Deployment.objects.bulk_create(deployments)
    return workflows[1]


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fastn_console.settings")
    import django

    django.setup()
    for row in run():
        print(
            f"{row['name']}: {row['value']:.2f} ms; {row['floor_name']}: "
            f"{row['floor_value']:.2f} ms; ratio {row['ratio']:.2f}×"
        )
