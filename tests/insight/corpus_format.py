"""The corpus's expected graphs as readable JSON: one line per node and per edge, so a failing
case shows a line diff. `python -m tests.insight.corpus_format NAME...` (re)writes the
expectation of corpus/NAME.js from today's parser, for a human to review before committing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from apps.insight.graph import Graph, build_graph

CORPUS = Path(__file__).resolve().parent / "corpus"


def node_line(node) -> str:
    text = f"{node.id} {node.kind} «{node.label}»"
    if node.start_line:
        text += f" @{node.start_line}-{node.end_line}"
    if node.parent:
        text += f" in {node.parent}"
    if node.calls:
        text += " calls " + ", ".join(f"{kind}:{name}" for kind, name in node.calls)
    return text


def edge_line(edge) -> str:
    text = f"{edge.source} -> {edge.target}"
    if edge.label:
        text += f" [{edge.label}]"
    if edge.kind != "flow":
        text += f" ({edge.kind})"
    return text


def describe(graph: Graph) -> dict:
    return {
        "nodes": [node_line(n) for n in graph.nodes],
        "edges": [edge_line(e) for e in graph.edges],
        "main_path": [n.id for n in graph.main_path()],
    }


def action_kinds(expected: dict):
    table = expected.get("action_kinds") or {}
    if not table:
        return None
    return lambda slug, action: table.get(f"{slug}.{action}")


def graph_of(name: str, expected: dict | None = None) -> Graph:
    code = (CORPUS / f"{name}.js").read_text()
    return build_graph(code, action_kind=action_kinds(expected or {}))


def write(name: str) -> None:
    path = CORPUS / f"{name}.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    data = {k: v for k, v in old.items() if k in ("about", "action_kinds")}
    data.update(describe(graph_of(name, old)))
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        write(Path(arg).stem)
        print((CORPUS / f"{Path(arg).stem}.json").read_text())
