"""The Sequence view: the main path of a step graph as an ordered timeline.

`sequence_rows(graph)` follows `Graph.main_path()` (trigger → … → done, each DECISION once,
its branches collapsed) and says, for each row, what was collapsed: the other ways out of a
decision (their labels and where they lead), the error path of a call inside a try, the
body of a loop or a parallel group.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.insight.graph import Graph, Node


@dataclass(frozen=True)
class Branch:
    label: str  # "no", "case 'a'", "error" …
    target: str  # the label of where it leads
    target_id: str


@dataclass(frozen=True)
class SequenceRow:
    position: int
    node: Node
    depth: int  # nesting under loops, parallel groups, try blocks and steps on the path
    collapsed: tuple[Branch, ...]  # ways off the main path from this node


def sequence_rows(graph: Graph) -> list[SequenceRow]:
    path = graph.main_path()
    on_path = {node.id for node in path}
    nodes = {node.id: node for node in graph.nodes}
    rows = []
    for position, node in enumerate(path, start=1):
        collapsed = tuple(
            Branch(
                label=edge.label or edge.kind,
                target=_describe(nodes.get(edge.target)),
                target_id=edge.target,
            )
            for edge in graph.edges
            if edge.source == node.id and edge.target not in on_path and edge.kind != "back"
        )
        rows.append(SequenceRow(position, node, _depth(node, nodes, on_path), collapsed))
    return rows


def _describe(node: Node | None) -> str:
    if node is None:
        return "?"
    return node.label or node.kind.title()


def _depth(node: Node, nodes: dict[str, Node], on_path: set[str]) -> int:
    depth, parent = 0, node.parent
    while parent is not None and parent in nodes and depth < 20:
        if parent in on_path:
            depth += 1
        parent = nodes[parent].parent
    return depth
