"""The Docs tab's work: the Flow (graph + SVG, cached), run statistics, and generating the
reference (the one write: `docs_generate`)."""

from __future__ import annotations

import hashlib
import pickle
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.insight import selectors
from apps.insight.analysis import analyze
from apps.insight.docs import docs_content, docs_markdown, durable_steps
from apps.insight.graph import Graph, ParseFailure, build_graph
from apps.insight.models import GeneratedDoc
from apps.insight.render import FlowSvg, RenderError, render_flow
from apps.insight.stats import NodeStats, line_mapping, node_statistics
from apps.insight.stepgraph import step_graph
from apps.runtime.source import code_hash
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Space
from apps.workflows.models import Tier, Workflow

# Bumped when the drawing changes, so that cached SVGs of an older drawing are not served.
RENDER_VERSION = "4"
LOCAL_ENTRIES = 64
SHARED_TTL_S = 24 * 3600


@dataclass(frozen=True)
class SyntaxProblem:
    """Where the code stops parsing (a ParseFailure, kept as plain values: it is cached)."""

    message: str
    line: int
    column: int


@dataclass(frozen=True)
class Flow:
    """A workflow's code as a graph and its picture; `failure` when the code does not parse,
    `render_error` when the graph could not be drawn (the Sequence still works then)."""

    key: str
    graph: Graph | None
    svg: FlowSvg | None
    failure: SyntaxProblem | None = None
    render_error: str = ""


class _LocalCache:
    """A small LRU in this process: a cached Flow costs a dictionary lookup, not a Redis round
    trip and an unpickling of a large SVG."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, Flow] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> Flow | None:
        with self.lock:
            flow = self.items.get(key)
            if flow is not None:
                self.items.move_to_end(key)
            return flow

    def put(self, key: str, flow: Flow) -> None:
        with self.lock:
            self.items[key] = flow
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


LOCAL = _LocalCache(LOCAL_ENTRIES)


def flow_key(code: str, *, catalog: str, trigger_label: str) -> str:
    """What a Flow is drawn from: the code, the READ/WRITE of connector actions (the
    catalog's fingerprint), and the trigger label on the TRIGGER node."""
    text = f"{RENDER_VERSION}|{code_hash(code)}|{catalog}|{trigger_label}"
    return "insight:flow:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def flow_build(space: Space, code: str, *, trigger_label: str) -> Flow:
    """The Flow of `code`, from the process's cache, else the shared cache, else drawn now.
    1. key from the code, the Space's connector catalog and the trigger label;
    2. local LRU, then Redis (failing open);
    3. parse, lay out with `dot`, and keep it in both."""
    key = flow_key(code, catalog=selectors.catalog_fingerprint(space), trigger_label=trigger_label)
    flow = LOCAL.get(key)
    if flow is not None:
        return flow
    flow = _shared_get(key)
    if flow is None:
        flow = _draw(space, code, key=key, trigger_label=trigger_label)
        # Compressed: every pause in typing draws a new version of the code, and an SVG of a
        # big workflow is a few hundred kilobytes of very repetitive text (about a tenth).
        cache.set(key, zlib.compress(pickle.dumps(flow), 1), SHARED_TTL_S)
    LOCAL.put(key, flow)
    return flow


def _shared_get(key: str) -> Flow | None:
    blob = cache.get(key)
    if not isinstance(blob, bytes):
        return None
    try:
        flow = pickle.loads(zlib.decompress(blob))  # noqa: S301 (written by flow_build only)
    except (zlib.error, pickle.UnpicklingError, AttributeError, TypeError, EOFError):
        return None  # an entry of an older drawing: draw again
    return flow if isinstance(flow, Flow) else None


def _draw(space: Space, code: str, *, key: str, trigger_label: str) -> Flow:
    catalog = selectors.ActionCatalog(space)
    try:
        graph = build_graph(code, action_kind=catalog.action_kind)
    except ParseFailure as failure:
        return Flow(
            key, None, None, failure=SyntaxProblem(failure.message, failure.line, failure.column)
        )
    try:
        svg = render_flow(graph, trigger_label=trigger_label)
    except RenderError as exc:
        return Flow(key, graph, None, render_error=str(exc))
    return Flow(key, graph, svg)


# --- Run statistics -------------------------------------------------------------------------


@dataclass(frozen=True)
class RunStats:
    environment: str
    version: int
    runs: int  # runs found (at most the N asked for)
    limit: int
    nodes: dict[str, NodeStats]
    mapped: bool  # the runs' code differs from the graph's: lines went through a diff


def run_statistics(
    workflow: Workflow, graph: Graph, code: str, *, environment: str, version: int, limit: int
) -> RunStats:
    """How the last `limit` finished runs of `version` on `environment` went through each
    node of `graph` (drawn from `code`, which may differ from the version's own code)."""
    runs = selectors.recent_runs(workflow, environment=environment, version=version, limit=limit)
    mapping = None
    if runs:
        served_code = selectors.version_code(workflow, version) or ""
        mapping = line_mapping(served_code, code)
    nodes = node_statistics(graph, runs, line_map=mapping)
    return RunStats(environment, version, len(runs), limit, nodes, mapped=mapping is not None)


# --- Generated docs ---------------------------------------------------------------------------


def workflow_facts(workflow: Workflow) -> dict:
    retry = None
    if workflow.retry_enabled:
        retry = {
            "max_attempts": workflow.retry_max_attempts,
            "initial_interval_ms": workflow.retry_initial_interval_ms,
            "backoff_coefficient": float(workflow.retry_backoff_coefficient),
            "max_interval_ms": workflow.retry_max_interval_ms,
        }
    return {
        "name": workflow.name,
        "slug": workflow.slug,
        "description": workflow.description,
        "tier": workflow.tier,
        "tier_label": Tier(workflow.tier).label if workflow.tier in Tier.values else workflow.tier,
        "timeout_seconds": workflow.timeout_seconds,
        "retry": retry,
    }


def docs_build(workflow: Workflow, code: str) -> dict:
    """The reference of `code` as the workflow `workflow`. Raises ParseFailure."""
    catalog = selectors.ActionCatalog(workflow.space)
    analysis = analyze(code, action_kind=catalog.action_kind)
    triggers = [
        {
            "kind": t.kind,
            "kind_label": t.kind_label,
            "name": t.name,
            "detail": t.detail,
            "environment": t.environment,
            "enabled": t.enabled,
        }
        for t in selectors.attached_triggers(workflow)
    ]
    return docs_content(
        analysis,
        workflow=workflow_facts(workflow),
        triggers=triggers,
        action_info=catalog.info,
        steps=durable_steps(step_graph(code)),
    )


def source_label(workflow: Workflow, code: str) -> str:
    """What `code` is of the workflow: a published version, the saved draft, or unsaved
    edits (the editor's)."""
    digest = code_hash(code)
    for number, version_code in workflow.versions.order_by("-number").values_list("number", "code")[
        :20
    ]:
        if code_hash(version_code) == digest:
            return f"v{number}"
    return "draft" if code == workflow.draft_code else "unsaved edits"


def generated_line(label: str, code: str) -> str:
    return (
        f"Generated {timezone.now():%Y-%m-%d %H:%M} UTC from {label} "
        f"(code sha256 {code_hash(code)[:12]}) by Fastn Console."
    )


def docs_markdown_of_draft(workflow: Workflow) -> str:
    """The reference of the saved draft as Markdown, made now and not kept. Raises
    ParseFailure."""
    content = docs_build(workflow, workflow.draft_code)
    return docs_markdown(content, generated=generated_line("the saved draft", workflow.draft_code))


def docs_generate(
    workflow: Workflow, *, code: str, actor: Actor, user=None, request=None
) -> GeneratedDoc:
    """Generate the reference of `code` and keep it as the workflow's docs (replacing the
    previous ones), audited. Raises ParseFailure (nothing is stored then)."""
    content = docs_build(workflow, code)
    label = source_label(workflow, code)
    now = timezone.now()
    generated = generated_line(label, code)
    with transaction.atomic():
        doc, _created = GeneratedDoc.objects.update_or_create(
            workflow=workflow,
            defaults={
                "space": workflow.space,
                "code_hash": code_hash(code),
                "source_label": label,
                "content": content,
                "markdown": docs_markdown(content, generated=generated),
                "generated_at": now,
                "generated_by": user,
            },
        )
        audit_record(
            space=workflow.space,
            actor=actor,
            action="workflow.docs_generate",
            resource=workflow,
            request=request,
            detail={"code_hash": doc.code_hash, "source": label},
        )
    return doc
