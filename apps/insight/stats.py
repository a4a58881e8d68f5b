"""How the last runs went through each node of a step graph, from their step traces.

Pure: `node_statistics(graph, runs)` takes the graph and the runs (`RunTrace`: status,
duration, the steps as the runtime recorded them) and answers a `NodeStats` per node id. It
never invents a number: a node answers only what the traces show about it, and says which
kind of evidence that is.

- TRIGGER: every run; failures are runs that ended failed or timed out; p95 of run duration.
- DONE / FAILED: the runs that completed / failed or timed out (their outcome).
- a node with host calls: the runs with a step placed on it. A step is placed by its `line`
  (the innermost node with calls whose lines hold it, preferring one that makes that call),
  else by its (kind, name) when exactly one node makes that call. Failures are runs in which
  one of its calls failed (caught or not); time is the run's total time in its calls.
- DECISION, LOOP, PARALLEL, TRY, STEP, WAIT without calls of their own: the runs with a step
  inside their lines or in what only they lead to (a decision's branches, what follows a
  loop); failures are those runs that ended failed; time is the span from their first step's
  start to their last step's end when their lines hold steps.
- anything else (plain code, returns, throws and catches without calls): reached (inferred,
  no time of its own) whenever a node that only it leads to was, transitively; a catch also
  in the runs where a call whose error edge leads to it failed. Error edges and loops' back
  edges are not such ways, and nothing is inferred from FAILED: a run can fail anywhere.
- otherwise: no evidence.

Old runs recorded no `line` and fall back to (kind, name). When the runs are of another
code than the graph's (the deployed version against the editor's draft), `line_map` carries
their lines over (a line diff, `line_mapping`); steps on changed lines fall back likewise.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from apps.insight.graph import Graph, Node

COMPLETED = "completed"
FAILED_STATUSES = frozenset({"failed", "timeout"})
RANGE_KINDS = frozenset({"DECISION", "LOOP", "PARALLEL", "TRY", "CATCH", "STEP", "WAIT"})
OUTCOME_KINDS = frozenset({"TRIGGER", "DONE", "FAILED"})
# Evidence, as the legend names it.
ALL_RUNS, OUTCOME, CALLS, RANGE, INFERRED, NONE = (
    "all runs", "outcome", "calls", "steps in range", "inferred", "none",
)  # fmt: skip


class StepTrace(NamedTuple):
    """A tuple: a thousand runs are twelve thousand of them, built straight from rows."""

    kind: str
    name: str
    line: int | None
    duration_ms: float
    started: str | None  # startedAt as recorded (ISO 8601); read only when a span needs it
    failed: bool


@dataclass(frozen=True)
class RunTrace:
    status: str
    duration_ms: float | None
    steps: tuple[StepTrace, ...] = ()


@dataclass(frozen=True)
class NodeStats:
    evidence: str
    runs: int = 0
    failures: int = 0
    p95_ms: float | None = None
    calls: int = 0  # steps placed on the node (a loop's call counts once per iteration)
    total: int = 0  # runs considered

    @property
    def failure_rate(self) -> float | None:
        return self.failures / self.runs if self.runs else None

    @property
    def share(self) -> float | None:
        return self.runs / self.total if self.total else None

    def summary(self) -> str:
        """One line for the node's box (at most render.STATS_WIDTH characters)."""
        if self.evidence == NONE:
            return "no evidence in these runs" if self.total else "no runs yet"
        if self.evidence == OUTCOME:
            return f"{_runs(self.runs)} ({_percent(self.share)})"
        if self.evidence == INFERRED:
            return f"~{_runs(self.runs)} (inferred)"
        text = f"{_runs(self.runs)} · {_percent(self.failure_rate)} failed"
        if self.p95_ms is not None:
            text += f" · p95 {format_ms(self.p95_ms)}"
        return text

    @property
    def state(self) -> str:
        """A CSS class for the node: failing nodes stand out, nodes without evidence fade."""
        if self.evidence == NONE:
            return "st_none"
        if self.evidence == OUTCOME:
            return "st_outcome"
        rate = self.failure_rate or 0.0
        if rate >= 0.05:
            return "st_fail"
        if rate > 0:
            return "st_warn"
        return "st_ok"


@dataclass
class _Tally:
    runs: set[int] = field(default_factory=set)
    failed_runs: set[int] = field(default_factory=set)
    durations: dict[int, float] = field(default_factory=dict)
    spans: dict[int, list[float]] = field(default_factory=dict)  # run -> [first start, last end]
    calls: int = 0


def format_ms(ms: float) -> str:
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f} s" if ms < 10_000 else f"{ms / 1000:.1f} s"
    return f"{ms / 60_000:.1f} min"


def _runs(count: int) -> str:
    return f"{count:,} run" if count == 1 else f"{count:,} runs"


def _percent(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0 or value == 1:
        return f"{value:.0%}"
    return f"{value * 100:.1f}%"


def p95(values: Iterable[float]) -> float | None:
    """The nearest-rank 95th percentile."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def parse_started(text: object) -> float | None:
    """`startedAt` ("2026-01-01T00:00:00.000Z") as epoch milliseconds."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000
    except ValueError:
        return None


def step_trace(step: Mapping) -> StepTrace | None:
    """One recorded step (apps/runtime/bridge.py) as a StepTrace; None when it is not one."""
    kind, name = step.get("kind"), step.get("name")
    if not isinstance(kind, str) or not isinstance(name, str):
        return None
    line = step.get("line")
    duration = step.get("durationMs")
    return StepTrace(
        kind=kind,
        name=name,
        line=line if type(line) is int and line > 0 else None,
        duration_ms=float(duration)
        if isinstance(duration, int | float) and not isinstance(duration, bool)
        else 0.0,
        started=started if isinstance(started := step.get("startedAt"), str) else None,
        failed=bool(step.get("error")),
    )


def line_mapping(old_code: str, new_code: str) -> dict[int, int] | None:
    """Old line → new line for the lines a diff keeps (1-based); None when the codes are the
    same (no mapping needed)."""
    if old_code == new_code:
        return None
    old_lines, new_lines = old_code.splitlines(), new_code.splitlines()
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    mapping: dict[int, int] = {}
    for tag, i1, i2, j1, _j2 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(i2 - i1):
                mapping[i1 + offset + 1] = j1 + offset + 1
    return mapping


def call_key(kind: str, name: str) -> tuple[str, str]:
    """(kind, name) with connector names compared without their `connector.` prefix."""
    if kind == "connector" and name.startswith("connector."):
        name = name[len("connector.") :]
    return kind, name


class _Placer:
    """Where each step goes: by line, else by (kind, name) when only one node makes it."""

    def __init__(self, graph: Graph) -> None:
        self.call_nodes = [n for n in graph.nodes if n.calls and n.start_line]
        self.keys = {n.id: {call_key(k, nm) for k, nm in n.calls} for n in self.call_nodes}
        by_key: dict[tuple[str, str], list[Node]] = {}
        for node in self.call_nodes:
            for key in self.keys[node.id]:
                by_key.setdefault(key, []).append(node)
        self.unique = {key: nodes[0] for key, nodes in by_key.items() if len(nodes) == 1}

    def place(self, line: int | None, kind: str, name: str) -> Node | None:
        key = call_key(kind, name)
        if line is not None:
            holding = [n for n in self.call_nodes if n.start_line <= line <= n.end_line]
            if holding:
                making = [n for n in holding if key in self.keys[n.id]]
                pool = making or holding
                return min(pool, key=lambda n: (n.end_line - n.start_line, n.start_line))
        return self.unique.get(key)


def node_statistics(
    graph: Graph, runs: Sequence[RunTrace], *, line_map: Mapping[int, int] | None = None
) -> dict[str, NodeStats]:
    """A NodeStats for every node of `graph` (see the module docstring). One pass over the
    steps: each is placed on its node, and counted for the ranges that hold its line (an
    index from line to ranges, so a thousand runs cost a thousand times their steps)."""
    total = len(runs)
    placer = _Placer(graph)
    ranges = _Ranges(graph)
    by_node: dict[str, _Tally] = {}
    # Where each (line, kind, name) goes — its node's tally and the ranges holding it — worked
    # out once: a thousand runs repeat the same few.
    plans: dict[tuple[int | None, str, str], tuple[_Tally | None, list[int] | None]] = {}

    def plan(line: int | None, kind: str, name: str) -> tuple[_Tally | None, list[int] | None]:
        if line is not None and line_map is not None:
            line = line_map.get(line)
        node = placer.place(line, kind, name)
        if node is None:
            return None, None
        tally = by_node.get(node.id)
        if tally is None:
            tally = by_node[node.id] = _Tally()
        return tally, ranges.covering.get(line if line is not None else node.start_line)

    for index, run in enumerate(runs):
        seen: dict[int, list[float | None]] = {}  # range → [first start, last end] this run
        for step in run.steps:
            key = (step.line, step.kind, step.name)
            found = plans.get(key)
            if found is None:
                found = plans[key] = plan(*key)
            tally, holding = found
            if tally is None:
                continue
            tally.runs.add(index)
            tally.calls += 1
            durations = tally.durations
            durations[index] = durations.get(index, 0.0) + step.duration_ms
            if step.failed:
                tally.failed_runs.add(index)
            if holding:
                ranges.see(seen, holding, step)
        if seen:
            failed = run.status in FAILED_STATUSES
            for position, (first, last) in seen.items():
                ranges.count(position, index, failed, first, last)

    failed_runs = {i for i, run in enumerate(runs) if run.status in FAILED_STATUSES}
    ways = _Ways(graph)
    direct: dict[str, set[int]] = {node_id: tally.runs for node_id, tally in by_node.items()}
    for node_id, at in ranges.position.items():
        direct.setdefault(node_id, set()).update(ranges.runs[at])
    for node in graph.nodes:
        if node.kind == "DONE":
            direct[node.id] = {i for i, run in enumerate(runs) if run.status == COMPLETED}
        elif node.kind == "CATCH":
            for source in ways.errors_into.get(node.id, ()):
                if source in by_node:
                    direct.setdefault(node.id, set()).update(by_node[source].failed_runs)
    reached = ways.reached(graph, direct)

    stats: dict[str, NodeStats] = {}
    for node in graph.nodes:
        if node.kind in OUTCOME_KINDS:
            stats[node.id] = _outcome(node, runs)
        elif node.calls and node.id in by_node:
            tally = by_node[node.id]
            stats[node.id] = NodeStats(
                CALLS,
                runs=len(tally.runs),
                failures=len(tally.failed_runs),
                p95_ms=p95(tally.durations.values()),
                calls=tally.calls,
                total=total,
            )
        elif node.kind in RANGE_KINDS and node.kind != "CATCH" and reached[node.id]:
            # Runs with a step in its lines or in what only it leads to (a decision's
            # branches): those runs went through it.
            at = ranges.position.get(node.id)
            stats[node.id] = NodeStats(
                RANGE,
                runs=len(reached[node.id]),
                failures=len(reached[node.id] & failed_runs),
                p95_ms=p95(ranges.spans[at]) if at is not None else None,
                total=total,
            )
        elif reached[node.id]:
            stats[node.id] = NodeStats(INFERRED, runs=len(reached[node.id]), total=total)
        else:
            stats[node.id] = NodeStats(NONE, total=total)
    return stats


class _Ranges:
    """The nodes that count the runs with a step inside their lines, and their tallies."""

    def __init__(self, graph: Graph) -> None:
        nodes = [n for n in graph.nodes if n.kind in RANGE_KINDS and n.start_line]
        self.position = {node.id: at for at, node in enumerate(nodes)}
        self.covering: dict[int, list[int]] = {}
        for at, node in enumerate(nodes):
            for line in range(node.start_line, node.end_line + 1):
                self.covering.setdefault(line, []).append(at)
        self.runs: list[set[int]] = [set() for _ in nodes]
        self.failed: list[set[int]] = [set() for _ in nodes]
        self.spans: list[list[float]] = [[] for _ in nodes]
        self.started: dict[str, float | None] = {}

    def see(self, seen: dict[int, list[float | None]], holding: list[int], step) -> None:
        start = self.started.get(step.started) if step.started else None
        if step.started and step.started not in self.started:
            start = self.started[step.started] = parse_started(step.started)
        end = start + step.duration_ms if start is not None else None
        for at in holding:
            span = seen.get(at)
            if span is None:
                seen[at] = [start, end]
            elif span[0] is not None and start is not None:
                span[0] = min(span[0], start)
                span[1] = max(span[1], end)
            else:
                span[0] = span[1] = None  # a step without a readable start: no span

    def count(self, at: int, run: int, failed: bool, first, last) -> None:
        self.runs[at].add(run)
        if failed:
            self.failed[at].add(run)
        if first is not None and last is not None:
            self.spans[at].append(last - first)


def _caught(ways: _Ways, node: Node, by_node: Mapping[str, _Tally], total: int) -> NodeStats | None:
    """A catch ran in every run where a call whose error leads to it failed."""
    if node.kind != "CATCH":
        return None
    runs: set[int] = set()
    for source in ways.errors_into.get(node.id, ()):
        if source in by_node:
            runs |= by_node[source].failed_runs
    return NodeStats(INFERRED, runs=len(runs), total=total) if runs else None


def _outcome(node: Node, runs: Sequence[RunTrace]) -> NodeStats:
    total = len(runs)
    if node.kind == "TRIGGER":
        failed = sum(1 for run in runs if run.status in FAILED_STATUSES)
        durations = [run.duration_ms for run in runs if run.duration_ms is not None]
        evidence = ALL_RUNS if runs else NONE
        return NodeStats(evidence, runs=total, failures=failed, p95_ms=p95(durations), total=total)
    wanted = {COMPLETED} if node.kind == "DONE" else FAILED_STATUSES
    count = sum(1 for run in runs if run.status in wanted)
    return NodeStats(
        OUTCOME if runs else NONE,
        runs=count,
        failures=count if node.kind == "FAILED" else 0,
        total=total,
    )


class _Ways:
    """How nodes lead to each other, for what a run's evidence says about the nodes before:
    a node was reached whenever a node that only it leads to was. Error edges never count as
    such a way (an exception can leave anywhere), back edges of loops neither (they return
    to a node already reached), and nothing is inferred from Failed (a run fails anywhere:
    a timeout, a TypeError)."""

    def __init__(self, graph: Graph) -> None:
        kinds = {node.id: node.kind for node in graph.nodes}
        incoming: dict[str, int] = {}
        self.errors_into: dict[str, list[str]] = {}  # catch → the nodes whose errors lead there
        for edge in graph.edges:
            if edge.kind == "error":
                self.errors_into.setdefault(edge.target, []).append(edge.source)
            if edge.kind != "back":
                incoming[edge.target] = incoming.get(edge.target, 0) + 1
        self.only_from: dict[str, list[str]] = {}  # node → the nodes only it leads to
        for edge in graph.edges:
            if edge.kind in ("back", "error") or kinds.get(edge.target) == "FAILED":
                continue
            if incoming.get(edge.target) == 1:
                self.only_from.setdefault(edge.source, []).append(edge.target)

    def reached(self, graph: Graph, direct: Mapping[str, set[int]]) -> dict[str, set[int]]:
        """The runs that went through each node: its own evidence and, transitively, that of
        the nodes only it leads to."""
        reached = {node.id: set(direct.get(node.id, ())) for node in graph.nodes}
        changed = True
        while changed:
            changed = False
            for node in reversed(graph.nodes):
                mine = reached[node.id]
                for target in self.only_from.get(node.id, ()):
                    extra = reached[target] - mine
                    if extra:
                        mine |= extra
                        changed = True
        return reached
