"""A workflow's code as a step graph: the one model behind the Flow, Sequence and Docs views.

`build_graph(code)` parses the module with tree-sitter and walks the exported default
function (and the helper functions it calls that are declared in the same file, each
inlined once, at its first call) into nodes and edges:

    TRIGGER -> PROCESS / READ / WRITE / DECISION / LOOP / PARALLEL / TRY / CATCH /
               STEP / WAIT / RETURN / THROW -> DONE | FAILED

Host calls (`fastn.connector.shopify.getOrders(...)`, `fastn.db.query("SELECT ...")`,
`fastn.state.get(key)`, ...) are recognised by the table `CALL_PATTERNS` below: a new
runtime API is one more row there, not another branch in the walker.

No Django here: the module is pure and fast (a 300-line workflow takes a few ms), so the
views can call it on every render and cache the result by `Graph.code_hash`.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import tree_sitter_javascript
from tree_sitter import Language, Parser
from tree_sitter import Node as TSNode

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

    def main_path(self) -> list[Node]:
        """trigger -> ... -> done: a DECISION once, then where its branches meet again (or,
        when they never meet, the branch with the longest way on to done, so guard clauses
        and early returns drop out); loops and parallel groups with their bodies."""
        return _main_path(self)


ActionKind = Callable[[str, str], "str | None"]


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def build_graph(code: str, *, action_kind: ActionKind | None = None) -> Graph:
    """The step graph of `code`'s default export. Raises ParseFailure for a syntax error."""
    source = code.encode("utf-8")
    root = parse(source)
    builder = _Builder(source, action_kind)
    builder.build(root)
    return Graph(tuple(builder.finished_nodes()), tuple(builder.edges), code_hash(code))


# ---- parsing -------------------------------------------------------------------------------
def _parser() -> Parser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = Parser(JS)
    return parser


def parse(source: bytes) -> TSNode:
    """The program node of `source`, or ParseFailure at the first error tree-sitter found."""
    root = _parser().parse(source).root_node
    if root.has_error:
        problem = _first_problem(root)
        raise _failure(source, problem or root)
    return root


def _first_problem(node: TSNode) -> TSNode | None:
    if node.is_missing or node.type == "ERROR":
        return node
    if not node.has_error:
        return None
    for child in node.children:
        found = _first_problem(child)
        if found is not None:
            return found
    return None


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
    return ParseFailure(f"Unexpected token {_quote(text.splitlines()[0][:40])}", row + 1, column)


def _first_leaf(node: TSNode) -> TSNode | None:
    while node.child_count:
        node = node.children[0]
    return node


def _quote(text: str) -> str:
    return "'" + text + "'"


# ---- text helpers --------------------------------------------------------------------------
_SPACES = re.compile(r"\s+")


def squeeze(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def shorten(text: str, limit: int) -> str:
    text = squeeze(text)
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
        method = (site.option(0, "method") or "GET").upper()
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
_IDENT = r"((?:\"[^\"]+\"|[A-Za-z_][\w$]*)(?:\.(?:\"[^\"]+\"|[A-Za-z_][\w$]*))?)"
_SQL_SHAPES = (
    ("SELECT", READ, re.compile(r"\bFROM\s+" + _IDENT, re.I)),
    ("INSERT", WRITE, re.compile(r"\bINSERT\s+INTO\s+" + _IDENT, re.I)),
    ("UPDATE", WRITE, re.compile(r"\bUPDATE\s+(?:ONLY\s+)?" + _IDENT, re.I)),
    ("DELETE", WRITE, re.compile(r"\bDELETE\s+FROM\s+(?:ONLY\s+)?" + _IDENT, re.I)),
    (
        "CREATE",
        WRITE,
        re.compile(
            r"\bCREATE\s+(?:\w+\s+)*?(?:TABLE|INDEX|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?" + _IDENT,
            re.I,
        ),
    ),
    ("DROP", WRITE, re.compile(r"\bDROP\s+\w+\s+(?:IF\s+EXISTS\s+)?" + _IDENT, re.I)),
    ("ALTER", WRITE, re.compile(r"\bALTER\s+\w+\s+(?:IF\s+EXISTS\s+)?" + _IDENT, re.I)),
    ("TRUNCATE", WRITE, re.compile(r"\bTRUNCATE\s+(?:TABLE\s+)?" + _IDENT, re.I)),
)
_SQL_VERB = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|TRUNCATE)\b", re.I)


def sql_operation(sql: str) -> tuple[str, str, str | None]:
    """("SELECT", READ, "orders") for `SELECT * FROM orders`; a WITH query is a write when
    it inserts, updates or deletes; (verb or "SQL", WRITE, None) when nothing is recognised."""
    text = _SQL_COMMENT.sub(" ", sql).replace("${…}", "x")
    verbs = [m.group(1).upper() for m in _SQL_VERB.finditer(text)]
    if not verbs:
        return "SQL", WRITE, None
    verb = verbs[0]
    if verb == "SELECT":
        # WITH ... INSERT/UPDATE/DELETE ... or INSERT ... SELECT: the write decides.
        writes = [v for v in verbs if v in ("INSERT", "UPDATE", "DELETE")]
        if writes and text.lstrip()[:4].upper() == "WITH":
            verb = writes[0]
    for name, kind, pattern in _SQL_SHAPES:
        if name == verb:
            found = pattern.search(text)
            table = found.group(1).replace('"', "") if found else None
            return verb, kind, table
    return verb, WRITE, None


def _db(site: CallSite) -> CallInfo:
    step = ("db", "db.query")
    sql = site.arg_text(0)
    if sql is None:
        return CallInfo(WRITE, "db.query", (step,))
    verb, kind, table = sql_operation(sql)
    if verb == "CREATE" and table:
        label = f"CREATE {table}"
    else:
        label = f"{verb} {table}" if table else verb
    return CallInfo(kind, shorten(label, LABEL_LIMIT), (step,))


def _host(kind: str, family: str, method: str, what: str = "") -> Callable[[CallSite], CallInfo]:
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
# parameter) map onto `fastn.step.*`.
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


def match_call(path: tuple[str, ...]) -> Callable[[CallSite], CallInfo] | None:
    for prefix, target in _STEP_ROOTS.items():
        if path[: len(prefix)] == prefix and len(path) == len(prefix) + 1:
            path = target + path[len(prefix) :]
    for pattern, handler in CALL_PATTERNS:
        if len(pattern) == len(path) and all(
            p in ("*", q) for p, q in zip(pattern, path, strict=True)
        ):
            return handler
    return None


# ---- the walk ------------------------------------------------------------------------------
_FUNCTION_TYPES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_DECLARED_FUNCTIONS = frozenset({"function_declaration", "generator_function_declaration"})
_PLAIN_SKIP = frozenset({"empty_statement", "comment", "debugger_statement"})
# A statement whose text has none of these cannot hold a call, a guard or a ternary the
# graph shows: it is merged into a PROCESS node without walking its tree.
_INTERESTING = re.compile(rb"fastn|Fastn|Promise|step|await|\?|&&|\|\|")


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


@dataclass
class _Builder:
    source: bytes
    action_kind: ActionKind | None
    nodes: list[_Draft] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    helpers: dict[str, TSNode] = field(default_factory=dict)
    consts: dict[str, TSNode] = field(default_factory=dict)
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    inlined: set[str] = field(default_factory=set)
    inlining: list[str] = field(default_factory=list)
    counter: int = 0
    failed_used: bool = False

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
        entry = self.collect_module(root)
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

    def collect_block_declarations(self, block: TSNode) -> None:
        for node in block.named_children:
            self.collect_declaration(node)

    def collect_declaration(self, node: TSNode) -> None:
        source = self.source
        if node.type in _DECLARED_FUNCTIONS:
            name = node.child_by_field_name("name")
            if name is not None:
                self.helpers[_text(name, source)] = node
        elif node.type in ("lexical_declaration", "variable_declaration"):
            for declarator in node.named_children:
                if declarator.type != "variable_declarator":
                    continue
                name = declarator.child_by_field_name("name")
                value = _unwrap(declarator.child_by_field_name("value"))
                if name is None or value is None or name.type != "identifier":
                    continue
                key = _text(name, source)
                if value.type in _FUNCTION_TYPES:
                    self.helpers[key] = value
                elif value.type in ("string", "template_string"):
                    self.consts[key] = value
                elif value.type in ("member_expression", "new_expression", "subscript_expression"):
                    path = self.resolve(member_path(value, source))
                    if path and path[0] == "fastn":
                        self.aliases[key] = path

    def resolve(self, path: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if path and path[0] in self.aliases and path[0] != "fastn":
            return self.aliases[path[0]] + path[1:]
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
            if self.is_plain(statement):
                plain.append(statement)
                continue
            if plain:
                pending = self.process(plain, pending, scope)
                plain = []
            pending = self.statement(statement, pending, scope)
        if plain:
            pending = self.process(plain, pending, scope)
        return pending

    def is_plain(self, statement: TSNode) -> bool:
        kind = statement.type
        if kind in ("expression_statement", "lexical_declaration", "variable_declaration"):
            return not self.decision_in(statement) and not self.events(statement)
        return kind == "class_declaration"

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
        return self.simple(node, pending, scope)

    def statement_body(self, body: TSNode | None, pending, scope) -> list[_Pending]:
        if body is None:
            return pending
        if body.type == "statement_block":
            return self.block(body.named_children, pending, scope)
        return self.block([body], pending, scope)

    def simple(self, node: TSNode, pending, scope) -> list[_Pending]:
        """An expression statement or declaration with calls, a guard or a ternary."""
        decision = self.decision_in(node)
        if decision is not None:
            return self.expression_decision(node, decision, pending, scope)
        events = self.events(node)
        if not events:
            return self.process([node], pending, scope)
        return self.run_events(events, node, pending, scope)

    def run_events(self, events: list[_Event], statement: TSNode, pending, scope):
        single = len(events) == 1
        for event in events:
            at = statement if single else event.node
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
            inner = _Scope(scope.parent, scope.catch, None, None, [], [])
            inner.parent = node_id
            out = self.function_body(info.body, [_Pending(node_id)], inner)
            out = out + inner.returns + inner.continues
            if out and not (len(out) == 1 and out[0].source == node_id):
                return out
        return [_Pending(node_id)]

    def inline(self, event: _Event, at: TSNode, pending, scope) -> list[_Pending]:
        name = _text(event.node.child_by_field_name("function"), self.source)
        helper = event.target
        assert helper is not None
        self.inlined.add(name)
        self.inlining.append(name)
        try:
            inner = _Scope(scope.parent, scope.catch, None, None, None, [])
            out = self.function_body(helper, pending, inner)
        finally:
            self.inlining.pop()
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
        inner = _Scope(loop_id, scope.catch, None, loop_id, [], [])
        out = self.function_body(event.target, [_Pending(loop_id, "each", "loop")], inner)
        self.close_loop(loop_id, out + inner.returns + inner.continues)
        return [_Pending(loop_id, "done")]

    def close_loop(self, loop_id: str, out: list[_Pending]) -> None:
        for p in out:
            if p.source == loop_id and p.kind == "loop":
                continue  # an empty body: no "each" edge
            self.edges.append(Edge(p.source, loop_id, "", "back"))

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
        return None

    def events(self, node: TSNode) -> list[_Event]:
        if not _INTERESTING.search(self.source, node.start_byte, node.end_byte) and not (
            self.helpers and self.mentions_helper(node)
        ):
            return []
        out: list[_Event] = []
        self.scan(node, out)
        return out

    def mentions_helper(self, node: TSNode) -> bool:
        text = self.source[node.start_byte : node.end_byte]
        return any(name.encode() in text for name in self.helpers)

    def scan(self, node: TSNode, out: list[_Event]) -> None:
        """Post-order: arguments are evaluated before the call that takes them."""
        kind = node.type
        if kind in _FUNCTION_TYPES or kind == "class" or kind == "class_declaration":
            return  # a callback's body runs later, if at all
        if kind == "call_expression":
            event = self.call_event(node)
            if event is not None and event.what in ("parallel", "iterate"):
                out.append(event)
                return
            if event is not None and event.info is not None and event.info.kind == STEP:
                out.append(event)
                return
            for child in node.named_children:
                self.scan(child, out)
            if event is not None:
                out.append(event)
            return
        for child in node.named_children:
            self.scan(child, out)

    def call_event(self, node: TSNode) -> _Event | None:
        function = node.child_by_field_name("function")
        if function is None:
            return None
        if function.type == "identifier":
            name = _text(function, self.source)
            helper = self.helpers.get(name)
            if helper is not None and name not in self.inlined and name not in self.inlining:
                return _Event("inline", node, target=helper)
            return None
        path = self.resolve(member_path(function, self.source))
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
        value = _statement_value(statement)
        value = _unwrap(value)
        if value is None:
            return None
        if value.type == "ternary_expression":
            return value
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
                label = f"if {_condition_text(left, source)} == null"
                branches = [("yes", right), ("no", None)]
            else:
                label = "if " + _condition_text(left, source)
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
        """`return x` / an arrow's expression body: calls first, then RETURN -> done."""
        if value is not None:
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
    draft.start_line = node.start_point[0] + 1
    draft.end_line = node.end_point[0] + 1
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
    draft.start_line, draft.end_line = node.start_point[0] + 1, node.end_point[0] + 1
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
    inner = _Scope(loop_id, scope.catch, breaks, loop_id, None, scope.returns)
    out = b.statement_body(body, [_Pending(loop_id, "each", "loop")], inner)
    b.close_loop(loop_id, out)
    return [_Pending(loop_id, "done"), *breaks]


def _labeled(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    body = node.child_by_field_name("body")
    return b.statement_body(body, pending, scope)


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


def _break(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    if scope.breaks is not None:
        scope.breaks.extend(pending)
    return []


def _continue(b: _Builder, node: TSNode, pending, scope) -> list[_Pending]:
    if scope.loop is not None:
        for p in pending:
            b.edges.append(Edge(p.source, scope.loop, "", "back"))
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
    succ: dict[str, list[Edge]] = {n.id: [] for n in graph.nodes}
    exits: dict[str, list[str]] = {}
    for edge in graph.edges:
        if edge.source in succ and edge.kind not in ("back", "error"):
            succ[edge.source].append(edge)
        if edge.source in by_id and by_id[edge.source].kind == LOOP and edge.kind == "flow":
            exits.setdefault(edge.source, []).append(edge.target)
    # A back edge leads on to where its loop exits: the graph becomes acyclic.
    for edge in graph.edges:
        if edge.kind == "back" and edge.source in succ:
            for target in exits.get(edge.target, []):
                succ[edge.source].append(Edge(edge.source, target, "", "flow"))

    distance: dict[str, float] = {}

    def far(node_id: str) -> float:
        """The longest way on to done; -inf when done is out of reach (a throw)."""
        if node_id in distance:
            return distance[node_id]
        distance[node_id] = float("-inf")  # guards against a cycle the walk did not expect
        if node_id == "done":
            distance[node_id] = 0
            return 0
        best = max((far(e.target) for e in succ.get(node_id, [])), default=float("-inf"))
        distance[node_id] = best + 1
        return best + 1

    reach_cache: dict[str, frozenset[str]] = {}

    def reach(node_id: str) -> frozenset[str]:
        found = reach_cache.get(node_id)
        if found is not None:
            return found
        seen = {node_id}
        stack = [node_id]
        while stack:
            for e in succ.get(stack.pop(), []):
                if e.target not in seen:
                    seen.add(e.target)
                    stack.append(e.target)
        reach_cache[node_id] = frozenset(seen)
        return reach_cache[node_id]

    def merge(targets: list[str]) -> str | None:
        """The nearest node every branch that goes on reaches (not done itself)."""
        going = [t for t in targets if far(t) > float("-inf")]
        if len(going) < 2:
            return None
        common = set.intersection(*(set(reach(t)) for t in going)) - {"done", "failed"}
        return max(common, key=far) if common else None

    import sys

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    path: list[Node] = []
    seen: set[str] = set()
    current: str | None = "trigger"
    while current is not None and current not in seen and current in by_id:
        seen.add(current)
        node = by_id[current]
        path.append(node)
        edges = succ.get(current, [])
        if not edges:
            break
        targets = [e.target for e in edges]
        if node.kind == DECISION:
            joined = merge(targets)
            current = joined or max(targets, key=far)
        elif node.kind == PARALLEL:
            members = sorted(
                (n for n in graph.nodes if _inside(n, current, by_id) and n.id not in seen),
                key=lambda n: int(n.id[1:]) if n.id[1:].isdigit() else 0,
            )
            for member in members:
                seen.add(member.id)
                path.append(member)
            onward = {e.target for m in members for e in succ.get(m.id, [])} | set(targets)
            onward -= {m.id for m in members}
            current = max(onward, key=far) if onward else None
        elif node.kind == LOOP:
            into = [e.target for e in edges if e.kind == "loop" and e.target not in seen]
            current = into[0] if into else max(targets, key=far)
        else:
            current = max(targets, key=far)
    return path


def _inside(node: Node, container: str, by_id: dict[str, Node]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent == container:
            return True
        parent = by_id[parent].parent if parent in by_id else None
    return False
