"""step_graph: every workflow in tests/insight/stepgraph_corpus has its whole expected graph
(Cloudflare's VersionGraphResponse.graph.workflow shape) next to it, written by hand; a
difference fails with a line diff. Then the contract beyond the corpus: syntax errors, odd
code, speed."""

from __future__ import annotations

import difflib
import json
import time
from pathlib import Path

import pytest

from apps.insight.graph import ParseFailure, _parsed
from apps.insight.stepgraph import step_graph
from tests.insight.corpus_format import CORPUS as FLOW_CORPUS

CORPUS = Path(__file__).resolve().parent / "stepgraph_corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.js"))
STEP_TYPES = {"step_do", "step_sleep", "step_sleep_until", "step_wait_for_event"}
ALL_TYPES = STEP_TYPES | {"loop", "parallel", "if", "switch", "try", "block", "function_call"}


def test_the_corpus_is_large_enough_and_complete():
    assert len(CASES) >= 15
    missing = [name for name in CASES if not (CORPUS / f"{name}.json").exists()]
    assert not missing, f"no expected graph for {missing}"


@pytest.mark.parametrize("name", CASES)
def test_the_step_graph_matches_the_expected_one(name):
    expected = json.loads((CORPUS / f"{name}.json").read_text())
    actual = step_graph((CORPUS / f"{name}.js").read_text())
    if actual != expected:
        diff = difflib.unified_diff(
            json.dumps(expected, indent=2, sort_keys=True).splitlines(),
            json.dumps(actual, indent=2, sort_keys=True).splitlines(),
            fromfile=f"{name}.json (expected)",
            tofile=f"{name}.js (parsed)",
            lineterm="",
        )
        pytest.fail("the step graph differs from the expected one:\n" + "\n".join(diff))


def _walk(nodes):
    for node in nodes:
        yield node
        yield from _walk(node.get("nodes", ()))
        for branch in node.get("branches", ()):
            yield from _walk(branch["nodes"])
        for key in ("try_block", "catch_block", "finally_block"):
            if key in node:
                yield from _walk(node[key]["nodes"])


def _steps_in(node) -> bool:
    inside = list(_walk([node]))[1:]
    return any(n["type"] in STEP_TYPES or n["type"] == "function_call" for n in inside)


@pytest.mark.parametrize("name", CASES + [p.stem for p in FLOW_CORPUS.glob("*.js")])
def test_every_graph_keeps_the_contract(name):
    folder = CORPUS if (CORPUS / f"{name}.js").exists() else FLOW_CORPUS
    graph = step_graph((folder / f"{name}.js").read_text())
    json.dumps(graph)  # plain JSON, for the API as it is
    assert graph["class_name"] == "default" and graph["type"] == "function_def"
    for function_name, function in graph["functions"].items():
        assert function["name"] == function_name and function["type"] == "function_def"
        assert function["nodes"]
    trees = [graph["nodes"], *(f["nodes"] for f in graph["functions"].values())]
    for node in (n for tree in trees for n in _walk(tree)):
        kind = node["type"]
        assert kind in ALL_TYPES | {"break"}, node
        if kind in STEP_TYPES or kind == "function_call":
            assert 1 <= node["starts"] <= node["resolves"], node
        if kind == "function_call":
            assert node["name"] in graph["functions"]
        if kind in ("loop", "parallel"):
            assert _steps_in(node), f"a {kind} without a step is kept: {node}"


@pytest.mark.parametrize(
    ("code", "message", "line", "column"),
    [
        ("export default async function run(event, step) {\n  await step.sleep('x', 1;\n}\n",
         "Missing ')'", 2, 26),
        ('export default async function (ctx) {\n  await ctx.step.do("a", async () => {\n'
         "    return 1;\n  };\n}\n", "Missing ')'", 4, 4),
    ],
)  # fmt: skip
def test_a_syntax_error_is_the_flow_graphs_parse_failure(code, message, line, column):
    with pytest.raises(ParseFailure) as caught:
        step_graph(code)
    assert (caught.value.message, caught.value.line, caught.value.column) == (message, line, column)
    assert str(caught.value) == f"{message} (line {line}, column {column})"


@pytest.mark.parametrize(
    "code",
    [
        "",
        "export default 42;",
        "const x = 1;",
        "export default class { async run(event, step) { await step.do('a', async () => 1); } }",
        "export default async function (ctx) { await fastn.step.do(); await fastn.step.sleep(); }",
        "export default async function (ctx) { await ctx.step.waitForEvent('e', opts); }",
        "export default async function (ctx) { await Promise.all(); return main(ctx); }",
        "export default async function main(ctx) { return main(ctx); }",
        "async function a() { await b(); }\nasync function b() { await a(); }\n"
        "export default async function (ctx) { await a(); }",
        "export default async function (ctx) { await fastn.step.do(`a ${`b ${c}`}`, f); }",
    ],
)
def test_odd_but_valid_code_still_gives_a_graph(code):
    graph = step_graph(code)
    assert graph["class_name"] == "default" and isinstance(graph["nodes"], list)


def test_a_recursive_helper_is_one_function_and_a_pure_recursion_none():
    code = """
async function pages(step, n) {
  if (n === 0) return;
  await step.do(`page ${n}`, async () => n);
  await pages(step, n - 1);
}
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
export default async function run(event, step) {
  fib(10);
  await pages(step, 3);
}
"""
    graph = step_graph(code)
    assert graph["nodes"] == [
        {"type": "function_call", "name": "pages", "starts": 10, "resolves": 10}
    ]
    assert list(graph["functions"]) == ["pages"]
    assert graph["functions"]["pages"]["nodes"] == [
        {"type": "step_do", "name": "`page ${n}`", "nodes": [], "starts": 4, "resolves": 4},
        {"type": "function_call", "name": "pages", "starts": 5, "resolves": 5},
    ]


def test_code_nested_deeper_than_the_walk_is_a_parse_failure_not_a_crash():
    code = (
        "export default async function (ctx) {\n"
        + "if (a) {" * 400
        + "await fastn.step.sleep('x', 1);"
        + "}" * 400
        + "}"
    )
    with pytest.raises(ParseFailure) as caught:
        step_graph(code)
    assert caught.value.message == "Nested too deeply to draw"


def test_a_300_line_workflow_graphs_in_a_few_milliseconds():
    code = _long_workflow(20)
    assert code.count("\n") >= 300
    graph = step_graph(code)
    assert sum(1 for node in _walk(graph["nodes"]) if node["type"] in STEP_TYPES) == 20 * 5
    timings = []
    for _ in range(15):
        _parsed.cache_clear()
        started = time.process_time()
        step_graph(code)
        timings.append(time.process_time() - started)
    # A few milliseconds on a loaded 2-core machine, tree-sitter included; the bound leaves
    # room for noise but catches a quadratic walk.
    assert min(timings) < 0.030, timings


def _long_workflow(parts: int) -> str:
    """`parts` times: plain code, a helper call, a loop, an if, a try and a parallel group,
    18 lines each, with five steps."""
    body = []
    for i in range(parts):
        body.append(f"""
  const rows{i} = ctx.input.rows.filter((row) => row.kind === {i}).map((row) => row.id);
  console.log("part {i}", rows{i}.length, JSON.stringify(rows{i}));
  await load{i % 3}(step, rows{i});
  for (const row of rows{i}) {{
    if (row % 2 === 0) continue;
    await step.do(`row ${{row}}`, {{ retries: {{ limit: 3, delay: "1 s" }} }}, async () => row);
  }}
  if (rows{i}.length > 10) {{
    await step.sleep("cool down {i}", "1 minute");
  }} else if (rows{i}.length === 0) {{
    console.log("nothing");
  }}
  try {{ await step.do("risky {i}", async () => 1); }} catch (err) {{ console.error(err); }}
  await Promise.all([
    step.do("a{i}", async () => 1),
    step.waitForEvent("b{i}", {{ type: "b" }}),
  ]);""")
    helpers = "".join(
        f"async function load{n}(step, rows) {{\n"
        f"  await step.do('load {n}', async () => rows);\n"
        "}\n"
        for n in range(3)
    )
    return (
        helpers
        + "export default async function run(event, step) {\n  const ctx = event;"
        + "".join(body)
        + "\n}\n"
    )
