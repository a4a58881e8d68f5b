"""A durable workflow's step graph in the shape of Cloudflare's "Get Workflow version graph"
(`VersionGraphResponse.graph.workflow`, reference seed 003).

`step_graph(code)` parses the module with the same tree-sitter parser as the Flow graph
(`apps.insight.graph`: its parse cache, its ParseFailure, its aliases) and answers

    {"class_name": "default", "name": "run", "type": "function_def",
     "functions": {"chargeAll": {"name": "chargeAll", "type": "function_def", "nodes": [...]}},
     "nodes": [...]}

Nodes, recursively: step_do (its callback's nodes inside), step_sleep, step_sleep_until,
step_wait_for_event, loop, parallel, block (one branch of a parallel group with several steps
in a row), if, switch, try (with its blocks), function_call (a helper declared in the file; its
body is under "functions") and break (a `break` or `return` that leaves a loop). The graph is
about steps: plain code is left out, and a loop, a parallel group, an if, a switch or a try is
kept only when it holds a step or a helper call (an if, switch or try inside a loop also when
it holds a break, which decides how the loop's steps repeat).

Values the code writes as literals are given as such (numbers stay numbers); anything else
(a template with `${...}`, a variable, `new Date(...)`) as its source text.

No Django here, like graph.py: pure and fast, a few milliseconds for a 300-line workflow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node as TSNode

from apps.insight.graph import (
    _FUNCTION_TYPES,
    _STEP_ROOTS,
    ITERATION_METHODS,
    PROMISE_COMBINATORS,
    ParseFailure,
    _Builder,
    _text,
    _unwrap,
    literal_text,
    member_path,
    parse,
    shorten,
    squeeze,
    too_deep,
)

__all__ = ["ParseFailure", "step_graph"]

TEXT_LIMIT = 200  # source text (conditions, dynamic names) is squeezed and cut to this
STEP_TYPES = {
    "do": "step_do",
    "sleep": "step_sleep",
    "sleepUntil": "step_sleep_until",
    "waitForEvent": "step_wait_for_event",
}
PARALLEL_KINDS = {"all": "all", "any": "any", "allSettled": "all_settled", "race": "race"}
_SIGNIFICANT = frozenset({*STEP_TYPES.values(), "function_call"})
_LOOP_STATEMENTS = frozenset(
    {"for_statement", "for_in_statement", "while_statement", "do_statement"}
)
_FUNCTION_DECLARATIONS = frozenset({"function_declaration", "generator_function_declaration"})
_JUMPS = re.compile(rb"\b(?:break|return)\b")
_STEP_OBJECTS = frozenset({("fastn", "step"), *_STEP_ROOTS})


def step_graph(code: str) -> dict:
    """The step graph of `code`'s default export. Raises ParseFailure for a syntax error."""
    source = code.encode("utf-8")
    root = parse(source)
    walker = _Walker(source, None)
    try:
        return walker.workflow(root)
    except RecursionError:
        raise too_deep(root) from None


@dataclass(frozen=True)
class _Where:
    """What a `break` or `return` here leaves: a loop (a node) or a switch / function (not)."""

    loop: bool = False
    switch: bool = False


_TOP = _Where()


@dataclass
class _Walker(_Builder):
    """graph.py's collector of helpers, constants and aliases, walked into nested dicts."""

    objects: dict[str, TSNode] = field(default_factory=dict)  # const NAME = { ... }
    functions: dict[str, list[dict] | None] = field(default_factory=dict)  # None: being walked
    entry: TSNode | None = None
    _words: tuple[tuple[int, ...], re.Pattern[bytes]] | None = None

    # -- the module
    def workflow(self, root: TSNode) -> dict:
        entry = self.entry = self.collect_module(root)
        self.bind_parameters(entry)
        nodes: list[dict] = []
        if entry is not None:
            nodes = self.function_nodes(entry)
        functions = {
            name: {"name": name, "type": "function_def", "nodes": nodes}
            for name, nodes in self.functions.items()
            if nodes
        }
        return {
            "class_name": "default",
            "name": self.entry_name(entry),
            "type": "function_def",
            "functions": functions,
            "nodes": nodes,
        }

    def entry_name(self, entry: TSNode | None) -> str:
        if entry is not None:
            name = entry.child_by_field_name("name")
            if name is not None:
                return _text(name, self.source)
            for helper_name, helper in self.helpers.items():
                if helper.id == entry.id:
                    return helper_name  # `const main = async () => {}; export default main`
        return "default"

    def collect_declaration(self, node: TSNode) -> None:
        super().collect_declaration(node)
        if node.type in ("lexical_declaration", "variable_declaration"):
            for declarator in node.named_children:
                name = declarator.child_by_field_name("name")
                value = _unwrap(declarator.child_by_field_name("value"))
                if (
                    name is not None
                    and name.type == "identifier"
                    and value is not None
                    and value.type == "object"
                ):
                    self.objects[_text(name, self.source)] = value

    def function_nodes(self, function: TSNode) -> list[dict]:
        body = function.child_by_field_name("body")
        if body is None:
            return []
        if body.type == "statement_block":
            self.collect_block_declarations(body)
            return self.block(body.named_children, _TOP)
        return self.expression(body)  # an arrow's expression body

    def words(self) -> re.Pattern[bytes]:
        """What a piece of code must mention to hold a step: `step`, `Promise`, a helper's
        or an alias's name. Code without any of them is skipped without a walk."""
        key = (len(self.helpers), len(self.aliases), len(self.contexts))
        if self._words is None or self._words[0] != key:
            names = [re.escape(n.encode()) for n in (*self.helpers, *self.aliases)]
            pattern = b"|".join([rb"step|Promise", *names])
            self._words = (key, re.compile(pattern))
        return self._words[1]

    def jumps(self, node: TSNode) -> bool:
        """Whether `node` may hold a `break` or a `return` (for the loop it is in)."""
        return _JUMPS.search(self.source, node.start_byte, node.end_byte) is not None

    def mentions(self, node: TSNode) -> bool:
        return self.words().search(self.source, node.start_byte, node.end_byte) is not None

    # -- statements
    def block(self, statements: list[TSNode], where: _Where) -> list[dict]:
        out: list[dict] = []
        for statement in statements:
            kind = statement.type
            if kind in ("lexical_declaration", "variable_declaration"):
                self.collect_declaration(statement)  # aliases in nested blocks
            if kind in ("break_statement", "return_statement"):
                out += self.jump(statement, where)
                continue
            if kind in _FUNCTION_DECLARATIONS:
                continue
            if not self.mentions(statement) and not (where.loop and self.jumps(statement)):
                continue
            out += self.statement(statement, where)
        return out

    def statement(self, node: TSNode, where: _Where) -> list[dict]:
        kind = node.type
        if kind == "if_statement":
            return self.if_statement(node, where)
        if kind == "switch_statement":
            return self.switch_statement(node, where)
        if kind in _LOOP_STATEMENTS:
            return self.loop_statement(node)
        if kind == "try_statement":
            return self.try_statement(node, where)
        if kind == "labeled_statement":
            body = node.child_by_field_name("body")
            return self.body(body, where)
        if kind == "statement_block":
            return self.block(node.named_children, where)
        if kind in ("class_declaration", "class"):
            return []
        return self.expression(node)

    def body(self, node: TSNode | None, where: _Where) -> list[dict]:
        if node is None:
            return []
        if node.type == "statement_block":
            return self.block(node.named_children, where)
        return self.block([node], where)

    def jump(self, node: TSNode, where: _Where) -> list[dict]:
        """`return` (its value's steps first) and `break`: a break node when they leave a
        loop; a plain `break` in a switch only ends its case."""
        if node.type == "return_statement":
            value = next((c for c in node.named_children if c.type != "comment"), None)
            out = self.expression(value) if value is not None and self.mentions(value) else []
            return out + ([{"type": "break", "kind": "return"}] if where.loop else [])
        labelled = node.child_by_field_name("label") is not None
        if where.loop and (labelled or not where.switch):
            return [{"type": "break", "kind": "break"}]
        return []

    def if_statement(self, node: TSNode, where: _Where) -> list[dict]:
        condition = node.child_by_field_name("condition")
        return self.expression(condition) + self.if_chain(node, where)

    def if_chain(self, node: TSNode, where: _Where) -> list[dict]:
        """An if with its else-ifs as more branches. An else-if whose test takes a step is
        an else holding that step and the rest of the chain: it runs only when the earlier
        tests failed."""
        branches: list[dict] = []
        current: TSNode | None = node
        while current is not None:
            condition = current.child_by_field_name("condition")
            nodes = self.body(current.child_by_field_name("consequence"), where)
            branches.append({"condition": _condition(condition, self.source), "nodes": nodes})
            alternative = current.child_by_field_name("alternative")
            current = None
            if alternative is None:
                break
            inner = [c for c in alternative.named_children if c.type != "comment"]
            body = inner[0] if inner else None
            if body is not None and body.type == "if_statement":
                test = self.expression(body.child_by_field_name("condition"))
                if test:
                    rest = self.if_chain(body, where)
                    branches.append({"condition": "else", "nodes": test + rest})
                else:
                    current = body
            else:
                branches.append({"condition": "else", "nodes": self.body(body, where)})
        return [_if(branches)] if _keeps(branches, where) else []

    def switch_statement(self, node: TSNode, where: _Where) -> list[dict]:
        value = node.child_by_field_name("value")
        out = self.expression(value) if value is not None and self.mentions(value) else []
        body = node.child_by_field_name("body")
        inner = _Where(loop=where.loop, switch=True)
        branches: list[dict] = []
        for case in body.named_children if body is not None else []:
            if case.type == "switch_default":
                statements = list(case.named_children)
                condition = "default"
            elif case.type == "switch_case":
                test = case.child_by_field_name("value")
                statements = [c for c in case.named_children if test is None or c.id != test.id]
                condition = "case " + _condition(test, self.source)
            else:
                continue
            branches.append({"condition": condition, "nodes": self.block(statements, inner)})
        if not _keeps(branches, where):
            return out
        return [
            *out,
            {
                "type": "switch",
                "discriminant": _condition(value, self.source),
                "branches": branches,
            },
        ]

    def loop_statement(self, node: TSNode) -> list[dict]:
        """A for / for-of / for-in / while / do-while. What runs once (an initializer, the
        iterated value) comes before the loop; a test and an update run every time round."""
        before: list[dict] = []
        inside: list[dict] = []
        for name in ("initializer", "right"):
            part = node.child_by_field_name(name)
            if part is not None and self.mentions(part):
                before += self.expression(part)
        if node.type == "do_statement":
            order = ("body", "condition")
        else:
            order = ("condition", "body", "increment")
        for name in order:
            part = node.child_by_field_name(name)
            if part is None:
                continue
            if name == "body":
                inside += self.body(part, _Where(loop=True))
            elif self.mentions(part):
                inside += self.expression(part)
        if not _has_steps(inside):
            return before
        return [*before, {"type": "loop", "nodes": inside}]

    def try_statement(self, node: TSNode, where: _Where) -> list[dict]:
        handler = node.child_by_field_name("handler")
        finalizer = node.child_by_field_name("finalizer")
        blocks = {
            "try_block": self.body(node.child_by_field_name("body"), where),
            "catch_block": self.body(
                handler.child_by_field_name("body") if handler is not None else None, where
            ),
            "finally_block": self.body(
                finalizer.child_by_field_name("body") if finalizer is not None else None, where
            ),
        }
        if not _keeps([{"nodes": nodes} for nodes in blocks.values()], where):
            return []
        return [
            {"type": "try", **{key: {"type": "block", "nodes": n} for key, n in blocks.items()}}
        ]

    # -- expressions, in evaluation order
    def expression(self, node: TSNode | None) -> list[dict]:
        if node is None or not self.mentions(node):
            return []
        kind = node.type
        if kind == "call_expression":
            return self.call(node)
        if kind == "new_expression":
            return self.arguments(node, callbacks=True)
        if kind in _FUNCTION_TYPES or kind in ("class", "class_declaration"):
            return []  # defined here, run later if at all
        if kind == "ternary_expression":
            return self.ternary(node)
        if kind == "binary_expression":
            operator = node.child_by_field_name("operator")
            if operator is not None and operator.type in ("&&", "||", "??"):
                return self.guard(node, operator.type)
        out: list[dict] = []
        for child in node.named_children:
            out += self.expression(child)
        return out

    def ternary(self, node: TSNode) -> list[dict]:
        condition = node.child_by_field_name("condition")
        before = self.expression(condition)
        branches = [
            {
                "condition": _condition(condition, self.source),
                "nodes": self.expression(node.child_by_field_name("consequence")),
            },
            {
                "condition": "else",
                "nodes": self.expression(node.child_by_field_name("alternative")),
            },
        ]
        return [*before, _if(branches)] if _keeps(branches, _TOP) else before

    def guard(self, node: TSNode, operator: str) -> list[dict]:
        """`ok && await step.do(...)`, `cached || await step.do(...)`, `x ?? await ...`."""
        left = node.child_by_field_name("left")
        before = self.expression(left)
        nodes = self.expression(node.child_by_field_name("right"))
        if not _has_steps(nodes):
            return before
        test = _condition(left, self.source)
        if operator == "&&":
            branches = [{"condition": test, "nodes": nodes}]
        elif operator == "||":
            branches = [{"condition": test, "nodes": []}, {"condition": "else", "nodes": nodes}]
        else:
            branches = [{"condition": f"{test} == null", "nodes": nodes}]
        return [*before, _if(branches)]

    def call(self, node: TSNode) -> list[dict]:
        function = node.child_by_field_name("function")
        callee = _unwrap(function)
        if callee is not None and callee.type in _FUNCTION_TYPES:  # an IIFE
            return self.arguments(node, callbacks=False) + self.function_nodes(callee)
        path = self.resolve(member_path(function, self.source))
        if path and len(path) >= 2:
            method = _step_method(path)
            if method is not None:
                return [self.step(method, node)]
            if path[0] == "Promise" and len(path) == 2 and path[1] in PROMISE_COMBINATORS:
                return self.parallel(PARALLEL_KINDS[path[1]], node)
        if function is not None and function.type == "identifier":
            name = _text(function, self.source)
            helper = self.helpers.get(name)
            if helper is not None and (self.entry is None or helper.id != self.entry.id):
                return self.arguments(node, callbacks=False) + self.helper_call(name, node)
        if function is not None and function.type == "member_expression":
            prop = function.child_by_field_name("property")
            if prop is not None and _text(prop, self.source) in ITERATION_METHODS:
                return self.iteration(function, node)
        # Anything else: its receiver, its arguments, the callbacks it is given.
        out = self.expression(function) if function is not None else []
        return out + self.arguments(node, callbacks=True)

    def arguments(self, node: TSNode, *, callbacks: bool) -> list[dict]:
        """The steps in a call's arguments; with `callbacks`, those in the functions it is
        given too (`withTimeout(() => step.do(...))`), in place: they may well run now."""
        args = node.child_by_field_name("arguments")
        out: list[dict] = []
        for arg in args.named_children if args is not None else []:
            if arg.type in _FUNCTION_TYPES:
                if callbacks and self.mentions(arg):
                    out += self.function_nodes(arg)
            else:
                out += self.expression(arg)
        return out

    def iteration(self, function: TSNode, node: TSNode) -> list[dict]:
        """`items.map(async (item) => ...)` / `.forEach(helper)`: a loop over the callback."""
        out = self.expression(function.child_by_field_name("object"))
        inside: list[dict] = []
        args = node.child_by_field_name("arguments")
        for arg in args.named_children if args is not None else []:
            if arg.type in _FUNCTION_TYPES:
                inside += self.function_nodes(arg)
            elif arg.type == "identifier" and _text(arg, self.source) in self.helpers:
                inside += self.helper_call(_text(arg, self.source), arg)
            else:
                out += self.expression(arg)
        if _has_steps(inside):
            out.append({"type": "loop", "nodes": inside})
        return out

    def parallel(self, kind: str, node: TSNode) -> list[dict]:
        inside: list[dict] = []
        args = node.child_by_field_name("arguments")
        for arg in args.named_children if args is not None else []:
            value = _unwrap(arg)
            if value is not None and value.type == "array":
                for element in value.named_children:
                    branch = self.expression(element)
                    # A branch of several steps in a row (an async IIFE): one block.
                    inside += [{"type": "block", "nodes": branch}] if len(branch) > 1 else branch
            else:
                inside += self.expression(arg)
        if not _has_steps(inside):
            return inside
        return [{"type": "parallel", "kind": kind, "nodes": inside}]

    def helper_call(self, name: str, node: TSNode) -> list[dict]:
        """A call of a function declared in the file: a function_call node when its body
        (walked once, into `functions`) holds a step."""
        if name not in self.functions:
            self.functions[name] = None  # a recursive call finds it being walked
            self.bind_arguments(self.helpers[name], node)
            nodes = self.function_nodes(self.helpers[name])
            self.functions[name] = nodes if _has_steps(nodes, recursive_call=name) else []
        if self.functions[name] == []:
            return []
        return [{"type": "function_call", "name": name, **_lines(node)}]

    def bind_arguments(self, helper: TSNode, node: TSNode) -> None:
        """`charge(step, order)` / `charge(ctx, order)`: the helper's parameter in that place
        is the step object or the ctx, whatever it is called there."""
        if node.type != "call_expression":
            return
        params = helper.child_by_field_name("parameters")
        args = node.child_by_field_name("arguments")
        if params is None or args is None:
            return
        names = [p for p in params.named_children if p.type != "comment"]
        values = [a for a in args.named_children if a.type != "comment"]
        for param, arg in zip(names, values, strict=False):
            if param.type != "identifier":
                continue
            name = _text(param, self.source)
            path = self.resolve(member_path(arg, self.source))
            if path and _step_object(path):
                self.aliases[name] = ("fastn", "step")
            elif path and len(path) == 1 and self.is_context(path[0]):
                self.contexts.add(name)

    # -- the steps
    def step(self, method: str, node: TSNode) -> dict:
        args = _argument_list(node)
        out: dict = {"type": STEP_TYPES[method], "name": self.value(args[0]) if args else ""}
        if not isinstance(out["name"], str):
            out["name"] = _source(args[0], self.source)
        if method == "do":
            config = self.object_of(args[1]) if len(args) > 2 else None
            if config is not None:
                settings = self.fields(config, ("retries", "timeout"), nested="retries")
                if isinstance(settings.get("retries"), TSNode):
                    retries = settings["retries"]
                    settings["retries"] = self.fields(retries, ("limit", "delay", "backoff"))
                out["config"] = settings
            callback = args[-1] if len(args) > 1 else None
            out["nodes"] = self.callback_nodes(callback)
        elif method == "sleep":
            out["duration"] = self.value(args[1]) if len(args) > 1 else None
        elif method == "sleepUntil":
            out["timestamp"] = self.value(args[1]) if len(args) > 1 else None
        else:
            options = self.object_of(args[1]) if len(args) > 1 else None
            fields = self.fields(options, ("type", "timeout")) if options is not None else {}
            out["options"] = {
                ("event_type" if key == "type" else key): value for key, value in fields.items()
            }
        out.update(_lines(node))
        return out

    def callback_nodes(self, callback: TSNode | None) -> list[dict]:
        if callback is None:
            return []
        if callback.type in _FUNCTION_TYPES:
            return self.function_nodes(callback)
        if callback.type == "identifier" and _text(callback, self.source) in self.helpers:
            return self.helper_call(_text(callback, self.source), callback)
        return []

    def object_of(self, node: TSNode) -> TSNode | None:
        """An object literal, or the one a `const` names."""
        node = _unwrap(node)
        if node is not None and node.type == "identifier":
            node = self.objects.get(_text(node, self.source))
        return node if node is not None and node.type == "object" else None

    def fields(self, obj: TSNode, keys: tuple[str, ...], nested: str | None = None) -> dict:
        """The listed properties of an object literal, in the order of `keys`, as values;
        the `nested` one, when it is an object, as its node for a closer look."""
        found: dict = {}
        for pair in obj.named_children:
            if pair.type == "pair":
                key = pair.child_by_field_name("key")
                value = pair.child_by_field_name("value")
            elif pair.type == "shorthand_property_identifier":
                key = value = pair
            else:
                continue
            if key is None or value is None:
                continue
            name = _text(key, self.source).strip("'\"")
            if name in keys and name not in found:
                inner = self.object_of(value) if name == nested else None
                found[name] = inner if inner is not None else self.value(value)
        return {key: found[key] for key in keys if key in found}

    def value(self, node: TSNode | None):
        """A literal as its value (a number, a string, a template without `${}`, a boolean,
        null, a const bound to a string); anything else as its source text."""
        node = _unwrap(node)
        if node is None:
            return None
        if node.type == "number":
            return _number(_text(node, self.source))
        if node.type in ("true", "false"):
            return node.type == "true"
        if node.type == "null":
            return None
        if node.type == "unary_expression" and _text(node, self.source).startswith("-"):
            inner = node.named_children[-1] if node.named_children else None
            if inner is not None and inner.type == "number":
                number = _number(_text(inner, self.source))
                if not isinstance(number, str):
                    return -number
        text = literal_text(node, self.source, self.consts)
        if text is not None and "${…}" not in text:
            return text
        return _source(node, self.source)


# ---- small helpers -------------------------------------------------------------------------
def _step_method(path: tuple[str, ...]) -> str | None:
    """ "do" for `fastn.step.do` / `ctx.step.do` / `step.do` (after aliases), and so on."""
    if path[-1] in STEP_TYPES and _step_object(path[:-1]):
        return path[-1]
    return None


def _step_object(path: tuple[str, ...]) -> bool:
    return path in _STEP_OBJECTS


def _argument_list(call: TSNode) -> list[TSNode]:
    args = call.child_by_field_name("arguments")
    return [a for a in args.named_children if a.type != "comment"] if args is not None else []


def _lines(node: TSNode) -> dict:
    return {"starts": node.start_point[0] + 1, "resolves": node.end_point[0] + 1}


def _source(node: TSNode, source: bytes) -> str:
    return shorten(squeeze(_text(node, source)), TEXT_LIMIT)


def _condition(node: TSNode | None, source: bytes) -> str:
    if node is None:
        return ""
    if node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    return _source(node, source)


def _number(text: str):
    """A JS number literal's value: `1_000` -> 1000, `0x10` -> 16, `1e3` -> 1000, `1.5`."""
    clean = text.replace("_", "").rstrip("n")  # a BigInt's n too
    try:
        if clean[:2].lower() in ("0x", "0o", "0b"):
            return int(clean, 0)
        value = float(clean)
    except ValueError:
        return text
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _if(branches: list[dict]) -> dict:
    return {"type": "if", "branches": branches}


def _has_steps(nodes: list[dict], recursive_call: str | None = None) -> bool:
    """Whether a step or a helper call is among `nodes` or inside them (a helper's call of
    itself does not count: it holds steps only if the helper does)."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        kind = node["type"]
        if kind in _SIGNIFICANT and not (
            kind == "function_call" and node["name"] == recursive_call
        ):
            return True
        stack.extend(_children(node))
    return False


def _has_break(nodes: list[dict]) -> bool:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node["type"] == "break":
            return True
        if node["type"] != "loop":  # a break in a nested loop leaves that loop
            stack.extend(_children(node))
    return False


def _children(node: dict) -> list[dict]:
    out = list(node.get("nodes", ()))
    for branch in node.get("branches", ()):
        out += branch["nodes"]
    for key in ("try_block", "catch_block", "finally_block"):
        if key in node:
            out += node[key]["nodes"]
    return out


def _keeps(branches: list[dict], where: _Where) -> bool:
    """An if / switch / try is kept for a step in it, and inside a loop for a break too."""
    nodes = [n for branch in branches for n in branch["nodes"]]
    return _has_steps(nodes) or (where.loop and _has_break(nodes))
