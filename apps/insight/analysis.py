"""Facts about a workflow's code for its generated reference (the Docs view).

`analyze(code)` reads the whole module once with tree-sitter and answers what a reader of
the Docs wants to know without reading the code: the purpose (the leading comment), the
`ctx.input` fields and headers it reads and where, the connector actions, secrets, configs,
state keys and tables it uses, and the shape of each value the default export returns.

Pure and fast like graph.py (no Django); it raises graph.ParseFailure for code that does
not parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from tree_sitter import Node as TSNode
from tree_sitter import Query, QueryCursor

from apps.insight.graph import (
    JS,
    WRITE,
    ActionKind,
    CallSite,
    ParseFailure,
    _Builder,
    literal_text,
    match_call,
    member_path,
    parse,
    sql_operation,
    too_deep,
)

__all__ = [
    "ActionUse",
    "Analysis",
    "Field",
    "HttpUse",
    "OutputShape",
    "ParseFailure",
    "TableUse",
    "analyze",
]


@dataclass(frozen=True)
class Field:
    name: str  # "order.total", "x-api-version", "SHOPIFY_TOKEN", "lead:${…}"
    lines: tuple[int, ...]  # 1-based, ascending


@dataclass(frozen=True)
class ActionUse:
    connector: str
    action: str
    lines: tuple[int, ...]
    kind: str = WRITE  # READ or WRITE (from the catalog when given, else guessed)


@dataclass(frozen=True)
class TableUse:
    name: str
    operations: tuple[str, ...]  # in the order first seen: ("SELECT", "INSERT")
    lines: tuple[int, ...]


@dataclass(frozen=True)
class HttpUse:
    """A `fastn.connector.http.request(...)` call: what a MOCK test case has to answer."""

    method: str  # GET when not given; `${…}` when the code decides at run time
    url: str  # the literal URL, `${…}` where the code fills it in; "" when not literal
    line: int


@dataclass(frozen=True)
class OutputShape:
    line: int
    shape: dict[str, str] | str  # {"ok": "boolean", "items": "array"} or "string", "unknown"


@dataclass(frozen=True)
class Analysis:
    purpose: str
    inputs: list[Field]
    headers: list[Field]
    connectors: list[ActionUse]
    secrets: list[Field]
    configs: list[Field]
    state_keys: list[Field]
    tables: list[TableUse]
    outputs: list[OutputShape]
    http: list[HttpUse] = field(default_factory=list)


def analyze(code: str, *, action_kind: ActionKind | None = None) -> Analysis:
    source = code.encode("utf-8")
    root = parse(source)
    try:
        return _Reader(source, root, action_kind).read()
    except RecursionError:
        raise too_deep(root) from None


# ---- the leading comment -------------------------------------------------------------------
_DIRECTIVE = re.compile(r"^\s*(eslint|@ts-|prettier-|global\s|jshint|#!)")


def purpose(root: TSNode, source: bytes) -> str:
    """The comment at the top of the file, or else the one right above the default export."""
    children = root.named_children
    top = _comment_run(children, 0, source)
    if top:
        return top
    for index, node in enumerate(children):
        if node.type == "export_statement" and any(c.type == "default" for c in node.children):
            start = index
            while start > 0 and children[start - 1].type == "comment":
                start -= 1
            return _comment_run(children, start, source) if start < index else ""
    return ""


def _comment_run(children: list[TSNode], start: int, source: bytes) -> str:
    """The cleaned text of the comments from `start` on, up to the first code or blank line
    after a block of them."""
    paragraphs: list[str] = []
    previous_end = None
    for node in children[start:]:
        if node.type != "comment":
            break
        if previous_end is not None and node.start_point[0] > previous_end + 1:
            paragraphs.append("")  # a blank line between comments: a new paragraph
        previous_end = node.end_point[0]
        paragraphs.extend(_comment_lines(source[node.start_byte : node.end_byte].decode()))
    lines = [line for line in paragraphs if not _DIRECTIVE.match(line)]
    text = "\n".join(lines).strip()
    # Lines of one paragraph are joined; blank lines separate paragraphs.
    return "\n\n".join(" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip())


def _comment_lines(text: str) -> list[str]:
    if text.startswith("//"):
        return [text[2:].lstrip("/").strip()]
    body = text[2:-2] if text.endswith("*/") else text[2:]
    out = []
    for line in body.split("\n"):
        line = line.strip()
        line = line[1:] if line.startswith("*") else line
        out.append(line.strip().lstrip("*").strip() if line.startswith("*") else line.strip())
    return out


# ---- the walk ------------------------------------------------------------------------------
_FUNCTIONS = frozenset(
    {
        "arrow_function",
        "function_expression",
        "function",
        "generator_function",
        "function_declaration",
        "generator_function_declaration",
        "method_definition",
    }
)
_TRAILING_PROPERTIES = frozenset({"length"})
_CHAIN_TYPES = frozenset(
    {"member_expression", "subscript_expression", "parenthesized_expression", "non_null_expression"}
)
_FACTS = Query(
    JS,
    """
    [(lexical_declaration) (variable_declaration) (variable_declarator) (member_expression)
     (subscript_expression) (identifier) (shorthand_property_identifier) (call_expression)
     (return_statement)] @fact
    """,
)


@dataclass
class _Uses:
    """name -> lines, in the order names are first seen."""

    lines: dict[str, set[int]] = field(default_factory=dict)

    def add(self, name: str, line: int) -> None:
        self.lines.setdefault(name, set()).add(line)

    def fields(self) -> list[Field]:
        return [Field(name, tuple(sorted(lines))) for name, lines in self.lines.items()]


@dataclass
class _Reader:
    source: bytes
    root: TSNode
    action_kind: ActionKind | None
    inputs: _Uses = field(default_factory=_Uses)
    headers: _Uses = field(default_factory=_Uses)
    secrets: _Uses = field(default_factory=_Uses)
    configs: _Uses = field(default_factory=_Uses)
    state_keys: _Uses = field(default_factory=_Uses)
    actions: dict[tuple[str, str], tuple[str, set[int]]] = field(default_factory=dict)
    tables: dict[str, tuple[list[str], set[int]]] = field(default_factory=dict)
    outputs: list[OutputShape] = field(default_factory=list)
    http: list[HttpUse] = field(default_factory=list)
    ctx_names: set[str] = field(default_factory=set)
    # variable -> ("input" | "headers", path below it)
    bindings: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    def read(self) -> Analysis:
        facts = _Builder(self.source, self.action_kind)
        entry = facts.collect_module(self.root)
        self.facts = facts
        self.entry = entry
        if entry is not None:
            self.bind_parameters(entry)
        self.walk(self.root, None)
        if entry is not None:
            body = entry.child_by_field_name("body")
            if body is not None and body.type != "statement_block":
                self.outputs.append(OutputShape(body.start_point[0] + 1, self.shape(body)))
        return Analysis(
            purpose=purpose(self.root, self.source),
            inputs=_leaves(self.inputs.fields()),
            headers=self.headers.fields(),
            connectors=[
                ActionUse(slug, action, tuple(sorted(lines)), kind)
                for (slug, action), (kind, lines) in self.actions.items()
            ],
            secrets=self.secrets.fields(),
            configs=self.configs.fields(),
            state_keys=self.state_keys.fields(),
            tables=[
                TableUse(name, tuple(ops), tuple(sorted(lines)))
                for name, (ops, lines) in self.tables.items()
            ],
            outputs=self.outputs,
            http=self.http,
        )

    def text(self, node: TSNode) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    # -- ctx, ctx.input and ctx.headers
    def bind_parameters(self, entry: TSNode) -> None:
        params = entry.child_by_field_name("parameters") or entry.child_by_field_name("parameter")
        if params is None:
            return
        first = params if params.type == "identifier" else None
        if first is None:
            named = [c for c in params.named_children if c.type != "comment"]
            first = named[0] if named else None
        if first is None:
            return
        if first.type == "assignment_pattern":
            first = first.child_by_field_name("left")
        if first is not None and first.type == "identifier":
            self.ctx_names.add(self.text(first))
        elif first is not None and first.type == "object_pattern":
            self.bind_ctx_pattern(first)

    def bind_ctx_pattern(self, pattern: TSNode) -> None:
        """`{ input, headers: h }` taken from ctx."""
        for name, target in self.pattern_entries(pattern):
            if name in ("input", "headers"):
                self.bind(target, (name, ()))

    def pattern_entries(self, pattern: TSNode) -> Iterable[tuple[str, TSNode]]:
        """(key, the pattern it is bound to) for each entry of an object or array pattern."""
        if pattern.type == "object_pattern":
            for entry in pattern.named_children:
                if entry.type == "shorthand_property_identifier_pattern":
                    yield self.text(entry), entry
                elif entry.type == "object_assignment_pattern":
                    left = entry.child_by_field_name("left")
                    if left is not None:
                        yield self.text(left), left
                elif entry.type == "pair_pattern":
                    key = entry.child_by_field_name("key")
                    value = entry.child_by_field_name("value")
                    if key is not None and value is not None:
                        name = literal_text(key, self.source) or self.text(key)
                        yield name, value
        elif pattern.type == "array_pattern":
            for index, entry in enumerate(pattern.named_children):
                if entry.type != "rest_pattern":
                    yield f"[{index}]", entry

    def bind(self, target: TSNode, where: tuple[str, tuple[str, ...]]) -> None:
        """Bind a declaration's pattern to a place in ctx.input / ctx.headers."""
        kind, path = where
        if target.type == "assignment_pattern":
            target = target.child_by_field_name("left") or target
        if target.type in ("identifier", "shorthand_property_identifier_pattern"):
            self.bindings[self.text(target)] = where
            if path:
                self.use(kind, path, target)
            return
        if target.type in ("object_pattern", "array_pattern"):
            for name, inner in self.pattern_entries(target):
                self.bind(inner, (kind, (*path, name)))

    def use(self, kind: str, path: tuple[str, ...], node: TSNode) -> None:
        while path and path[-1] in _TRAILING_PROPERTIES:
            path = path[:-1]
        if not path:
            return
        name = ".".join(path).replace(".[", "[")
        uses = self.inputs if kind == "input" else self.headers
        if kind == "headers":
            name = path[0]  # a header is one name: `ctx.headers["x-a"].split(",")` is x-a
        uses.add(name, node.start_point[0] + 1)

    def chain(self, node: TSNode) -> tuple[str, list[str]] | None:
        """`ctx.input?.order["total"]` -> ("ctx", ["input", "order", "total"])."""
        parts: list[str] = []
        while True:
            if node.type == "member_expression":
                prop = node.child_by_field_name("property")
                if prop is None:
                    return None
                parts.append(self.text(prop))
                node = node.child_by_field_name("object")
            elif node.type == "subscript_expression":
                index = node.child_by_field_name("index")
                value = literal_text(index, self.source)
                if value is None:
                    if index is not None and index.type == "number":
                        value = f"[{self.text(index)}]"
                    else:
                        return None
                parts.append(value)
                node = node.child_by_field_name("object")
            elif node.type in ("parenthesized_expression", "non_null_expression"):
                if not node.named_children:
                    return None
                node = node.named_children[0]
            elif node.type == "identifier":
                parts.reverse()
                return self.text(node), parts
            else:
                return None
            if node is None:
                return None

    def place(self, node: TSNode) -> tuple[str, tuple[str, ...]] | None:
        """Where in ctx.input / ctx.headers an expression points, if it does."""
        node = _strip(node)
        if node is not None and node.type == "binary_expression":
            op = node.child_by_field_name("operator")
            if op is not None and op.type in ("??", "||"):  # `ctx.input ?? {}`
                node = _strip(node.child_by_field_name("left"))
        if node is None:
            return None
        root = node
        while root is not None and root.type in _CHAIN_TYPES:
            root = root.child_by_field_name("object") or (
                root.named_children[0] if root.named_children else None
            )
        if root is None or root.type != "identifier":
            return None
        name = self.text(root)
        if name not in self.ctx_names and name not in self.bindings:
            return None  # the cheap answer for most member expressions
        if node.type == "identifier":
            name = self.text(node)
            return self.bindings.get(name)
        found = self.chain(node)
        if found is None:
            return None
        root, parts = found
        if root in self.ctx_names and parts and parts[0] in ("input", "headers"):
            return parts[0], tuple(parts[1:])
        if root in self.bindings:
            kind, base = self.bindings[root]
            return kind, (*base, *parts)
        return None

    # -- one pass over the tree
    def walk(self, root: TSNode, function: TSNode | None) -> None:
        """The nodes that tell something, found by one query in C, in source order (outer
        before inner); a ctx.input chain read whole hides the nodes inside it."""
        found = QueryCursor(_FACTS).captures(root)
        nodes = [node for group in found.values() for node in group]
        nodes.sort(key=lambda n: (n.start_byte, -n.end_byte))
        hidden_until = -1
        for node in nodes:
            if node.start_byte < hidden_until:
                continue
            if self.visit(node):
                hidden_until = node.end_byte

    def visit(self, node: TSNode) -> bool:
        """Note what `node` tells; True when what is inside it is done with."""
        kind = node.type
        if kind in ("lexical_declaration", "variable_declaration"):
            self.facts.collect_declaration(node)  # constants for keys like `lead:${…}`
        elif kind == "variable_declarator":
            self.declarator(node)
        elif kind in ("member_expression", "subscript_expression"):
            if self.member(node):
                return True
        elif kind in ("identifier", "shorthand_property_identifier"):
            self.reference(node)
        elif kind == "call_expression":
            self.call(node)
        elif (
            kind == "return_statement"
            and self.entry is not None
            and _function_of(node) == self.entry
        ):
            value = node.named_children[0] if node.named_children else None
            if value is not None and value.type == "comment":
                value = None
            shape = self.shape(value) if value is not None else "undefined"
            self.outputs.append(OutputShape(node.start_point[0] + 1, shape))
        return False

    def declarator(self, node: TSNode) -> None:
        name = node.child_by_field_name("name")
        value = _strip(node.child_by_field_name("value"))
        if name is None or value is None:
            return
        if value.type == "identifier" and self.text(value) in self.ctx_names:
            if name.type == "identifier":
                self.ctx_names.add(self.text(name))
            elif name.type == "object_pattern":
                self.bind_ctx_pattern(name)
            return
        where = self.place(value)
        if where is not None:
            self.bind(name, where)

    def member(self, node: TSNode) -> bool:
        """Record a ctx.input / ctx.headers read; True when the chain was taken whole."""
        where = self.place(node)
        if where is None:
            return False
        kind, path = where
        parent = node.parent
        if parent is not None and parent.type == "call_expression" and path:
            function = parent.child_by_field_name("function")
            if function is not None and function.id == node.id:
                path = path[:-1]  # `input.name.trim()`: the field is name
        self.use(kind, path, node)
        return True

    def reference(self, node: TSNode) -> None:
        where = self.bindings.get(self.text(node))
        if where is None or not where[1]:
            return
        parent = node.parent
        if parent is not None and parent.type in ("variable_declarator", "pair_pattern"):
            return  # the binding itself, recorded by bind()
        self.use(where[0], where[1], node)

    def call(self, node: TSNode) -> None:
        function = node.child_by_field_name("function")
        path = self.facts.resolve(member_path(function, self.source))
        if not path:
            return
        handler = match_call(path)
        if handler is None:
            return
        args_node = node.child_by_field_name("arguments")
        args = (
            tuple(c for c in args_node.named_children if c.type != "comment") if args_node else ()
        )
        site = CallSite(path, node, args, self.source, self.facts.consts, self.action_kind)
        line = node.start_point[0] + 1
        family = path[1] if path[0] == "fastn" and len(path) > 1 else ""
        if family in ("connector", "connectors") and len(path) == 4:
            info = handler(site)
            entry = self.actions.setdefault((path[2], path[3]), (info.kind, set()))
            entry[1].add(line)
            if path[2] == "http" and path[3] == "request":
                method = site.option(0, "method")
                if method is None:
                    method = "${…}" if site.has_option(0, "method") else "GET"
                self.http.append(HttpUse(method.upper(), site.option(0, "url") or "", line))
        elif family == "db":
            self.sql(site, line)
        elif family == "state":
            self.state_keys.add(self.key(site), line)
        elif family == "secrets":
            self.secrets.add(self.key(site), line)
        elif family == "envConfig":
            self.configs.add(self.key(site), line)

    def key(self, site: CallSite) -> str:
        value = site.arg_text(0)
        if value is not None:
            return value
        if site.args:
            return "${" + " ".join(self.text(site.args[0]).split())[:40] + "}"
        return "?"

    def sql(self, site: CallSite, line: int) -> None:
        text = site.arg_text(0)
        use = sql_operation(text)
        names = [use.table] if use.table else []
        if use.verb == "SELECT" and text:
            names += [m.group(1) for m in _JOIN.finditer(text)]
        if use.verb in ("CREATE", "DROP", "ALTER") and use.object != "TABLE":
            return
        for name in names:
            name = name.replace('"', "")
            if "${" in name:
                continue
            ops, lines = self.tables.setdefault(name, ([], set()))
            if use.verb not in ops:
                ops.append(use.verb)
            lines.add(line)

    # -- output shapes
    def shape(self, node: TSNode) -> dict[str, str] | str:
        node = _strip(node)
        if node is None:
            return "unknown"
        if node.type == "object":
            out: dict[str, str] = {}
            for entry in node.named_children:
                if entry.type == "pair":
                    key = entry.child_by_field_name("key")
                    value = entry.child_by_field_name("value")
                    if key is None:
                        continue
                    name = literal_text(key, self.source) or self.text(key)
                    out[name] = self.type_of(value)
                elif entry.type == "shorthand_property_identifier":
                    out[self.text(entry)] = self.type_of_name(self.text(entry))
                elif entry.type == "spread_element":
                    inner = entry.named_children[0] if entry.named_children else None
                    out["..." + (self.text(inner) if inner is not None else "")] = "spread"
            return out
        return self.type_of(node)

    def type_of_name(self, name: str) -> str:
        if name in self.bindings:
            return "input" if self.bindings[name][0] == "input" else "header"
        return "unknown"

    def type_of(self, node: TSNode | None, depth: int = 0) -> str:
        node = _strip(node)
        if node is None or depth > 20:
            return "unknown"
        kind = node.type
        simple = _LITERAL_TYPES.get(kind)
        if simple is not None:
            return simple
        if kind == "identifier":
            name = self.text(node)
            if name == "undefined":
                return "undefined"
            if name in self.facts.consts:
                return "string"
            return self.type_of_name(name)
        if kind == "unary_expression":
            op = node.child_by_field_name("operator")
            op_text = self.text(op) if op is not None else ""
            return {"!": "boolean", "typeof": "string", "-": "number", "+": "number"}.get(
                op_text, "unknown"
            )
        if kind == "binary_expression":
            return self.binary_type(node, depth + 1)
        if kind == "ternary_expression":
            a = self.type_of(node.child_by_field_name("consequence"), depth + 1)
            b = self.type_of(node.child_by_field_name("alternative"), depth + 1)
            return a if a == b else f"{a} | {b}"
        if kind == "call_expression":
            return self.call_type(node)
        if kind == "new_expression":
            ctor = node.child_by_field_name("constructor")
            return {"Date": "Date", "Map": "object", "Set": "object", "Array": "array"}.get(
                self.text(ctor) if ctor is not None else "", "object"
            )
        if kind in ("member_expression", "subscript_expression"):
            prop = node.child_by_field_name("property")
            if prop is not None and self.text(prop) == "length":
                return "number"
            where = self.place(node)
            if where is not None:
                return "input" if where[0] == "input" else "header"
        return "unknown"

    def binary_type(self, node: TSNode, depth: int) -> str:
        op_node = node.child_by_field_name("operator")
        op = op_node.type if op_node is not None else ""
        if op in _COMPARISONS:
            return "boolean"
        left = self.type_of(node.child_by_field_name("left"), depth)
        right = self.type_of(node.child_by_field_name("right"), depth)
        if op in ("??", "||"):
            if left == right:
                return left
            return right if left in ("unknown", "input", "header") else f"{left} | {right}"
        if op == "&&":
            return right if left == "boolean" else "unknown"
        if op == "+":
            if "string" in (left, right):
                return "string"
            return "number" if left == right == "number" else "unknown"
        if op in ("-", "*", "/", "%", "**", "|", "&", "^", "<<", ">>", ">>>"):
            return "number"
        return "unknown"

    def call_type(self, node: TSNode) -> str:
        function = node.child_by_field_name("function")
        if function is None:
            return "unknown"
        name = self.text(function)
        if name in _CALL_TYPES:
            return _CALL_TYPES[name]
        if function.type == "member_expression":
            prop = function.child_by_field_name("property")
            method = self.text(prop) if prop is not None else ""
            return _METHOD_TYPES.get(method, "unknown")
        return "unknown"


_JOIN = re.compile(
    r"\bJOIN\s+((?:\"[^\"]+\"|[A-Za-z_][\w$]*)(?:\.(?:\"[^\"]+\"|[A-Za-z_][\w$]*))?)", re.I
)
_LITERAL_TYPES = {
    "true": "boolean",
    "false": "boolean",
    "number": "number",
    "string": "string",
    "template_string": "string",
    "array": "array",
    "object": "object",
    "null": "null",
    "undefined": "undefined",
    "regex": "object",
    "arrow_function": "function",
    "function_expression": "function",
}
_COMPARISONS = frozenset({"==", "===", "!=", "!==", "<", "<=", ">", ">=", "instanceof", "in"})
_CALL_TYPES = {
    "String": "string",
    "Number": "number",
    "Boolean": "boolean",
    "parseInt": "number",
    "parseFloat": "number",
    "JSON.stringify": "string",
    "JSON.parse": "unknown",
    "Array.isArray": "boolean",
    "Array.from": "array",
    "Object.keys": "array",
    "Object.values": "array",
    "Object.entries": "array",
    "Date.now": "number",
    "Math.round": "number",
    "Math.floor": "number",
    "Math.ceil": "number",
    "Math.max": "number",
    "Math.min": "number",
    "Math.abs": "number",
    "Number.isFinite": "boolean",
    "Number.isInteger": "boolean",
    "btoa": "string",
    "atob": "string",
}
_METHOD_TYPES = {
    "toISOString": "string",
    "toString": "string",
    "toFixed": "string",
    "trim": "string",
    "toLowerCase": "string",
    "toUpperCase": "string",
    "join": "string",
    "slice": "unknown",
    "map": "array",
    "filter": "array",
    "flatMap": "array",
    "concat": "unknown",
    "split": "array",
    "includes": "boolean",
    "some": "boolean",
    "every": "boolean",
    "startsWith": "boolean",
    "endsWith": "boolean",
    "test": "boolean",
    "has": "boolean",
    "indexOf": "number",
    "getTime": "number",
}


def _function_of(node: TSNode) -> TSNode | None:
    parent = node.parent
    while parent is not None and parent.type not in _FUNCTIONS:
        parent = parent.parent
    return parent


def _leaves(fields: list[Field]) -> list[Field]:
    """Without `order` when `order.total` is read on the same lines: the deeper name says it."""
    out = []
    for f in fields:
        deeper = [
            g for g in fields if g.name.startswith((f.name + ".", f.name + "[")) and g is not f
        ]
        covered = set().union(*(g.lines for g in deeper)) if deeper else set()
        if not deeper or not set(f.lines) <= covered:
            out.append(f)
    return out


def _strip(node: TSNode | None) -> TSNode | None:
    while node is not None and node.type in (
        "await_expression",
        "parenthesized_expression",
        "non_null_expression",
    ):
        node = node.named_children[0] if node.named_children else None
    return node
