"""Run statistics per node, from hand-built graphs and step traces (apps/insight/stats.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.insight.graph import Edge, Graph, Node
from apps.insight.stats import (
    ALL_RUNS,
    CALLS,
    INFERRED,
    NONE,
    OUTCOME,
    RANGE,
    RunTrace,
    StepTrace,
    line_mapping,
    node_statistics,
    p95,
    step_trace,
)

# export default async function (ctx) {          1
#   const n = ctx.input.n;                        2  n1 PROCESS
#   const seen = await fastn.state.get("seen");   3  n2 READ
#   if (n > 5) {                                  4  n3 DECISION (4-8)
#     await fastn.state.set("big", n);            5  n4 WRITE
#   } else {
#     await fastn.state.set("small", n);          7  n5 WRITE
#   }
#   for (const x of ctx.input.items) {            9  n6 LOOP (9-11)
#     await fastn.connector.crm.push({ x });      10 n7 WRITE
#   }
#   return { n };                                 12 n8 RETURN
# }
GRAPH = Graph(
    nodes=(
        Node("trigger", "TRIGGER", "Trigger", "", 0, 0),
        Node("n1", "PROCESS", "const n = …", "const n = ctx.input.n;", 2, 2),
        Node("n2", "READ", "state.get seen", "…", 3, 3, calls=(("state", "state.get"),)),
        Node("n3", "DECISION", "if n > 5", "if (n > 5)", 4, 8),
        Node("n4", "WRITE", "state.set big", "…", 5, 5, calls=(("state", "state.set"),)),
        Node("n5", "WRITE", "state.set small", "…", 7, 7, calls=(("state", "state.set"),)),
        Node("n6", "LOOP", "for x of items", "…", 9, 11),
        Node("n7", "WRITE", "crm.push", "…", 10, 10, "n6", (("connector", "connector.crm.push"),)),
        Node("n8", "RETURN", "return { n }", "return { n };", 12, 12),
        Node("done", "DONE", "Done", "", 0, 0),
        Node("failed", "FAILED", "Failed", "", 0, 0),
    ),
    edges=(
        Edge("trigger", "n1"),
        Edge("n1", "n2"),
        Edge("n2", "n3"),
        Edge("n3", "n4", "yes", "yes"),
        Edge("n3", "n5", "no", "no"),
        Edge("n4", "n6"),
        Edge("n5", "n6"),
        Edge("n6", "n7", "each", "loop"),
        Edge("n7", "n6", "", "back"),
        Edge("n6", "n8", "done", "flow"),
        Edge("n8", "done"),
        Edge("n2", "failed", "error", "error"),
    ),
    code_hash="x",
)


def step(kind, name, line, ms=1.0, *, failed=False, at=0.0):
    """A step that started `at` milliseconds after the epoch, recorded as the runtime does."""
    started = datetime.fromtimestamp(at / 1000, UTC).isoformat(timespec="milliseconds")
    return StepTrace(kind, name, line, ms, started.replace("+00:00", "Z"), failed)


def run(status, duration, *steps):
    return RunTrace(status, duration, tuple(steps))


def big_run(status="completed", duration=10.0, items=2, push_fails=False):
    pushes = [step("connector", "connector.crm.push", 10, 3.0, failed=push_fails, at=100 + i * 10)
              for i in range(items)]  # fmt: skip
    return run(status, duration, step("state", "state.get", 3, 1.0, at=90),
               step("state", "state.set", 5, 2.0, at=95), *pushes)  # fmt: skip


def small_run(status="completed", duration=5.0):
    return run(status, duration, step("state", "state.get", 3, 1.0, at=90),
               step("state", "state.set", 7, 4.0, at=95))  # fmt: skip


def test_trigger_counts_every_run_with_failures_and_p95_duration():
    runs = [big_run(duration=d) for d in (10, 20, 30)] + [small_run("failed", 40)]
    stats = node_statistics(GRAPH, runs)
    trigger = stats["trigger"]
    assert (trigger.evidence, trigger.runs, trigger.failures) == (ALL_RUNS, 4, 1)
    assert trigger.p95_ms == 40
    assert trigger.summary() == "4 runs · 25.0% failed · p95 40 ms"


def test_done_and_failed_count_outcomes():
    runs = [big_run(), big_run("timeout"), small_run("failed"), small_run("cancelled")]
    stats = node_statistics(GRAPH, runs)
    assert (stats["done"].evidence, stats["done"].runs) == (OUTCOME, 1)
    assert stats["failed"].runs == 2  # failed and timed out; cancelled is neither
    assert stats["done"].summary() == "1 run (25.0%)"


def test_steps_are_placed_on_their_line_even_when_two_nodes_make_the_same_call():
    runs = [big_run(), big_run(), small_run()]
    stats = node_statistics(GRAPH, runs)
    assert (stats["n4"].evidence, stats["n4"].runs) == (CALLS, 2)
    assert stats["n5"].runs == 1
    assert stats["n4"].p95_ms == 2.0 and stats["n5"].p95_ms == 4.0


def test_a_loops_calls_count_each_run_once_and_add_up_their_time():
    stats = node_statistics(GRAPH, [big_run(items=3), big_run(items=1, push_fails=True)])
    push = stats["n7"]
    assert (push.runs, push.calls, push.failures) == (2, 4, 1)
    assert push.p95_ms == 9.0  # 3 calls of 3 ms in the first run
    assert push.summary() == "2 runs · 50.0% failed · p95 9.0 ms"


def test_decisions_and_loops_count_runs_with_a_step_inside_or_after_them():
    runs = [big_run(items=2), big_run(items=0), small_run("failed")]
    stats = node_statistics(GRAPH, runs)
    assert (stats["n3"].evidence, stats["n3"].runs, stats["n3"].failures) == (RANGE, 3, 1)
    loop = stats["n6"]
    # The run without items has no step in the loop, but the return that only the loop
    # leads to ran: it reached the loop too.
    assert (loop.evidence, loop.runs) == (RANGE, 2)
    assert loop.p95_ms == 13.0  # from the first push's start (100) to the last's end (113)


def test_plain_code_is_inferred_from_what_follows_on_a_straight_path():
    stats = node_statistics(GRAPH, [big_run(), small_run()])
    assert (stats["n1"].evidence, stats["n1"].runs) == (INFERRED, 2)
    assert stats["n1"].p95_ms is None and stats["n1"].summary() == "~2 runs (inferred)"
    # The return leads to done, which nothing else leads to: it ran in every completed run.
    assert (stats["n8"].evidence, stats["n8"].runs) == (INFERRED, 2)


def test_a_node_without_evidence_says_so():
    graph = Graph(
        nodes=(*GRAPH.nodes[:-1], Node("n9", "RETURN", "return early", "", 13, 13)),
        edges=(*GRAPH.edges, Edge("n3", "n9"), Edge("n9", "done")),
        code_hash="y",
    )
    stats = node_statistics(graph, [big_run()])
    assert stats["n8"].evidence == NONE  # done has two ways in now
    assert stats["n8"].summary() == "no evidence in these runs"
    assert node_statistics(graph, [])["n2"].summary() == "no runs yet"


def test_steps_without_a_line_fall_back_to_a_call_only_one_node_makes():
    steps = [("state", "state.get"), ("state", "state.set"), ("connector", "connector.crm.push")]
    runs = [run("completed", 1.0, *(step(kind, name, None) for kind, name in steps))]
    stats = node_statistics(GRAPH, runs)
    assert stats["n2"].runs == 1 and stats["n7"].runs == 1
    # state.set is made by two nodes: which one ran cannot be told.
    assert stats["n4"].evidence == NONE and stats["n5"].evidence == NONE
    # The loop holds the push, placed by name: its lines count as the step's.
    assert stats["n6"].runs == 1


def test_lines_of_another_version_are_carried_over_by_a_diff():
    old = "a\nb\nc\nd\n"
    new = "a\nINSERTED\nb\nc\nCHANGED\n"
    assert line_mapping(old, new) == {1: 1, 2: 3, 3: 4}
    assert line_mapping(old, old) is None
    # Deployed code had the state.get on line 2; the editor has it on line 3 (GRAPH).
    runs = [run("completed", 1.0, step("state", "state.get", 2), step("state", "state.set", 4))]
    stats = node_statistics(GRAPH, runs, line_map={2: 3})
    assert stats["n2"].runs == 1
    assert stats["n4"].evidence == NONE  # line 4 changed: no line, and the name is ambiguous


def test_p95_is_the_nearest_rank():
    assert p95([]) is None
    assert p95([5.0]) == 5.0
    assert p95(range(1, 101)) == 95
    assert p95(range(1, 21)) == 19


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"kind": "state", "name": "state.get", "line": 3, "durationMs": 1.5, "error": None,
          "startedAt": "2026-01-01T00:00:00.250Z"}, ("state", 3, 1.5, False)),
        ({"kind": "db", "name": "db.query", "durationMs": 2, "error": {"code": "X"}},
         ("db", None, 2.0, True)),
        ({"kind": "db", "name": "db.query", "line": "7", "durationMs": "x"},
         ("db", None, 0.0, False)),
    ],
)  # fmt: skip
def test_recorded_steps_are_read_defensively(raw, expected):
    trace = step_trace(raw)
    assert (trace.kind, trace.line, trace.duration_ms, trace.failed) == expected
    assert step_trace({"name": "x"}) is None


def test_a_throw_is_not_inferred_from_failed_runs():
    graph = Graph(
        nodes=(
            Node("trigger", "TRIGGER", "Trigger", "", 0, 0),
            Node("n1", "THROW", "throw Error", "", 2, 2),
            Node("failed", "FAILED", "Failed", "", 0, 0),
        ),
        edges=(Edge("trigger", "n1"), Edge("n1", "failed")),
        code_hash="t",
    )
    stats = node_statistics(graph, [run("failed", 1.0), run("timeout", 2.0)])
    assert stats["failed"].runs == 2
    assert stats["n1"].evidence == NONE  # a timeout ends a run anywhere, not at the throw


def test_a_catch_ran_where_a_call_leading_to_it_failed():
    graph = Graph(
        nodes=(
            Node("trigger", "TRIGGER", "Trigger", "", 0, 0),
            Node("n1", "TRY", "try", "", 2, 6),
            Node("n2", "WRITE", "state.incr k", "", 3, 3, "n1", (("state", "state.incr"),)),
            Node("n3", "CATCH", "catch (err)", "", 4, 6, "n1"),
            Node("n4", "PROCESS", "console.log(…)", "", 5, 5, "n3"),
            Node("n5", "RETURN", "return 1", "", 7, 7),
            Node("done", "DONE", "Done", "", 0, 0),
        ),
        edges=(
            Edge("trigger", "n1"),
            Edge("n1", "n2"),
            Edge("n2", "n3", "error", "error"),
            Edge("n3", "n4"),
            Edge("n2", "n5"),
            Edge("n4", "n5"),
            Edge("n5", "done"),
        ),
        code_hash="c",
    )
    runs = [
        run("completed", 1.0, step("state", "state.incr", 3, failed=True)),
        run("completed", 1.0, step("state", "state.incr", 3)),
    ]
    stats = node_statistics(graph, runs)
    assert (stats["n3"].evidence, stats["n3"].runs) == (INFERRED, 1)
    assert (stats["n4"].evidence, stats["n4"].runs) == (NONE, 0)  # the return has two ways in
