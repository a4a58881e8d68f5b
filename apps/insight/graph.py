"""A workflow's code as a step graph: the one model behind the Flow, Sequence and Docs views.

`build_graph(code)` parses the module with tree-sitter and walks the exported default
function (and the helper functions it calls that are declared in the same file, each
inlined once, at its first call) into nodes and edges. Kinds and their labels:

    TRIGGER  "Trigger" (the views name the attached triggers)
    PROCESS  plain statements merged: "const total = …; 2 more", "console.log(…)"
    DECISION "if order.total > 100", "switch event", a ternary or `a && call()` guard
    READ     "shopify.getOrders", "SELECT orders", "state.get counter", "secrets.get TOKEN",
             "envConfig.get BASE", "http GET api.example.com/x"
    WRITE    "slack.postMessage", "INSERT orders", "CREATE TABLE log", "state.set key",
             "state.delete/incr/setIfAbsent/compareAndSet key", "http POST …"
    LOOP     "for item of items", "while page < 10", "orders.forEach" (a callback with await)
    PARALLEL "Promise.all (3)", "Promise.allSettled (orders.map)"
    TRY / CATCH "try" / "catch (err)"; STEP "step charge"; WAIT "sleep 1 hour"
    RETURN "return { ok: true }" -> DONE; THROW "throw Error: message" -> FAILED (or CATCH)

Edges: "" flow; "yes"/"no" from a DECISION; "case 'a'"/"default" (kind case); "each"
(kind loop) into a loop's or a group's body; "done" out of a loop; back edges (kind back)
to the loop; "error" (kind error) from a call or throw in a try to its CATCH. A node inside
a LOOP / PARALLEL / TRY / STEP names it as its parent.

Host calls are recognised by the table `CALL_PATTERNS` below: a new runtime API (the
durable `fastn.step.*` is already there) is one more row, not another branch in the walker.

No Django here: the module is pure and fast (about 10 ms for a 300-line workflow, 2 ms of
it tree-sitter), so the views can call it on every render and cache by `Graph.code_hash`.
"""

from __future__ import annotations

import bisect
import functools
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import tree_sitter_javascript
from tree_sitter import Language, Parser, Query, QueryCursor
from tree_sitter import Node as TSNode

from apps.runtime.source import code_hash

JS = Language(tree_sitter_javascript.language())
_local = threading.local()

# Node kinds.
TRIGGER, PROCESS, DECISION, READ, WRITE = "TRIGGER", "PROCESS", "DECISION", "READ", "WRITE"
LOOP, PARALLEL, TRY, CATCH, RETURN, THROW = "LOOP", "PARALLEL", "TRY", "CATCH", "RETURN", "THROW"
STEP, WAIT, DONE, FAILED = "STEP", "WAIT", "DONE", "FAILED"
CONTAINERS = frozenset({LOOP, PARALLEL, TRY, STEP})

DETAIL_LIMIT = 200
LABEL_LIMIT = 60
READ_VERBS = ("get", "list", "search", "find", "fetch", "read", "retrieve", "query", "count")
ITERATION_METHODS = frozenset(
    {"map", "forEach", "flatMap", "filter", "reduce", "reduceRight", "some", "every", "find"}
)
PROMISE_COMBINATORS = frozenset({"all", "any", "allSettled", "race"})


# ---- the contract ------------------------------------------------------------------------
class ParseFailure(Exception):
    """The code does not parse; line and column are 1-based."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(f"{message} (line {line}, column {column})")
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    label: str
    detail: str
    start_line: int
    end_line: int
    parent: str | None = None
    calls: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    kind: str = "flow"


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    code_hash: str

    def node(self, node_id: str) -> Node | None:
        for node in self.nodes:
            if node.id == node_id:
                return node
        return None

    def node_for_step(self, kind: str, name: str, line: int | None = None) -> Node | None:
        """The node a recorded step (its kind, name and source line) went through: by line
        first (the narrowest node with calls around it, the same call preferred), else the
        first node making that call; None when the code has no such call any more."""
        same = [n for n in self.nodes if (kind, name) in n.calls]
        if line is not None:
            around = [n for n in self.nodes if n.calls and n.start_line <= line <= n.end_line]
            if around:
                return min(
                    around,
                    key=lambda n: ((kind, name) not in n.calls, n.end_line - n.start_line),
                )
        return same[0] if same else None

    def main_path(self) -> list[Node]:
        """trigger -> ... -> done: a DECISION once, then where its branches meet again (or,
        when they never meet, the branch with the longest way on to done, so guard clauses
        and early returns drop out); loops and parallel groups with their bodies."""
        return _main_path(self)


ActionKind = Callable[[str, str], "str | None"]


def build_graph(code: str, *, action_kind: ActionKind | None = None) -> Graph:
    """The step graph of `code`'s default export. Raises ParseFailure for a syntax error."""
    source = code.encode("utf-8")
    root = parse(source)
    builder = _Builder(source, action_kind)
    try:
        builder.build(root)
    except RecursionError:
        raise too_deep(root) from None
    return Graph(tuple(builder.finished_nodes()), tuple(builder.edges), code_hash(code))


# ---- parsing -------------------------------------------------------------------------------
def _parser() -> Parser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = Parser(JS)
    return parser


def parse(source: bytes) -> TSNode:
    """The program node of `source`, or ParseFailure at the first error tree-sitter found.
    The last few trees are kept: the Flow and the Docs of one version parse it once."""
    root, failure = _parsed(source)
    if failure is not None:
        raise ParseFailure(*failure)
    return root


@functools.lru_cache(maxsize=8)
def _parsed(source: bytes) -> tuple[TSNode, tuple[str, int, int] | None]:
    root = _parser().parse(source).root_node
    if root.has_error:
        failure = _failure(source, _first_problem(root) or root)
        return root, (failure.message, failure.line, failure.column)
    return root, None


def _first_problem(root: TSNode) -> TSNode | None:
    """The first ERROR or MISSING node in source order (iterative: nesting can be deep)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_missing or node.type == "ERROR":
            return node
        if node.has_error:
            stack.extend(reversed(node.children))
    return None


def too_deep(root: TSNode) -> ParseFailure:
    """The failure for code nested deeper than the walk goes, at its innermost point."""
    deepest, depth = root, 0
    stack = [(root, 0)]
    while stack:
        node, level = stack.pop()
        if level > depth:
            deepest, depth = node, level
        stack.extend((child, level + 1) for child in node.named_children)
    row, column = deepest.start_point
    return ParseFailure("Nested too deeply to draw", row + 1, column + 1)


def _failure(source: bytes, node: TSNode) -> ParseFailure:
    row, byte_column = node.start_point
    lines = source.split(b"\n")
    line_bytes = lines[row] if row < len(lines) else b""
    column = len(line_bytes[:byte_column].decode("utf-8", "replace")) + 1
    if node.is_missing:
        return ParseFailure(f"Missing {_quote(node.type)}", row + 1, column)
    # An ERROR node starts at the construct that went wrong; its first leaf that is an
    # error itself (or the first leaf) is the token the grammar could not place.
    token = _first_leaf(node)
    if token is not None and token is not node:
        row, byte_column = token.start_point
        line_bytes = lines[row] if row < len(lines) else b""
        column = len(line_bytes[:byte_column].decode("utf-8", "replace")) + 1
    text = (token.text or b"").decode("utf-8", "replace").strip() if token is not None else ""
    if node.start_byte >= len(source.rstrip()):
        return ParseFailure("Unexpected end of input", row + 1, column)
    if not text:
        return ParseFailure("Invalid or unexpected token", row + 1, column)
    if text[0] in "\"'`":
        return ParseFailure("Unterminated string", row + 1, column)
    return ParseFailure(f"Unexpected token {_quote(text.splitlines()[0][:40])}", row + 1, column)


def _first_leaf(node: TSNode) -> TSNode | None:
    while node.child_count:
        node = node.children[0]
    return node


def _quote(text: str) -> str:
    return "'" + text + "'"


# ---- text helpers --------------------------------------------------------------------------
def squeeze(text: str) -> str:
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    text = squeeze(text[: limit * 3])
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def literal_text(node: TSNode | None, source: bytes, consts: dict[str, TSNode] | None = None):
    """A string or template literal's value, `${…}` for its substitutions; a `const` bound
    to one is followed; None for anything else."""
    for _ in range(3):
        if node is None:
            return None
        if node.type == "string":
            raw = source[node.start_byte + 1 : node.end_byte - 1].decode("utf-8", "replace")
            return raw.replace("\\'", "'").replace('\\"', '"')
        if node.type == "template_string":
            parts = []
            for child in node.named_children:
                if child.type == "template_substitution":
                    parts.append("${…}")
                else:
                    parts.append(_text(child, source))
            if not node.named_children:
                return ""
            # string_fragment children hold the literal runs between substitutions.
            return "".join(parts)
        if node.type == "parenthesized_expression" and node.named_child_count == 1:
            node = node.named_children[0]
            continue
        if node.type == "identifier" and consts is not None:
            node = consts.get(_text(node, source))
            continue
        return None
    return None


def _text(node: TSNode, source: bytes) -> str:
    return source[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _unwrap(node: TSNode | None) -> TSNode | None:
    """Through `await`, parentheses and `!`-free wrappers to the expression that matters."""
    while node is not None and node.type in ("await_expression", "parenthesized_expression"):
        inner = node.named_children
        node = inner[0] if inner else None
    return node


def member_path(node: TSNode | None, source: bytes) -> tuple[str, ...] | None:
    """`fastn.connector?.shop["getOrders"]` -> ("fastn", "connector", "shop", "getOrders");
    `new Fastn({...}).db` -> ("fastn", "db"); None when a part is computed."""
    parts: list[str] = []
    while node is not None:
        kind = node.type
        if kind == "member_expression":
            prop = node.child_by_field_name("property")
            if prop is None:
                return None
            parts.append(_text(prop, source))
            node = node.child_by_field_name("object")
        elif kind == "subscript_expression":
            value = literal_text(node.child_by_field_name("index"), source)
            if value is None or "${…}" in value:
                return None
            parts.append(value)
            node = node.child_by_field_name("object")
        elif kind == "identifier" or kind == "this":
            parts.append(_text(node, source))
            break
        elif kind == "new_expression":
            ctor = node.child_by_field_name("constructor")
            if ctor is None or _text(ctor, source) != "Fastn":
                return None
            parts.append("fastn")
            break
        elif kind == "parenthesized_expression" or kind == "non_null_expression":
            node = node.named_children[0] if node.named_children else None
        else:
            return None
    parts.reverse()
    return tuple(parts)


# ---- the table of host calls ---------------------------------------------------------------
@dataclass(frozen=True)
class CallInfo:
    """What one recognised call becomes: a node kind, a label and the runtime's step."""

    kind: str
    label: str
    calls: tuple[tuple[str, str], ...] = ()
    body: TSNode | None = None  # a STEP's callback, graphed inside it


@dataclass(frozen=True)
class CallSite:
    path: tuple[str, ...]  # the callee's dotted path after aliases, "fastn"-rooted
    node: TSNode  # the call_expression
    args: tuple[TSNode, ...]
    source: bytes
    consts: dict[str, TSNode]
    action_kind: ActionKind | None

    def arg_text(self, index: int) -> str | None:
        if index >= len(self.args):
            return None
        return literal_text(self.args[index], self.source, self.consts)

    def arg_label(self, index: int) -> str:
        """The literal (or `${…}` template) value of an argument, else its code."""
        value = self.arg_text(index)
        if value is not None:
            return value
        if index < len(self.args):
            return shorten(_text(self.args[index], self.source), 30)
        return "?"

    def has_option(self, index: int, key: str) -> bool:
        if index >= len(self.args) or self.args[index].type != "object":
            return False
        for pair in self.args[index].named_children:
            name = pair.child_by_field_name("key") if pair.type == "pair" else pair
            if name is not None and _text(name, self.source).strip("'\"") == key:
                return True
        return False

    def option(self, index: int, key: str) -> str | None:
        """A literal property of an object argument: `request({method: "GET"})`."""
        if index >= len(self.args) or self.args[index].type != "object":
            return None
        for pair in self.args[index].named_children:
            if pair.type == "pair":
                name = pair.child_by_field_name("key")
                if name is not None and _text(name, self.source).strip("'\"") == key:
                    return literal_text(pair.child_by_field_name("value"), self.source, self.consts)
            elif pair.type == "shorthand_property_identifier" and _text(pair, self.source) == key:
                return literal_text(self.consts.get(key), self.source, self.consts)
        return None


def _guess_kind(action: str) -> str:
    lowered = action.lower()
    return READ if lowered.startswith(READ_VERBS) else WRITE


def _connector(site: CallSite) -> CallInfo:
    slug, action = site.path[2], site.path[3]
    step = ("connector", f"connector.{slug}.{action}")
    if slug == "http" and action == "request":
        method = site.option(0, "method")
        if method is None and site.has_option(0, "method"):
            method = "${…}"  # decided at run time: count it as a write
        method = (method or "GET").upper()
        url = site.option(0, "url")
        kind = READ if method in ("GET", "HEAD") else WRITE
        where = re.sub(r"^https?://", "", url) if url else ""
        label = f"http {method} {where}".strip()
        return CallInfo(kind, shorten(label, LABEL_LIMIT), (step,))
    answer = site.action_kind(slug, action) if site.action_kind is not None else None
    if answer in ("read", "write"):
        kind = READ if answer == "read" else WRITE
    else:
        kind = _guess_kind(action)
    return CallInfo(kind, f"{slug}.{action}", (step,))


_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_NAME = r"(?:\"[^\"]+\"|[A-Za-z_][\w$]*|\$\{…\})"
_IDENT = rf"({_NAME}(?:\.{_NAME})?)"
_DDL = r"(?:OR\s+REPLACE\s+)?(?:(?:TEMP|TEMPORARY|UNLOGGED|UNIQUE|MATERIALIZED)\s+)*"
_EXISTS = r"(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"
_OBJECT = r"(TABLE|INDEX|VIEW|SEQUENCE|SCHEMA|TYPE|FUNCTION)"
# verb -> (node kind, where the table's name is)
_SQL_SHAPES = {
    "SELECT": (READ, re.compile(r"\bFROM\s+" + _IDENT, re.I)),
    "INSERT": (WRITE, re.compile(r"\bINSERT\s+INTO\s+" + _IDENT, re.I)),
    "UPDATE": (WRITE, re.compile(r"\bUPDATE\s+(?:ONLY\s+)?" + _IDENT, re.I)),
    "DELETE": (WRITE, re.compile(r"\bDELETE\s+FROM\s+(?:ONLY\s+)?" + _IDENT, re.I)),
    "CREATE": (WRITE, re.compile(rf"\bCREATE\s+{_DDL}{_OBJECT}\s+{_EXISTS}" + _IDENT, re.I)),
    "DROP": (WRITE, re.compile(rf"\bDROP\s+{_DDL}{_OBJECT}\s+{_EXISTS}" + _IDENT, re.I)),
    "ALTER": (WRITE, re.compile(rf"\bALTER\s+{_DDL}{_OBJECT}\s+{_EXISTS}" + _IDENT, re.I)),
    "TRUNCATE": (WRITE, re.compile(r"\bTRUNCATE\s+(?:TABLE\s+)?()" + _IDENT, re.I)),
}
_SQL_VERB = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|TRUNCATE)\b", re.I)


@dataclass(frozen=True)
class SqlUse:
    verb: str  # SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, TRUNCATE or SQL
    kind: str  # READ or WRITE
    table: str | None  # as written, without quotes; `${…}` where the code builds it
    label: str  # "SELECT orders", "CREATE TABLE sync_log", "db.query"
    object: str = "TABLE"  # what a CREATE / DROP / ALTER is about: TABLE, INDEX, VIEW, ...


def sql_operation(sql: str | None) -> SqlUse:
    """What a query does to which table. A query the code builds at run time (None) and one
    with no known verb count as writes: the careful guess for a graph of side effects."""
    if sql is None:
        return SqlUse("SQL", WRITE, None, "db.query")
    text = _SQL_COMMENT.sub(" ", sql)
    verbs = [m.group(1).upper() for m in _SQL_VERB.finditer(text)]
    if not verbs:
        return SqlUse("SQL", WRITE, None, "db.query")
    verb = verbs[0]
    kind, pattern = _SQL_SHAPES[verb]
    found = pattern.search(text)
    if found is None:
        return SqlUse(verb, kind, None, verb)
    table = found.group(found.lastindex).replace('"', "")
    if verb in ("CREATE", "DROP", "ALTER"):
        what = found.group(1).upper()
        return SqlUse(verb, kind, table, f"{verb} {what} {table}", what)
    return SqlUse(verb, kind, table, f"{verb} {table}")


def _db(site: CallSite) -> CallInfo:
    use = sql_operation(site.arg_text(0))
    return CallInfo(use.kind, shorten(use.label, LABEL_LIMIT), (("db", "db.query"),))


def _host(kind: str, family: str, method: str) -> Callable[[CallSite], CallInfo]:
    """`fastn.<family>.<method>(key, ...)`: labelled with the key (or name)."""

    def info(site: CallSite) -> CallInfo:
        name = f"{family}.{method}"
        return CallInfo(kind, f"{name} {site.arg_label(0)}", ((family, name),))

    return info


def _step_do(site: CallSite) -> CallInfo:
    callback = None
    for arg in site.args[1:]:
        if arg.type in _FUNCTION_TYPES:
            callback = arg
    name = site.arg_label(0) if site.args else "step"
    return CallInfo(STEP, f"step {name}", (("step", "step.do"),), body=callback)


def _wait(method: str) -> Callable[[CallSite], CallInfo]:
    def info(site: CallSite) -> CallInfo:
        what = site.arg_label(0) if site.args else ""
        if method == "sleep" and len(site.args) > 1:
            what = f"{site.arg_label(0)} ({site.arg_label(1)})"
        return CallInfo(
            WAIT, shorten(f"{method} {what}".strip(), LABEL_LIMIT), (("step", f"step.{method}"),)
        )

    return info


# (callee path with "*" wildcards, what it becomes). The first row that matches wins; the
# path is the callee after aliases (`const shop = fastn.connector.shopify`) and with
# `new Fastn(...)` read as `fastn`. `ctx.step.*` and a bare `step.*` (the durable-workflow
# parameter) map onto `fastn.step.*`; so do the step object under another name (the default
# export's second parameter, `const { step: s } = ctx`, `const s = ctx.step`) and the ctx under
# another name (the default export's first parameter): see `_Builder.bind_parameters`.
CALL_PATTERNS: tuple[tuple[tuple[str, ...], Callable[[CallSite], CallInfo]], ...] = (
    (("fastn", "connector", "*", "*"), _connector),
    (("fastn", "connectors", "*", "*"), _connector),
    (("fastn", "db", "query"), _db),
    (("fastn", "state", "get"), _host(READ, "state", "get")),
    (("fastn", "state", "set"), _host(WRITE, "state", "set")),
    (("fastn", "state", "delete"), _host(WRITE, "state", "delete")),
    (("fastn", "state", "incr"), _host(WRITE, "state", "incr")),
    (("fastn", "state", "setIfAbsent"), _host(WRITE, "state", "setIfAbsent")),
    (("fastn", "state", "compareAndSet"), _host(WRITE, "state", "compareAndSet")),
    (("fastn", "secrets", "get"), _host(READ, "secrets", "get")),
    (("fastn", "envConfig", "get"), _host(READ, "envConfig", "get")),
    (("fastn", "step", "do"), _step_do),
    (("fastn", "step", "sleep"), _wait("sleep")),
    (("fastn", "step", "sleepUntil"), _wait("sleepUntil")),
    (("fastn", "step", "waitForEvent"), _wait("waitForEvent")),
)
_STEP_ROOTS = {("ctx", "step"): ("fastn", "step"), ("step",): ("fastn", "step")}


_EXACT_PATTERNS = {p: h for p, h in reversed(CALL_PATTERNS) if "*" not in p}
_WILD_PATTERNS = tuple((p, h) for p, h in CALL_PATTERNS if "*" in p)


def match_call(path: tuple[str, ...]) -> Callable[[CallSite], CallInfo] | None:
    """The handler of the first row of CALL_PATTERNS that `path` matches, if any."""
    first = path[0]
    if first == "fastn":
        handler = _EXACT_PATTERNS.get(path)
        if handler is not None:
            return handler
    elif first != "ctx" and first != "step":
        return None
    for prefix, target in _STEP_ROOTS.items():
        if path[: len(prefix)] == prefix and len(path) == len(prefix) + 1:
            path = target + path[len(prefix) :]
    handler = _EXACT_PATTERNS.get(path)
    if handler is not None:
        return handler
    for pattern, handler in _WILD_PATTERNS:
        if len(pattern) == len(path) and all(
            p in ("*", q) for p, q in zip(pattern, path, strict=True)
        ):
            return handler
    return None


# ---- the walk ------------------------------------------------------------------------------
_FUNCTION_TYPES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_CALLBACK_TYPES = frozenset(
    {
        "arrow_function",
        "function_expression",
        "function",
        "generator_function",
        "function_declaration",
        "generator_function_declaration",
        "class",
        "class_declaration",
    }
)
_CALLS = Query(JS, "(call_expression) @call")
_DECLARED_FUNCTIONS = frozenset({"function_declaration", "generator_function_declaration"})
_PLAIN_SKIP = frozenset({"empty_statement", "comment", "debugger_statement"})
# A statement whose text has none of these cannot hold a call, a guard or a ternary the
# graph shows: it is merged into a PROCESS node without walking its tree.
_INTERESTING = re.compile(rb"fastn|Fastn|Promise|step|await|\?|&&|\|\|")
_HOST_WORDS = re.compile(rb"fastn|Fastn|Promise\.|\bstep\.")


@dataclass
class _Pending:
    """An edge waiting for its target: the next node built takes it."""

    source: str
    label: str = ""
    kind: str = "flow"


@dataclass
class _Scope:
    """Where control goes from inside the current construct."""

    parent: str | None = None
    catch: list[str] | None = None  # nodes whose errors go to the enclosing catch
    breaks: list[_Pending] | None = None
    loop: str | None = None  # continue -> back edge to this node
    continues: list[_Pending] | None = None  # continue without a loop node (callbacks)
    returns: list[_Pending] | None = None  # None: return ends the run (RETURN -> done)


@dataclass
class _Draft:
    id: str
    kind: str
    label: str
    detail: str
    start_line: int
    end_line: int
    parent: str | None
    calls: tuple[tuple[str, str], ...] = ()


@dataclass
class _Event:
    """Something inside a statement that becomes its own node(s), in evaluation order."""

    what: str  # "call" | "inline" | "iterate" | "parallel"
    node: TSNode
    info: CallInfo | None = None
    target: TSNode | None = None  # inline: the helper; iterate: the callback
    name: str = ""  # inline: the helper's name ("load", "Client.fetch")
    owner: str | None = None  # inline: the class of a method (for `this.other()` inside)


@dataclass
class _Builder:
    source: bytes
    action_kind: ActionKind | None
    nodes: list[_Draft] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    helpers: dict[str, TSNode] = field(default_factory=dict)
    methods: dict[str, dict[str, TSNode]] = field(default_factory=dict)  # class -> name -> fn
    instances: dict[str, str] = field(default_factory=dict)  # variable -> class
    classes: list[str] = field(default_factory=list)  # the classes of the methods inlined
    consts: dict[str, TSNode] = field(default_factory=dict)
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    contexts: set[str] = field(default_factory=set)  # names of the run's ctx: `ctx.step`
    inlined: set[str] = field(default_factory=set)
    inlining: list[str] = field(default_factory=list)
    counter: int = 0
    failed_used: bool = False
    labels: dict[str, tuple[str | None, list[_Pending]]] = field(default_factory=dict)
    next_label: str | None = None  # the label of the loop being built
    _interesting: tuple[tuple[int, ...], re.Pattern[bytes]] | None = None
    calls: list[TSNode] = field(default_factory=list)
    call_starts: list[int] = field(default_factory=list)

    # -- nodes and edges
    def add(self, kind: str, label: str, at: TSNode | None, scope: _Scope, **extra) -> str:
        self.counter += 1
        node_id = f"n{self.counter}"
        detail = shorten(_text(at, self.source), DETAIL_LIMIT) if at is not None else ""
        start = at.start_point[0] + 1 if at is not None else 0
        end = at.end_point[0] + 1 if at is not None else 0
        self.nodes.append(
            _Draft(
                node_id,
                kind,
                shorten(label, LABEL_LIMIT),
                detail,
                start,
                end,
                scope.parent,
                **extra,
            )
        )
        return node_id

    def link(self, pending: list[_Pending], target: str) -> None:
        for p in pending:
            self.edges.append(Edge(p.source, target, p.label, p.kind))

    def enter(self, pending: list[_Pending], kind: str, label: str, at, scope: _Scope, **extra):
        """Add a node, connect what flows into it; answer its id."""
        node_id = self.add(kind, label, at, scope, **extra)
        self.link(pending, node_id)
        if scope.catch is not None and (extra.get("calls") or kind in (STEP, WAIT)):
            scope.catch.append(node_id)
        return node_id

    def finished_nodes(self) -> Iterator[Node]:
        yield Node("trigger", TRIGGER, "Trigger", "", 0, 0, None, ())
        for d in self.nodes:
            yield Node(d.id, d.kind, d.label, d.detail, d.start_line, d.end_line, d.parent, d.calls)
        yield Node("done", DONE, "Done", "", 0, 0, None, ())
        if self.failed_used:
            yield Node("failed", FAILED, "Failed", "", 0, 0, None, ())

    # -- the module
    def build(self, root: TSNode) -> None:
        # Every call in the module, found once in C, in source order: a statement's calls
        # are a slice of this list.
        self.calls = QueryCursor(_CALLS).captures(root).get("call", [])
        self.calls.sort(key=lambda n: n.start_byte)
        self.call_starts = [n.start_byte for n in self.calls]
        entry = self.collect_module(root)
        self.bind_parameters(entry)
        scope = _Scope()
        pending = [_Pending("trigger")]
        if entry is not None:
            body = entry.child_by_field_name("body")
            if body is not None and body.type == "statement_block":
                self.collect_block_declarations(body)
                pending = self.block(body.named_children, pending, scope)
            elif body is not None:
                pending = self.return_value(body, body, pending, scope)
        self.link(pending, "done")

    def collect_module(self, root: TSNode) -> TSNode | None:
        """Remember helpers, constants and `fastn` aliases; answer the default function."""
        entry = None
        default_name = None
        for node in root.named_children:
            target = node
            if node.type == "export_statement":
                is_default = any(c.type == "default" for c in node.children)
                declaration = node.child_by_field_name("declaration")
                value = node.child_by_field_name("value")
                if (
                    is_default
                    and declaration is not None
                    and declaration.type in _DECLARED_FUNCTIONS
                ):
                    entry = declaration
                elif is_default and value is not None:
                    if value.type in _FUNCTION_TYPES:
                        entry = value
                    elif value.type == "identifier":
                        default_name = _text(value, self.source)
                for clause in node.named_children:
                    if clause.type == "export_clause":
                        for spec in clause.named_children:
                            alias = spec.child_by_field_name("alias")
                            if alias is not None and _text(alias, self.source) == "default":
                                name = spec.child_by_field_name("name")
                                if name is not None:
                                    default_name = _text(name, self.source)
                if declaration is None:
                    continue
                target = declaration
            self.collect_declaration(target)
        if entry is None and default_name is not None:
            entry = self.helpers.get(default_name)
            if entry is not None:
                self.inlined.add(default_name)
        return entry

    def bind_parameters(self, entry: TSNode | None) -> None:
        """The default export's parameters: the first is the run's ctx (`ctx.step`, `const {
        step } = ctx`), a second one is the step object of Cloudflare's `run(event, step)`."""
        if entry is None:
            return
        single = entry.child_by_field_name("parameter")  # `async ctx => ...`
        params = entry.child_by_field_name("parameters")
        found = [single] if single is not None else []
        if params is not None:
            found = [p for p in params.named_children if p.type != "comment"]
        for index, param in enumerate(found[:2]):
            if param.type == "assignment_pattern":  # `(ctx = {})`
                param = param.child_by_field_name("left") or param
            if param.type == "identifier":
                name = _text(param, self.source)
                if index == 0:
                    self.contexts.add(name)
                else:
                    self.aliases[name] = ("fastn", "step")
            elif param.type == "object_pattern" and index == 0:
                self.collect_context_fields(param)

    def collect_context_fields(self, pattern: TSNode) -> None:
        """`{ step }` / `{ step: s }` taken out of the ctx: aliases of `fastn.step`."""
        for entry in pattern.named_children:
            if entry.type == "shorthand_property_identifier_pattern":
                if _text(entry, self.source) == "step":
                    self.aliases["step"] = ("fastn", "step")
            elif entry.type == "pair_pattern":
                key = entry.child_by_field_name("key")
                target = entry.child_by_field_name("value")
                if (
                    key is not None
                    and target is not None
                    and target.type == "identifier"
                    and _text(key, self.source).strip("'\"") == "step"
                ):
                    self.aliases[_text(target, self.source)] = ("fastn", "step")

    def collect_block_declarations(self, block: TSNode) -> None:
        for node in block.named_children:
            self.collect_declaration(node)

    def collect_declaration(self, node: TSNode) -> None:
        source = self.source
        if node.type in _DECLARED_FUNCTIONS:
            name = node.child_by_field_name("name")
            if name is not None:
                self.helpers[_text(name, source)] = node
        elif node.type == "class_declaration":
            self.collect_class(node)
        elif node.type in ("lexical_declaration", "variable_declaration"):
            for declarator in node.named_children:
                if declarator.type != "variable_declarator":
                    continue
                name = declarator.child_by_field_name("name")
                value = _unwrap(declarator.child_by_field_name("value"))
                if name is None or value is None:
                    continue
                if name.type == "object_pattern":
                    self.collect_destructured(name, value)
                    continue
                if name.type != "identifier":
                    continue
                key = _text(name, source)
                if value.type in _FUNCTION_TYPES:
                    self.helpers[key] = value
                elif value.type in ("string", "template_string"):
                    self.consts[key] = value
                elif value.type == "new_expression":
                    ctor = value.child_by_field_name("constructor")
                    if ctor is not None and _text(ctor, source) in self.methods:
                        self.instances[key] = _text(ctor, source)
                        continue
                    path = self.resolve(member_path(value, source))
                    if path and path[0] == "fastn":
                        self.aliases[key] = path
                elif value.type in ("member_expression", "subscript_expression"):
                    path = self.resolve(member_path(value, source))
                    if path and path[0] == "fastn":
                        self.aliases[key] = path

    def collect_destructured(self, pattern: TSNode, value: TSNode) -> None:
        """`const { connector, state: kv } = fastn` makes `connector` and `kv` aliases;
        `const { step } = ctx` makes `step` one of `fastn.step`."""
        path = self.resolve(member_path(value, self.source))
        if path and len(path) == 1 and self.is_context(path[0]):
            self.collect_context_fields(pattern)
            return
        if not path or path[0] != "fastn":
            return
        for entry in pattern.named_children:
            if entry.type == "shorthand_property_identifier_pattern":
                name = _text(entry, self.source)
                self.aliases[name] = (*path, name)
            elif entry.type == "pair_pattern":
                key = entry.child_by_field_name("key")
                target = entry.child_by_field_name("value")
                if key is not None and target is not None and target.type == "identifier":
                    self.aliases[_text(target, self.source)] = (*path, _text(key, self.source))

    def collect_class(self, node: TSNode) -> None:
        name = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name is None or body is None:
            return
        methods = self.methods.setdefault(_text(name, self.source), {})
        for member in body.named_children:
            if member.type == "method_definition":
                key = member.child_by_field_name("name")
                if key is not None:
                    methods[_text(key, self.source)] = member

    def is_context(self, name: str) -> bool:
        """The run's ctx: the default export's first parameter, or anything called `ctx`."""
        return name in self.contexts or name == "ctx"

    def resolve(self, path: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if path and path[0] in self.aliases and path[0] != "fastn":
            return self.aliases[path[0]] + path[1:]
        if path and len(path) > 1 and path[1] == "step" and self.is_context(path[0]):
            return ("fastn", *path[1:])
        if path and path[0] == "Fastn":
            return None
        return path

    # -- statements
    def block(self, statements: list[TSNode], pending: list[_Pending], scope: _Scope):
        """Build a statement list; answer the edges that leave its end."""
        plain: list[TSNode] = []
        for statement in statements:
            if statement.type in _PLAIN_SKIP or statement.type in _DECLARED_FUNCTIONS:
                continue
            if not pending and not plain:
                break  # unreachable: after a return, throw, break or continue
            kind = statement.type
            if kind in ("lexical_declaration", "variable_declaration"):
                self.collect_declaration(statement)  # consts and aliases in nested blocks
            decision, events = None, []
            if kind in _SIMPLE_STATEMENTS:
                decision = self.decision_in(statement)
                events = self.events(statement) if decision is None else []
                if decision is None and not events:
                    plain.append(statement)
                    continue
            elif kind == "class_declaration":
                plain.append(statement)
                continue
            if plain:
                pending = self.process(plain, pending, scope)
                plain = []
            if kind in _SIMPLE_STATEMENTS:
                pending = self.simple(statement, pending, scope, decision, events)
            else:
                pending = self.statement(statement, pending, scope)
        if plain:
            pending = self.process(plain, pending, scope)
        return pending

    def process(self, statements: list[TSNode], pending, scope) -> list[_Pending]:
        label = _summary(statements[0], self.source)
        if len(statements) > 1:
            label = f"{label}; {len(statements) - 1} more"
        first, last = statements[0], statements[-1]
        node_id = self.add(PROCESS, label, None, scope)
        draft = self.nodes[-1]
        draft.detail = shorten(
            self.source[first.start_byte : last.end_byte].decode("utf-8", "replace"), DETAIL_LIMIT
        )
        draft.start_line, draft.end_line = first.start_point[0] + 1, last.end_point[0] + 1
        self.link(pending, node_id)
        return [_Pending(node_id)]

    def statement(self, node: TSNode, pending: list[_Pending], scope: _Scope) -> list[_Pending]:
        handler = _STATEMENTS.get(node.type)
        if handler is not None:
            return handler(self, node, pending, scope)
        decision = self.decision_in(node)
        events = self.events(node) if decision is None else []
        return self.simple(node, pending, scope, decision, events)

    def statement_body(self, body: TSNode | None, pending, scope) -> list[_Pending]:
        if body is None:
            return pending
        if body.type == "statement_block":
            return self.block(body.named_children, pending, scope)
        return self.block([body], pending, scope)

    def simple(self, node: TSNode, pending, scope, decision, events) -> list[_Pending]:
        """An expression statement or declaration with calls, a guard or a ternary."""
        if decision is not None:
            return self.expression_decision(node, decision, pending, scope)
        if not events:
            return self.process([node], pending, scope)
        before = self.counter
        out = self.run_events(events, node, pending, scope)
        if self.counter == before:  # only helpers without a step of their own
            return self.process([node], out, scope)
        return out

    def run_events(self, events: list[_Event], statement: TSNode, pending, scope):
        lines = (statement.start_point[0], statement.end_point[0])
        single = len(events) == 1
        for event in events:
            # The whole statement (`const x = await call(...)`) when the call is all of it,
            # else just the call's own lines.
            whole = single and (event.node.start_point[0], event.node.end_point[0]) == lines
            at = statement if whole else event.node
            if event.what == "call":
                pending = self.call(event, at, pending, scope)
            elif event.what == "inline":
                pending = self.inline(event, at, pending, scope)
            elif event.what == "iterate":
                pending = self.iterate(event, at, pending, scope)
            elif event.what == "parallel":
                pending = self.parallel(event, at, pending, scope)
        return pending

    def call(self, event: _Event, at: TSNode, pending, scope) -> list[_Pending]:
        info = event.info
        assert info is not None
        node_id = self.enter(pending, info.kind, info.label, at, scope, calls=info.calls)
        if info.kind == STEP and info.body is not None:
            # The step's callback runs inside it; its returns hand the value back.
            inner = _Scope(node_id, scope.catch, returns=[])
            return self.function_body(info.body, [_Pending(node_id)], inner) + inner.returns
        return [_Pending(node_id)]

    def inline(self, event: _Event, at: TSNode, pending, scope) -> list[_Pending]:
        """A helper declared in the file, in place of its first call: its returns lead on."""
        helper = event.target
        assert helper is not None
        self.inlined.add(event.name)
        self.inlining.append(event.name)
        if event.owner is not None:
            self.classes.append(event.owner)
        try:
            inner = _Scope(scope.parent, scope.catch, None, None, None, [])
            out = self.function_body(helper, pending, inner)
        finally:
            self.inlining.pop()
            if event.owner is not None:
                self.classes.pop()
        return out + inner.returns

    def function_body(self, function: TSNode, pending, scope: _Scope) -> list[_Pending]:
        body = function.child_by_field_name("body")
        if body is None:
            return pending
        if body.type == "statement_block":
            return self.block(body.named_children, pending, scope)
        # An arrow with an expression body: its value is the return value.
        events = self.events(body)
        return self.run_events(events, body, pending, scope) if events else pending

    def iterate(self, event: _Event, at: TSNode, pending, scope) -> list[_Pending]:
        """`items.map(async (item) => {...})` with an await inside: a LOOP over its body."""
        function = event.node.child_by_field_name("function")
        label = shorten(_text(function, self.source), 40) if function is not None else "each"
        loop_id = self.enter(pending, LOOP, label, at, scope)
        self.mark_inlined(event.target)
        inner = _Scope(loop_id, scope.catch, None, loop_id, [], [])
        out = self.function_body(event.target, [_Pending(loop_id, "each", "loop")], inner)
        self.close_loop(loop_id, out + inner.returns + inner.continues)
        return [_Pending(loop_id, "done")]

    def close_loop(self, loop_id: str, out: list[_Pending]) -> None:
        for p in out:
            if p.source == loop_id and p.kind == "loop":
                continue  # an empty body: no "each" edge
            self.edges.append(Edge(p.source, loop_id, p.label, "back"))

    def parallel(self, event: _Event, at: TSNode, pending, scope) -> list[_Pending]:
        """`Promise.all([a(), b()])` / `Promise.all(items.map(async ...))`."""
        call = event.node
        method = member_path(call.child_by_field_name("function"), self.source)
        name = "Promise." + (method[-1] if method else "all")
        args = _arguments(call)
        first = _unwrap(args[0]) if args else None
        branches: list[TSNode] = []
        mapped: TSNode | None = None
        if first is not None and first.type == "array":
            branches = [c for c in first.named_children if c.type != "comment"]
            label = f"{name} ({len(branches)})"
        elif first is not None:
            callback = self.iteration_callback(first)
            if callback is not None:
                mapped = callback
                fn = first.child_by_field_name("function")
                label = f"{name} ({shorten(_text(fn, self.source), 30)})"
            else:
                label = f"{name} ({shorten(_text(first, self.source), 30)})"
        else:
            label = name
        group = self.enter(pending, PARALLEL, label, at, scope)
        inner = _Scope(group, scope.catch, None, None, [], [])
        out: list[_Pending] = []
        if mapped is not None:
            self.mark_inlined(mapped)
            out = self.function_body(mapped, [_Pending(group, "each", "loop")], inner)
        for branch in branches:
            out += self.branch_expression(branch, [_Pending(group)], inner)
        out = out + inner.returns + inner.continues
        out = [p for p in out if p.source != group]
        return out or [_Pending(group)]

    def branch_expression(self, expr: TSNode, pending, scope: _Scope) -> list[_Pending]:
        """One element of a Promise.all array: a function, a call, anything."""
        target = _unwrap(expr)
        if target is not None and target.type == "call_expression":
            callee = _unwrap(target.child_by_field_name("function"))
            if callee is not None and callee.type in _FUNCTION_TYPES:  # an async IIFE
                return self.function_body(callee, pending, scope)
        events = self.events(expr)
        if events:
            return self.run_events(events, expr, pending, scope)
        node_id = self.enter(pending, PROCESS, shorten(_text(expr, self.source), 40), expr, scope)
        return [_Pending(node_id)]

    # -- expressions: what inside a statement deserves a node
    def worth_inlining(self, name: str, function: TSNode) -> bool:
        """A helper is graphed when it calls the host or another helper: a pure one (a
        formatter, a mapper) stays inside the statement that calls it."""
        text = self.source[function.start_byte : function.end_byte]
        if _HOST_WORDS.search(text):
            return True
        short = name.rsplit(".", 1)[-1].encode()
        others = [n.encode() for n in self.helpers if n.encode() != short]
        others += [m.encode() for ms in self.methods.values() for m in ms if m.encode() != short]
        return any(other in text for other in others)

    def method_owner(self, receiver: str) -> str | None:
        """The class whose method `receiver.method()` calls: `this` inside an inlined method,
        a variable bound to `new Class()`, or the class itself (a static method)."""
        if receiver == "this":
            return self.classes[-1] if self.classes else None
        if receiver in self.instances:
            return self.instances[receiver]
        return receiver if receiver in self.methods else None

    def iteration_callback(self, call: TSNode | None) -> TSNode | None:
        """The async callback of `xs.map(async x => { await ... })`, else None."""
        if call is None or call.type != "call_expression":
            return None
        function = call.child_by_field_name("function")
        if function is None or function.type != "member_expression":
            return None
        prop = function.child_by_field_name("property")
        if prop is None or _text(prop, self.source) not in ITERATION_METHODS:
            return None
        for arg in _arguments(call):
            if arg.type in _FUNCTION_TYPES:
                body = arg.child_by_field_name("body")
                text = self.source[arg.start_byte : arg.end_byte]
                if body is not None and (b"await" in text or self.events(body)):
                    return arg
            elif arg.type == "identifier":  # `orders.map(syncOrder)`, a helper of the file
                name = _text(arg, self.source)
                helper = self.helpers.get(name)
                if (
                    helper is not None
                    and name not in self.inlined
                    and name not in self.inlining
                    and self.worth_inlining(name, helper)
                ):
                    return helper
        return None

    def mark_inlined(self, function: TSNode) -> None:
        """A helper graphed as a loop's or a group's body counts as its one inlining."""
        for name, helper in self.helpers.items():
            if helper.id == function.id:
                self.inlined.add(name)

    def events(self, node: TSNode) -> list[_Event]:
        """The calls in `node` that become nodes, in evaluation order (arguments before the
        call that takes them); not those inside callbacks, which run later if at all."""
        start, end = node.start_byte, node.end_byte
        if not self.interesting().search(self.source, start, end):
            return []
        calls = self.calls
        first = bisect.bisect_left(self.call_starts, start)
        out: list[_Event] = []
        consumed = -1
        for index in range(first, len(calls)):
            call = calls[index]
            if call.start_byte >= end:
                break
            if call.start_byte < consumed or self.in_callback(call, node):
                continue
            event = self.call_event(call)
            if event is None:
                continue
            if event.what in ("parallel", "iterate") or (
                event.info is not None and event.info.kind == STEP
            ):
                consumed = call.end_byte  # its insides belong to the group it becomes
            out.append(event)
        out.sort(key=lambda e: e.node.end_byte)
        return out

    def in_callback(self, call: TSNode, within: TSNode) -> bool:
        """Whether a function (or class) inside `within` holds `call`."""
        node = call.parent
        start = within.start_byte
        while node is not None and node.start_byte >= start:
            if node.type in _CALLBACK_TYPES:
                return True
            if node.id == within.id:
                return False
            node = node.parent
        return False

    def interesting(self) -> re.Pattern[bytes]:
        """_INTERESTING, or the name of a helper, a method or an alias of a fastn service:
        what makes a statement worth a walk."""
        names = (
            len(self.helpers),
            sum(len(m) for m in self.methods.values()),
            len(self.aliases),
            len(self.instances),
        )
        if self._interesting is None or self._interesting[0] != names:
            words = [re.escape(n.encode()) for n in (*self.helpers, *self.aliases)]
            words += [re.escape(m.encode()) for ms in self.methods.values() for m in ms]
            pattern = _INTERESTING.pattern + b"".join(b"|" + w for w in words)
            self._interesting = (names, re.compile(pattern))
        return self._interesting[1]

    def call_event(self, node: TSNode) -> _Event | None:
        function = node.child_by_field_name("function")
        if function is None:
            return None
        if function.type == "identifier":
            name = _text(function, self.source)
            helper = self.helpers.get(name)
            if (
                helper is not None
                and name not in self.inlined
                and name not in self.inlining
                and self.worth_inlining(name, helper)
            ):
                return _Event("inline", node, target=helper, name=name)
            return None
        path = self.resolve(member_path(function, self.source))
        if path and len(path) == 2 and self.methods:
            owner = self.method_owner(path[0])
            method = self.methods.get(owner, {}).get(path[1]) if owner else None
            name = f"{owner}.{path[1]}"
            if (
                method is not None
                and name not in self.inlined
                and name not in self.inlining
                and self.worth_inlining(name, method)
            ):
                return _Event("inline", node, target=method, name=name, owner=owner)
        if path:
            if path[0] == "Promise" and len(path) == 2 and path[1] in PROMISE_COMBINATORS:
                return _Event("parallel", node)
            handler = match_call(path)
            if handler is not None:
                site = CallSite(
                    path, node, _arguments(node), self.source, self.consts, self.action_kind
                )
                return _Event("call", node, info=handler(site))
        callback = self.iteration_callback(node)
        if callback is not None:
            return _Event("iterate", node, target=callback)
        return None

    # -- decisions inside expressions: ternaries and && / || / ?? guards
    def decision_in(self, statement: TSNode) -> TSNode | None:
        """The ternary or guard a statement's value is, when the graph should branch on it."""
        if not _INTERESTING.search(self.source, statement.start_byte, statement.end_byte):
            return None
        return self.decision_value(_statement_value(statement), with_calls=False)

    def decision_value(self, value: TSNode | None, *, with_calls: bool) -> TSNode | None:
        """`value` itself when it is a ternary (with calls in a branch, if `with_calls`) or a
        guard whose right side calls something."""
        value = _unwrap(value)
        if value is None:
            return None
        if value.type == "ternary_expression":
            if not with_calls:
                return value
            for branch in ("consequence", "alternative"):
                part = value.child_by_field_name(branch)
                if part is not None and self.events(part):
                    return value
            return None
        if value.type == "binary_expression":
            op = value.child_by_field_name("operator")
            if op is not None and op.type in ("&&", "||", "??"):
                right = value.child_by_field_name("right")
                if right is not None and self.events(right):
                    return value
        return None

    def expression_decision(self, statement, decision: TSNode, pending, scope):
        source = self.source
        if decision.type == "ternary_expression":
            condition = decision.child_by_field_name("condition")
            label = "if " + _condition_text(condition, source)
            branches = [
                ("yes", decision.child_by_field_name("consequence")),
                ("no", decision.child_by_field_name("alternative")),
            ]
        else:
            left = decision.child_by_field_name("left")
            op = decision.child_by_field_name("operator").type
            right = decision.child_by_field_name("right")
            if op == "??":
                label = f"if {_condition_text(_unwrap(left), source)} == null"
                branches = [("yes", right), ("no", None)]
            else:
                label = "if " + _condition_text(_unwrap(left), source)
                branches = (
                    [("yes", right), ("no", None)] if op == "&&" else [("yes", None), ("no", right)]
                )
            events = self.events(left) if left is not None else []
            if events:
                pending = self.run_events(events, left, pending, scope)
        node_id = self.enter(pending, DECISION, label, statement, scope)
        out: list[_Pending] = []
        for edge_label, expr in branches:
            start = [_Pending(node_id, edge_label, edge_label)]
            events = self.events(expr) if expr is not None else []
            out += self.run_events(events, expr, start, scope) if events else start
        return out

    def return_value(self, statement, value: TSNode | None, pending, scope) -> list[_Pending]:
        """`return x` / an arrow's expression body: calls first, then RETURN -> done. A
        ternary or a guard with calls in it branches first."""
        decision = self.decision_value(value, with_calls=True) if value is not None else None
        if decision is not None:
            pending = self.expression_decision(statement, decision, pending, scope)
        elif value is not None:
            events = self.events(value)
            if events:
                pending = self.run_events(events, value, pending, scope)
        if scope.returns is not None:
            scope.returns.extend(pending)
            return []
        label = "return"
        if value is not None:
            label = "return " + _condition_text(value, self.source, 40)
        node_id = self.enter(pending, RETURN, label, statement, scope)
        self.edges.append(Edge(node_id, "done"))
        return []


# ---- statement handlers (by tree-sitter type) ------------------------------------------------
def _if(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    condition = node.child_by_field_name("condition")
    events = b.events(condition) if condition is not None else []
    if events:
        pending = b.run_events(events, condition, pending, scope)
    label = "if " + _condition_text(condition, b.source)
    header_end = node.child_by_field_name("consequence")
    decision = b.add(DECISION, label, None, scope)
    draft = b.nodes[-1]
    draft.detail = shorten(
        b.source[node.start_byte : (header_end or node).start_byte].decode("utf-8", "replace"),
        DETAIL_LIMIT,
    ) or shorten(_text(node, b.source), DETAIL_LIMIT)
    # The header's lines: the branches have nodes of their own.
    draft.start_line = node.start_point[0] + 1
    draft.end_line = (condition or node).end_point[0] + 1
    b.link(pending, decision)
    out = b.statement_body(header_end, [_Pending(decision, "yes", "yes")], scope)
    alternative = node.child_by_field_name("alternative")
    no = [_Pending(decision, "no", "no")]
    if alternative is not None:
        inner = [c for c in alternative.named_children if c.type != "comment"]
        body = inner[0] if inner else None
        out += b.statement_body(body, no, scope)
    else:
        out += no
    return out


def _switch(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    value = node.child_by_field_name("value")
    label = "switch " + _condition_text(value, b.source)
    body = node.child_by_field_name("body")
    decision = b.add(DECISION, label, None, scope)
    draft = b.nodes[-1]
    draft.detail = shorten(
        b.source[node.start_byte : (body or node).start_byte].decode("utf-8", "replace"),
        DETAIL_LIMIT,
    )
    draft.start_line, draft.end_line = node.start_point[0] + 1, (value or node).end_point[0] + 1
    b.link(pending, decision)
    breaks: list[_Pending] = []
    inner = _Scope(scope.parent, scope.catch, breaks, scope.loop, scope.continues, scope.returns)
    fallthrough: list[_Pending] = []
    has_default = False
    for case in body.named_children if body is not None else []:
        if case.type not in ("switch_case", "switch_default"):
            continue
        if case.type == "switch_default":
            has_default = True
            entry = _Pending(decision, "default", "case")
            statements = [c for c in case.named_children]
        else:
            test = case.child_by_field_name("value")
            entry = _Pending(decision, "case " + _condition_text(test, b.source, 30), "case")
            statements = [c for c in case.named_children if c != test]
        fallthrough = b.block(statements, [*fallthrough, entry], inner)
    out = fallthrough + breaks
    if not has_default:
        out.append(_Pending(decision, "default", "case"))
    return out


def _loop_label(b: _Builder, node: TSNode) -> str:
    source = b.source
    if node.type == "for_in_statement":
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        operator = node.child_by_field_name("operator")
        op = _text(operator, source) if operator is not None else "of"
        is_await = any(c.type == "await" for c in node.children)
        target = _text(left, source) if left is not None else "?"
        for kw in ("const ", "let ", "var "):
            target = target.removeprefix(kw)
        head = "for await" if is_await else "for"
        return f"{head} {shorten(target, 20)} {op} {shorten(_text(right, source), 30)}"
    if node.type == "while_statement":
        return "while " + _condition_text(node.child_by_field_name("condition"), source)
    if node.type == "do_statement":
        return "do … while " + _condition_text(node.child_by_field_name("condition"), source)
    body = node.child_by_field_name("body")
    header = source[node.start_byte : (body or node).start_byte].decode("utf-8", "replace")
    return shorten(header, 50)


def _loop(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    source = b.source
    name, b.next_label = b.next_label, None  # before the header, which may inline loops
    header_parts = [
        node.child_by_field_name(f)
        for f in ("initializer", "right", "value")
        if node.child_by_field_name(f) is not None
    ]
    for part in header_parts:
        events = b.events(part)
        if events:
            pending = b.run_events(events, part, pending, scope)
    body = node.child_by_field_name("body")
    loop_id = b.add(LOOP, _loop_label(b, node), None, scope)
    draft = b.nodes[-1]
    head_end = (
        body.start_byte if body is not None and node.type != "do_statement" else node.end_byte
    )
    draft.detail = shorten(
        source[node.start_byte : head_end].decode("utf-8", "replace"), DETAIL_LIMIT
    )
    draft.start_line, draft.end_line = node.start_point[0] + 1, node.end_point[0] + 1
    b.link(pending, loop_id)
    breaks: list[_Pending] = []
    if name is not None:
        b.labels[name] = (loop_id, breaks)
    inner = _Scope(loop_id, scope.catch, breaks, loop_id, None, scope.returns)
    out = b.statement_body(body, [_Pending(loop_id, "each", "loop")], inner)
    b.close_loop(loop_id, out)
    return [_Pending(loop_id, "done"), *breaks]


def _labeled(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    body = node.child_by_field_name("body")
    label = node.child_by_field_name("label")
    if body is not None and label is not None and body.type in _LOOPS:
        b.next_label = _text(label, b.source)
        return b.statement_body(body, pending, scope)
    # A labelled block: `break label` leaves it.
    breaks: list[_Pending] = []
    if label is not None:
        b.labels[_text(label, b.source)] = (None, breaks)
    return b.statement_body(body, pending, scope) + breaks


def _block(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    return b.block(node.named_children, pending, scope)


def _return(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    value = node.named_children[0] if node.named_children else None
    if value is not None and value.type == "comment":
        value = None
    return b.return_value(node, value, pending, scope)


def _throw(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    value = node.named_children[0] if node.named_children else None
    if value is not None:
        events = b.events(value)
        if events:
            pending = b.run_events(events, value, pending, scope)
    label = "throw " + (_throw_text(value, b.source) if value is not None else "")
    node_id = b.add(THROW, label, node, scope)
    b.link(pending, node_id)
    if scope.catch is not None:
        scope.catch.append(node_id)
    else:
        b.failed_used = True
        b.edges.append(Edge(node_id, "failed"))
    return []


def _jump_label(b: _Builder, node: TSNode) -> tuple[str | None, list[_Pending]] | None:
    label = node.child_by_field_name("label")
    if label is None:
        label = next((c for c in node.named_children if c.type == "statement_identifier"), None)
    return b.labels.get(_text(label, b.source)) if label is not None else None


def _break(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    target = _jump_label(b, node)
    if target is not None:
        target[1].extend(pending)
    elif scope.breaks is not None:
        scope.breaks.extend(pending)
    return []


def _continue(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    target = _jump_label(b, node)
    if target is not None and target[0] is not None:
        for p in pending:
            b.edges.append(Edge(p.source, target[0], p.label, "back"))
    elif scope.loop is not None:
        for p in pending:
            b.edges.append(Edge(p.source, scope.loop, p.label, "back"))
    elif scope.continues is not None:
        scope.continues.extend(pending)
    return []


def _try(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    body = node.child_by_field_name("body")
    handler = node.child_by_field_name("handler")
    finalizer = node.child_by_field_name("finalizer")
    try_id = b.add(TRY, "try", None, scope)
    draft = b.nodes[-1]
    draft.detail = (
        "try { … }"
        + (" catch" if handler is not None else "")
        + (" finally" if finalizer is not None else "")
    )
    draft.start_line, draft.end_line = node.start_point[0] + 1, node.end_point[0] + 1
    b.link(pending, try_id)
    raisers: list[str] = []
    inner = _Scope(
        try_id,
        raisers if handler is not None else scope.catch,
        scope.breaks,
        scope.loop,
        scope.continues,
        scope.returns,
    )
    out = b.block(body.named_children if body is not None else [], [_Pending(try_id)], inner)
    if handler is not None:
        parameter = handler.child_by_field_name("parameter")
        label = f"catch ({_text(parameter, b.source)})" if parameter is not None else "catch"
        catch_scope = _Scope(
            try_id, scope.catch, scope.breaks, scope.loop, scope.continues, scope.returns
        )
        catch_id = b.add(CATCH, label, None, catch_scope)
        draft = b.nodes[-1]
        draft.detail = shorten(label, DETAIL_LIMIT)
        draft.start_line = handler.start_point[0] + 1
        draft.end_line = handler.end_point[0] + 1
        sources = raisers or [try_id]
        for source_id in sources:
            b.edges.append(Edge(source_id, catch_id, "error", "error"))
        catch_body = handler.child_by_field_name("body")
        out += b.block(
            catch_body.named_children if catch_body is not None else [],
            [_Pending(catch_id)],
            catch_scope,
        )
    if finalizer is not None:
        fin_body = finalizer.child_by_field_name("body")
        fin_scope = _Scope(
            try_id, scope.catch, scope.breaks, scope.loop, scope.continues, scope.returns
        )
        out = b.block(fin_body.named_children if fin_body is not None else [], out, fin_scope)
    return out


_SIMPLE_STATEMENTS = frozenset(
    {"expression_statement", "lexical_declaration", "variable_declaration"}
)
_LOOPS = frozenset({"for_statement", "for_in_statement", "while_statement", "do_statement"})
_STATEMENTS: dict[str, Callable[[_Builder, TSNode, list, _Scope], list[_Pending]]] = {
    "if_statement": _if,
    "switch_statement": _switch,
    "for_statement": _loop,
    "for_in_statement": _loop,
    "while_statement": _loop,
    "do_statement": _loop,
    "labeled_statement": _labeled,
    "statement_block": _block,
    "return_statement": _return,
    "throw_statement": _throw,
    "break_statement": _break,
    "continue_statement": _continue,
    "try_statement": _try,
}


# ---- small helpers -------------------------------------------------------------------------
def _arguments(call: TSNode) -> tuple[TSNode, ...]:
    args = call.child_by_field_name("arguments")
    if args is None:
        return ()
    return tuple(c for c in args.named_children if c.type != "comment")


def _statement_value(statement: TSNode) -> TSNode | None:
    kind = statement.type
    if kind == "expression_statement":
        value = statement.named_children[0] if statement.named_children else None
        value = _unwrap(value)
        if value is not None and value.type in (
            "assignment_expression",
            "augmented_assignment_expression",
        ):
            return value.child_by_field_name("right")
        return value
    if kind in ("lexical_declaration", "variable_declaration"):
        declarators = [c for c in statement.named_children if c.type == "variable_declarator"]
        if len(declarators) == 1:
            return declarators[0].child_by_field_name("value")
    return None


def _condition_text(node: TSNode | None, source: bytes, limit: int = 50) -> str:
    if node is None:
        return ""
    text = _text(node, source)
    if node.type == "parenthesized_expression":
        text = text[1:-1]
    return shorten(text, limit)


def _throw_text(value: TSNode, source: bytes) -> str:
    """`throw new Error("x")` -> `Error: x`; anything else -> its code."""
    if value.type == "new_expression":
        ctor = value.child_by_field_name("constructor")
        args = _arguments(value)
        message = literal_text(args[0], source) if args else None
        if ctor is not None and message is not None:
            return shorten(f"{_text(ctor, source)}: {message}", 45)
    return shorten(_text(value, source), 45)


def _summary(statement: TSNode, source: bytes) -> str:
    """`const total = …`, `let { a, b } = …`, or the statement's code, short."""
    if statement.type in ("lexical_declaration", "variable_declaration"):
        keyword = statement.children[0].type if statement.children else "const"
        declarators = [c for c in statement.named_children if c.type == "variable_declarator"]
        if declarators:
            name = declarators[0].child_by_field_name("name")
            names = shorten(_text(name, source), 30) if name is not None else "?"
            has_value = declarators[0].child_by_field_name("value") is not None
            text = f"{keyword} {names}" + (" = …" if has_value else "")
            if len(declarators) > 1:
                text += f", {len(declarators) - 1} more"
            return text
    if statement.type == "class_declaration":
        name = statement.child_by_field_name("name")
        return f"class {_text(name, source)}" if name is not None else "class"
    text = _text(statement, source).rstrip(";")
    return shorten(text, 40)


# ---- the main path -------------------------------------------------------------------------
def _main_path(graph: Graph) -> list[Node]:
    by_id = {n.id: n for n in graph.nodes}
    forward: dict[str, list[str]] = {n.id: [] for n in graph.nodes}  # no back / error edges
    loop_exits: dict[str, list[Edge]] = {}
    for edge in graph.edges:
        if edge.source in forward and edge.target in by_id and edge.kind not in ("back", "error"):
            forward[edge.source].append(edge.target)
        if edge.source in by_id and by_id[edge.source].kind == LOOP and edge.kind != "loop":
            loop_exits.setdefault(edge.source, []).append(edge)

    def exits(loop: str, depth: int = 0) -> list[str]:
        """Where a loop goes when it is done: an inner loop's "done" is a back edge to the
        loop around it, which goes on to its own exit."""
        out: list[str] = []
        for edge in loop_exits.get(loop, []):
            if edge.kind == "back" and depth < 50:
                out += exits(edge.target, depth + 1)
            elif edge.kind != "back":
                out.append(edge.target)
        return out

    # For the walk, a back edge leads on to where its loop exits: the graph is acyclic.
    onward = {node_id: list(targets) for node_id, targets in forward.items()}
    for edge in graph.edges:
        if edge.kind == "back" and edge.source in onward:
            onward[edge.source].extend(exits(edge.target))
    far = _longest_to_done(onward)

    def reach(start: str, container: str | None) -> set[str]:
        """What a branch reaches going forward without leaving the decision's container."""
        seen = {start}
        stack = [start]
        while stack:
            for target in forward.get(stack.pop(), ()):
                if target not in seen and _within(by_id[target], container, by_id):
                    seen.add(target)
                    stack.append(target)
        return seen

    def merge(targets: list[str], container: str | None) -> str | None:
        """Where the branches meet again: the node most of them reach (two at least), the
        nearest of those; done itself does not count."""
        if len(targets) < 2:
            return None
        counts: dict[str, int] = {}
        for t in targets:
            for n in reach(t, container):
                counts[n] = counts.get(n, 0) + 1
        counts.pop("done", None)
        best = max(counts.values(), default=0)
        if best < 2:
            return None
        return max((n for n, c in counts.items() if c == best), key=lambda n: far[n])

    path: list[Node] = []
    seen: set[str] = set()
    current: str | None = "trigger"
    while current is not None and current not in seen and current in by_id:
        seen.add(current)
        node = by_id[current]
        path.append(node)
        targets = list(dict.fromkeys(onward.get(current, ())))
        if not targets:
            break
        if node.kind == DECISION:
            # Branches that end the run (return, throw) or leave the loop or group the
            # decision is in (break, continue) drop out; the others meet again.
            going = [
                t
                for t in dict.fromkeys(forward[current])
                if far[t] > _NEVER and _within(by_id[t], node.parent, by_id)
            ]
            joined = merge(going, node.parent)
            current = joined or max(going or targets, key=lambda n: far[n])
        elif node.kind == PARALLEL:
            members = [n for n in graph.nodes if n.id not in seen and _inside(n, current, by_id)]
            for member in members:
                seen.add(member.id)
                path.append(member)
            after = {t for m in members for t in onward.get(m.id, ())} | set(targets)
            after -= {m.id for m in members}
            current = max(after, key=lambda n: far[n]) if after else None
        elif node.kind == LOOP:
            into = [
                e.target
                for e in graph.edges
                if e.source == current and e.kind == "loop" and e.target not in seen
            ]
            current = into[0] if into else max(targets, key=lambda n: far[n])
        else:
            current = max(targets, key=lambda n: far[n])
    return path


_NEVER = float("-inf")


def _longest_to_done(onward: dict[str, list[str]]) -> dict[str, float]:
    """Each node's longest way on to done over an acyclic graph; -inf when done is out of
    reach (the node only leads to a throw). Iterative: a long workflow is a deep graph."""
    far: dict[str, float] = {}
    visiting: set[str] = set()
    for start in onward:
        stack = [(start, False)]
        while stack:
            node_id, expanded = stack.pop()
            if node_id in far:
                continue
            if node_id == "done":
                far[node_id] = 0
            elif expanded:
                visiting.discard(node_id)
                targets = onward.get(node_id, ())
                far[node_id] = max((far.get(t, _NEVER) for t in targets), default=_NEVER) + 1
            elif node_id not in visiting:  # else a cycle, which the walk does not follow
                visiting.add(node_id)
                stack.append((node_id, True))
                stack.extend((t, False) for t in onward.get(node_id, ()) if t not in far)
    return far


def _within(node: Node, container: str | None, by_id: dict[str, Node]) -> bool:
    """Whether `node` is inside `container` (anything is inside the top level)."""
    return container is None or _inside(node, container, by_id)


def _inside(node: Node, container: str, by_id: dict[str, Node]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent == container:
            return True
        parent = by_id[parent].parent if parent in by_id else None
    return False
