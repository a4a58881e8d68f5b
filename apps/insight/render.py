"""The Flow view's picture: a step graph drawn by graphviz (`dot`) as SVG, server-side.

`render_flow(graph, trigger_label=…)` answers a `FlowSvg`: the SVG text cut around two
slots per node, a class slot on the node's `<g>` and a text slot for its statistics line.
Laying a graph out costs a `dot` process, so the FlowSvg is cached by what it is drawn from
(the code hash, the catalog and the trigger label, see apps/insight/services.py); the run
statistics, which change with every run, are poured into the slots per request
(`FlowSvg.fill`), a string join.

`dot` places fixed-size boxes and routes the edges; the text inside the boxes is written
here. Measuring hundreds of labels through graphviz's text layout (pango) was most of its
time on a 300-line workflow (about 60%); the sizes are estimated from the DejaVu fonts'
advance widths instead, with room to spare, and the statistics line has the room of the
longest summary, so a filled-in line never overflows its box.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path

from apps.insight.graph import Graph, Node

DOT_TIMEOUT_S = 20
LABEL_WIDTH = 34  # characters per label line before it wraps
LABEL_LINES = 3
STATS_WIDTH = 38  # the widest statistics line ("1,000 runs · 12.5% failed · p95 1.25 s")

# Text inside the boxes (points): size, line height and the font's advance width per
# character as a fraction of the size (DejaVu Sans averages ~0.55, its bold capitals ~0.7;
# DejaVu Sans Mono is 0.602 exactly), rounded up for other fonts' fallbacks.
HEAD = ("DejaVu Sans", 7.5, 10.0, 0.72)
LABEL = ("DejaVu Sans", 10.0, 12.5, 0.6)
STATS = ("DejaVu Sans Mono", 8.0, 11.0, 0.62)
PAD_X, PAD_Y = 10.0, 6.0
# Shapes whose text area is narrower than their box.
SHAPE_ROOM = {"oval": (1.25, 1.3), "hexagon": (1.2, 1.0), "octagon": (1.2, 1.1)}
# Layout effort: the x-coordinate pass's iterations scale with the graph; a fraction of its
# default limit gives the same picture on these tall, narrow graphs, faster; polyline edges
# route in less time than curves (about 15% of the layout on a 300-line workflow).
GRAPH_ATTRS = (
    'rankdir=TB, nodesep=0.35, ranksep=0.4, bgcolor="transparent", nslimit=0.5, '
    'splines=polyline, fontname="DejaVu Sans"'
)

# Fill and border per node kind (graphviz writes them as presentation attributes; the
# stylesheet only adds states: selected, failing).
KIND_STYLE: dict[str, dict[str, str]] = {
    "TRIGGER": {"shape": "box", "style": "rounded,filled,bold", "fillcolor": "#eef0ff",
                "color": "#4f46e5"},
    "PROCESS": {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff",
                "color": "#9aa3b2"},
    # A diamond around four lines of text would be twice as wide as the other boxes: a box
    # with cut corners keeps decisions apart at the same size.
    "DECISION": {"shape": "box", "style": "filled,diagonals", "fillcolor": "#fdf5e1",
                 "color": "#a16207"},
    "READ": {"shape": "box", "style": "rounded,filled", "fillcolor": "#e6f3fb",
             "color": "#0369a1"},
    "WRITE": {"shape": "box", "style": "rounded,filled", "fillcolor": "#fdeeea",
              "color": "#c2410c"},
    "LOOP": {"shape": "hexagon", "style": "filled", "fillcolor": "#f3e8ff", "color": "#7e22ce"},
    "PARALLEL": {"shape": "box", "style": "filled,bold", "fillcolor": "#f3e8ff",
                 "color": "#7e22ce"},
    "TRY": {"shape": "box", "style": "rounded,dashed,filled", "fillcolor": "#f6f7f9",
            "color": "#5d6678"},
    "CATCH": {"shape": "box", "style": "rounded,filled", "fillcolor": "#fdf5e1",
              "color": "#b91c1c"},
    "STEP": {"shape": "box3d", "style": "filled", "fillcolor": "#ecfdf5", "color": "#047857"},
    "WAIT": {"shape": "box", "style": "rounded,filled,dashed", "fillcolor": "#ecfdf5",
             "color": "#047857"},
    "RETURN": {"shape": "box", "style": "rounded,filled", "fillcolor": "#e8f6ee",
               "color": "#15803d"},
    "THROW": {"shape": "octagon", "style": "filled", "fillcolor": "#fdeeea", "color": "#b91c1c"},
    "DONE": {"shape": "oval", "style": "filled,bold", "fillcolor": "#e8f6ee", "color": "#15803d"},
    "FAILED": {"shape": "oval", "style": "filled,bold", "fillcolor": "#fdeeea",
               "color": "#b91c1c"},
}  # fmt: skip
EDGE_STYLE: dict[str, dict[str, str]] = {
    "flow": {"color": "#5d6678"},
    "yes": {"color": "#15803d", "fontcolor": "#15803d"},
    "no": {"color": "#b91c1c", "fontcolor": "#b91c1c"},
    "case": {"color": "#a16207", "fontcolor": "#a16207"},
    "error": {"color": "#b91c1c", "fontcolor": "#b91c1c", "style": "dashed"},
    "loop": {"color": "#7e22ce", "fontcolor": "#7e22ce"},
    "back": {"color": "#7e22ce", "style": "dashed", "constraint": "false"},
}

_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)
_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_TITLE = re.compile(r"<title>.*?</title>\s*", re.S)
_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')


class RenderError(Exception):
    """`dot` is missing, failed or took too long: the view says so instead of a picture."""


@dataclass(frozen=True)
class FlowSvg:
    """The SVG cut around its slots: parts[0] slot[0] parts[1] slot[1] … parts[-1]."""

    parts: tuple[str, ...]
    slots: tuple[tuple[str, str], ...]  # (node id, "class" | "text")
    width: float  # points, as laid out
    height: float

    def fill(self, texts: Mapping[str, str], classes: Mapping[str, str]) -> str:
        """The SVG with each node's statistics line and state classes (already plain text:
        they are escaped here)."""
        out = [self.parts[0]]
        escaped: dict[str, str] = {}  # most nodes share a few summaries: escape each once
        for (node_id, slot), part in zip(self.slots, self.parts[1:], strict=True):
            value = texts.get(node_id, "") if slot == "text" else classes.get(node_id, "")
            text = escaped.get(value)
            if text is None:
                text = escaped[value] = escape(value)
            out.append(text)
            out.append(part)
        return "".join(out)


def dot_available() -> bool:
    return shutil.which("dot") is not None


def render_flow(graph: Graph, *, trigger_label: str = "") -> FlowSvg:
    """Lay `graph` out with `dot`, write each node's text into its box and cut the SVG
    around its slots."""
    boxes = {node.id: node_box(node, trigger_label) for node in graph.nodes}
    svg = clean_svg(run_dot(to_dot(graph, trigger_label=trigger_label, boxes=boxes)))
    return cut_slots(write_texts(svg, boxes), [node.id for node in graph.nodes])


_NUMBER_PAIR = re.compile(r"(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")
_ELLIPSE = re.compile(r'<ellipse[^>]*cx="(-?[\d.]+)" cy="(-?[\d.]+)"')
_NEXT_GROUP = re.compile(r'<g id="(?!a_)')
_NODE_ID = re.compile(r'<g id="wfn_(\w+)"')


def write_texts(svg: str, boxes: dict[str, _Box]) -> str:
    """Each node's head, label and statistics slot, centred in the shape `dot` drew."""
    out, position = [], 0
    for match in re.finditer(r'<g id="wfn_(\w+)" class="node[^"]*">', svg):
        box = boxes.get(match.group(1))
        following = _NEXT_GROUP.search(svg, match.end())
        end = following.start() if following else len(svg)
        group = svg[match.end() : end]
        close = group.rfind("</a>")
        if close < 0:
            close = group.rfind("</g>")
        if box is None or close < 0:
            continue
        center = _center(group)
        if center is None:
            continue
        insert_at = match.end() + close
        out.append(svg[position:insert_at])
        out.append(_texts(match.group(1), box, *center))
        position = insert_at
    out.append(svg[position:])
    return "".join(out)


def _center(group: str) -> tuple[float, float] | None:
    ellipse = _ELLIPSE.search(group)
    if ellipse:
        return float(ellipse.group(1)), float(ellipse.group(2))
    shape = re.search(r'<(?:polygon|path)[^>]*(?:points|d)="([^"]+)"', group)
    if not shape:
        return None
    pairs = [(float(x), float(y)) for x, y in _NUMBER_PAIR.findall(shape.group(1))]
    if not pairs:
        return None
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def _texts(node_id: str, box: _Box, cx: float, cy: float) -> str:
    rows = [("h", box.head, HEAD)] + [("l", line, LABEL) for line in box.label]
    rows.append(("s", stats_placeholder(node_id), STATS))
    height = sum(font[2] for _, _, font in rows)
    y = cy - height / 2
    parts = []
    for role, text, (family, size, line_height, _advance) in rows:
        y += line_height
        body = text if role == "s" else escape(text)
        parts.append(
            f'<text class="t_{role}" text-anchor="middle" x="{cx:.2f}" '
            f'y="{y - line_height * 0.22:.2f}" font-family="{family}" font-size="{size:.1f}">'
            f"{body}</text>\n"
        )
    return "".join(parts)


def to_dot(
    graph: Graph, *, trigger_label: str = "", boxes: Mapping[str, _Box] | None = None
) -> str:
    lines = [
        "digraph workflow {",
        f"  graph [{GRAPH_ATTRS}];",
        '  node [label="", fixedsize=true, penwidth=1.2];',
        '  edge [fontname="DejaVu Sans", fontsize=9, arrowsize=0.7, penwidth=1.1, '
        "labeldistance=1.5, labelangle=-40];",
    ]
    for node in graph.nodes:
        box = boxes[node.id] if boxes else node_box(node, trigger_label)
        lines.append(f"  {_id(node.id)} [{_attrs(_node_attrs(node, box))}];")
    for edge in graph.edges:
        attrs = {"class": f"e_{edge.kind}", **EDGE_STYLE.get(edge.kind, EDGE_STYLE["flow"])}
        if edge.label:
            # A tail label is placed once the layout is done; a plain label becomes a node
            # of its own in every rank the edge crosses, which tripled dot's time on a
            # 300-line workflow. By its source is where yes / no / error are read anyway.
            attrs["taillabel"] = _one_line(edge.label, LABEL_WIDTH)
        lines.append(f"  {_id(edge.source)} -> {_id(edge.target)} [{_attrs(attrs)}];")
    lines.append("}")
    return "\n".join(lines)


@dataclass(frozen=True)
class _Box:
    """A node's lines of text and the box they need (points)."""

    head: str
    label: tuple[str, ...]
    width: float
    height: float


def node_box(node: Node, trigger_label: str = "") -> _Box:
    label = trigger_label if node.kind == "TRIGGER" and trigger_label else node.label
    head = node.kind
    if node.start_line:
        where = (
            f"line {node.start_line}"
            if node.end_line <= node.start_line
            else f"lines {node.start_line}–{node.end_line}"
        )
        head = f"{node.kind} · {where}"
    lines = tuple(_wrap(label))
    width = max(
        _text_width(head, HEAD),
        max(_text_width(line, LABEL) for line in lines),
        STATS_WIDTH * STATS[1] * STATS[3],
    )
    height = HEAD[2] + LABEL[2] * len(lines) + STATS[2]
    room_x, room_y = SHAPE_ROOM.get(KIND_STYLE.get(node.kind, {}).get("shape", ""), (1.0, 1.0))
    return _Box(head, lines, (width + 2 * PAD_X) * room_x, (height + 2 * PAD_Y) * room_y)


def _text_width(text: str, font: tuple[str, float, float, float]) -> float:
    return len(text) * font[1] * font[3]


def _node_attrs(node: Node, box: _Box) -> dict[str, str]:
    return {
        "id": f"wfn_{node.id}",
        "class": f"k_{node.kind.lower()} {class_placeholder(node.id)}",
        "width": f"{box.width / 72:.3f}",
        "height": f"{box.height / 72:.3f}",
        "tooltip": _one_line(node.detail or " ".join(box.label), 200) or node.kind,
        **KIND_STYLE.get(node.kind, KIND_STYLE["PROCESS"]),
    }


def stats_placeholder(node_id: str) -> str:
    return f"zzst{node_id}zz"


def class_placeholder(node_id: str) -> str:
    return f"zzcl{node_id}zz"


def _wrap(text: str) -> list[str]:
    lines = textwrap.wrap(
        _one_line(text, 400), LABEL_WIDTH, break_long_words=True, break_on_hyphens=False
    ) or [""]
    if len(lines) > LABEL_LINES:
        lines = lines[:LABEL_LINES]
        lines[-1] = lines[-1][: LABEL_WIDTH - 1].rstrip() + "…"
    return lines


def _one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _id(value: str) -> str:
    return _quote(value)


def _quote(value: str) -> str:
    # DOT strings: backslashes would start graphviz escapes (\l, \N …) and quotes end the
    # string; real line breaks are written as \n.
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _attrs(attrs: dict[str, str]) -> str:
    return ", ".join(f"{key}={_quote(value)}" for key, value in attrs.items())


def run_dot(source: str) -> str:
    binary = shutil.which("dot")
    if binary is None:
        raise RenderError("Graphviz is not installed on the server (the `dot` program).")
    plugins = PLUGINS.directory(binary)
    env = {**os.environ, "GVBINDIR": plugins} if plugins else None
    try:
        finished = subprocess.run(
            [binary, "-Tsvg"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT_S,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise RenderError(
            f"Graphviz took longer than {DOT_TIMEOUT_S} s to lay out the flow."
        ) from None
    if finished.returncode != 0:
        detail = finished.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(
            "Graphviz could not draw the flow" + (f": {detail[0]}" if detail else ".")
        )
    return finished.stdout.decode("utf-8", "replace")


# Graphviz's plugin directories as distributions install them.
PLUGIN_DIRS = ("/usr/lib/*/graphviz", "/usr/lib/graphviz", "/usr/lib64/graphviz",
               "/usr/local/lib/graphviz", "/opt/homebrew/lib/graphviz")  # fmt: skip
# What `dot -Tsvg` uses of them: the layout and the SVG writer.
NEEDED_PLUGINS = ("libgvplugin_dot_layout.so*", "libgvplugin_core.so*")


class _Plugins:
    """A private plugin directory (GVBINDIR) with only the dot layout and the SVG writer.

    `dot` loads every plugin its configuration lists when it starts — pango, cairo and
    fontconfig among them, to measure text — which took longer than laying out a 300-line
    workflow (about 10 of 35 ms). The boxes' text is measured here (node_box), so the plugins
    are not needed: with this directory `dot` starts in about 2 ms, and only the baselines of
    the edge labels move, by half a point. Made once per process, removed at its exit; when it
    cannot be made (an unusual installation), `dot` runs with its own configuration."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.made: dict[int, str | None] = {}  # by process: a forked child makes its own

    def directory(self, binary: str) -> str | None:
        pid = os.getpid()
        with self.lock:
            if pid not in self.made:
                self.made[pid] = self._make(binary)
            return self.made[pid]

    def _make(self, binary: str) -> str | None:
        found = [
            path
            for pattern in PLUGIN_DIRS
            for directory in sorted(Path("/").glob(pattern.lstrip("/")))
            for needed in NEEDED_PLUGINS
            for path in directory.glob(needed)
        ]
        if not all(any(p.match(needed) for p in found) for needed in NEEDED_PLUGINS):
            return None
        directory = tempfile.mkdtemp(prefix="fastn-graphviz-")
        atexit.register(_remove_if_mine, directory, os.getpid())
        try:
            for path in found:
                link = Path(directory, path.name)
                if not link.exists():
                    link.symlink_to(path)
            subprocess.run(  # writes the configuration of the plugins linked here
                [binary, "-c"], env={**os.environ, "GVBINDIR": directory},
                capture_output=True, timeout=DOT_TIMEOUT_S, check=True,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return None
        return directory if any(Path(directory).glob("config*")) else None


PLUGINS = _Plugins()


def _remove_if_mine(directory: str, maker: int) -> None:
    if os.getpid() == maker:  # not in a forked child that inherited the exit handler
        shutil.rmtree(directory, ignore_errors=True)


def clean_svg(svg: str) -> str:
    """Inline-ready SVG: no XML prolog, doctype or comments, no `<title>`s (each node has its
    code as a tooltip instead), sized by its viewBox (the page zooms it)."""
    svg = _PROLOG.sub("", svg, count=1)
    svg = _COMMENT.sub("", svg)
    svg = _TITLE.sub("", svg)
    match = _SIZE.search(svg)
    if match:
        width, height = match.groups()
        svg = svg.replace(
            match.group(0),
            f'<svg class="insight-svg" data-width="{width}" data-height="{height}" '
            f'role="img" aria-label="Flow of the workflow"',
            1,
        )
    return svg


def cut_slots(svg: str, node_ids: list[str]) -> FlowSvg:
    markers: list[tuple[int, int, str, str]] = []
    groups = {m.group(1): m.start() for m in _NODE_ID.finditer(svg)}
    for node_id in node_ids:
        # Searched from the node's own group on: a label quoting another node's placeholder
        # (in a string of the user's code) comes after that node's real one.
        group = groups.get(node_id, 0)
        for slot, token in (
            ("class", class_placeholder(node_id)),
            ("text", stats_placeholder(node_id)),
        ):
            start = svg.find(token, group)
            if start >= 0:
                markers.append((start, start + len(token), node_id, slot))
    markers.sort()
    parts, slots, position = [], [], 0
    for start, end, node_id, slot in markers:
        parts.append(svg[position:start])
        slots.append((node_id, slot))
        position = end
    parts.append(svg[position:])
    match = re.search(r'data-width="([\d.]+)" data-height="([\d.]+)"', svg)
    width, height = (float(match.group(1)), float(match.group(2))) if match else (0.0, 0.0)
    return FlowSvg(tuple(parts), tuple(slots), width, height)
