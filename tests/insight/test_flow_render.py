"""The Flow's SVG from hand-built graphs: drawn by the real `dot`, slots filled per request."""

from __future__ import annotations

import os
import re
import shutil
from xml.etree import ElementTree

from apps.insight import render
from apps.insight.graph import Edge, Graph, Node
from apps.insight.render import (
    LABEL_WIDTH,
    PAD_X,
    STATS,
    STATS_WIDTH,
    node_box,
    render_flow,
    to_dot,
)
from tests.insight.test_stats import GRAPH

HOSTILE = '"><script>alert(1)</script><a href="javascript:x">\\l'


def test_every_node_is_drawn_with_its_kind_label_lines_and_a_stats_line():
    flow = render_flow(GRAPH, trigger_label="Webhook: Orders")
    svg = flow.fill({n.id: f"stats of {n.id}" for n in GRAPH.nodes}, {"n4": "st_fail"})
    assert svg.startswith("<svg") and "<?xml" not in svg and "<!--" not in svg
    assert 'viewBox="' in svg and not re.search(r'\swidth="', svg.split(">", 1)[0])
    for node in GRAPH.nodes:
        assert f'id="wfn_{node.id}"' in svg
        assert f"stats of {node.id}" in svg
    assert "zzst" not in svg and "zzcl" not in svg  # every slot filled
    assert re.search(r'id="wfn_n4" class="node k_write st_fail"', svg)
    assert "Webhook: Orders" in svg and "READ · line 3" in svg
    assert "DECISION · lines 4–8" in svg
    assert ">yes<" in svg and ">no<" in svg  # edge labels


def test_labels_from_code_cannot_inject_markup():
    graph = Graph(
        nodes=(
            Node("trigger", "TRIGGER", "Trigger", "", 0, 0),
            Node("n1", "PROCESS", HOSTILE, HOSTILE, 1, 1),
            Node("done", "DONE", "Done", "", 0, 0),
        ),
        edges=(Edge("trigger", "n1"), Edge("n1", "done", HOSTILE, "flow")),
        code_hash="h",
    )
    svg = render_flow(graph).fill({"n1": "<b>x</b>"}, {"n1": '"><script>'})
    assert "<script" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg
    # Well-formed, and the hostile text stayed text: no element or attribute came of it.
    root = ElementTree.fromstring(svg)  # noqa: S314 (our own output, in a test)
    tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
    assert tags <= {"svg", "g", "a", "path", "polygon", "ellipse", "polyline", "text"}, tags
    for element in root.iter():
        for name, value in element.attrib.items():
            assert "javascript:" not in value or name.endswith("title"), (name, value)
    texts = [element.text for element in root.iter() if element.tag.endswith("text")]
    assert HOSTILE in texts[1:] or any(HOSTILE[:30] in (t or "") for t in texts)


def test_every_box_keeps_the_room_of_the_widest_summary():
    widest = "1,000 runs · 12.5% failed · p95 1.25 s"
    assert len(widest) <= STATS_WIDTH
    for node in GRAPH.nodes:
        box = node_box(node)
        assert box.width >= STATS_WIDTH * STATS[1] * STATS[3] + 2 * PAD_X
    # Labels wrap into at most three lines of LABEL_WIDTH characters.
    long = Node("n1", "PROCESS", "x" * 200, "", 1, 1)
    assert len(node_box(long).label) == 3
    assert all(len(line) <= LABEL_WIDTH for line in node_box(long).label)
    assert 'fixedsize="true"' in to_dot(GRAPH) or "fixedsize=true" in to_dot(GRAPH)


def test_the_picture_is_cut_once_and_filled_many_times():
    flow = render_flow(GRAPH)
    first = flow.fill({"n2": "3 runs · 0% failed"}, {})
    second = flow.fill({"n2": "4 runs · 25.0% failed"}, {"n2": "st_fail"})
    assert "3 runs · 0% failed" in first and "4 runs · 25.0% failed" in second
    assert len(flow.slots) == 2 * len(GRAPH.nodes)


def test_dot_runs_with_only_the_plugins_the_flow_needs(monkeypatch):
    """A private GVBINDIR (render._Plugins): the layout and the SVG writer, nothing that
    measures text; the same picture as with graphviz's own configuration but for the edge
    labels' baselines."""
    binary = shutil.which("dot")
    directory = render.PLUGINS.directory(binary)
    assert directory is not None
    names = sorted(os.listdir(directory))
    assert any(name.startswith("config") for name in names)
    assert all(
        name.startswith(("config", "libgvplugin_dot_layout.so", "libgvplugin_core.so"))
        for name in names
    )
    source = to_dot(GRAPH, trigger_label="t", boxes={n.id: node_box(n, "t") for n in GRAPH.nodes})
    private = render.run_dot(source)
    monkeypatch.setattr(render, "PLUGINS", render._Plugins())
    monkeypatch.setattr(render, "PLUGIN_DIRS", ())  # nothing found: graphviz's own setup
    assert render.PLUGINS.directory(binary) is None
    assert _boxes(render.run_dot(source)) == _boxes(private)


def _boxes(svg: str) -> list[str]:
    return re.findall(r"<polygon[^>]*>|<path[^>]*>", svg)
