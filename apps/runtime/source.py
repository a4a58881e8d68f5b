"""Turn a workflow module into a script V8 can run, keeping the user's line numbers.

mini-racer has no ES modules, so the module is rewritten with tree-sitter (which
tells `export default` in code from the same words in a string or comment) and
wrapped in an async function:

    __fastnRun("<ctx JSON>", {limits}, async function(){"use strict";let $$default;<user code>
    ;return $$default;})
    //# sourceURL=<slug>.js

Every edit replaces text with text of the same length on the same lines, so line
numbers in stacks are the user's, and so are columns everywhere except on line 1,
where the wrapper's prefix is subtracted again (`Script.prefix_length`). Wrapping in
an async function also gives modules' strict mode and top-level `await`.

Edits:
- `export default <expr>` -> `;$$default=<expr>` (padded with spaces);
- `export default function name() {}` / `class Name {}` -> the declaration, then
  `;$$default=name;` after it, so `name` stays bound for the rest of the module;
- `export { main as default }` -> blanked, `$$default=main;` runs after the module body;
- other `export` keywords and export lists -> blanked (a leading `;` keeps ASI safe);
- `import(...)` -> `$$impt(...)`, which rejects with a clear message;
- `import ... from`, `export ... from`, a second default export -> SYNTAX_ERROR
  without running anything.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from dataclasses import dataclass

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser, Query, QueryCursor

JS = Language(tree_sitter_javascript.language())
DEFAULT_VAR = "$$default"
IMPORT_FUNCTION = "$$impt"  # same length as `import`, defined by prelude.js
SCRIPT_SUFFIX = "\n;{tail}return $$default;}})\n//# sourceURL={name}"
_DYNAMIC_IMPORTS = Query(JS, "(call_expression function: (import) @import)")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_MODULES_HINT = "a workflow is a single file without modules; use the global `fastn` object"
_local = threading.local()


@dataclass(frozen=True)
class SourceError:
    """A problem found before running anything; line and column are 1-based."""

    code: str
    message: str
    line: int | None
    column: int | None


@dataclass(frozen=True)
class Prepared:
    body: str  # the rewritten module, line for line the same as the user's
    lines: tuple[str, ...]  # the user's lines, to map positions back
    has_default: bool
    tail: str  # statements that run after the module body (`export {x as default}`)
    parse_error: SourceError | None  # where tree-sitter saw the first error, if anywhere
    error: SourceError | None  # refuse to run at all


@dataclass(frozen=True)
class Script:
    text: str
    prefix_length: int  # characters before the user's first character on line 1
    name: str  # the sourceURL, e.g. "hello-world.js"


def _parser() -> Parser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = Parser(JS)
    return parser


def script_name(ctx: object) -> str:
    """`<workflow slug>.js` when ctx carries a slug, else `workflow.js`."""
    slug = None
    if isinstance(ctx, dict):
        workflow = ctx.get("workflow")
        if isinstance(workflow, dict) and isinstance(workflow.get("slug"), str):
            slug = _SAFE_NAME.sub("-", workflow["slug"]).strip("-.")[:100]
    return f"{slug or 'workflow'}.js"


def assemble(prepared: Prepared, ctx_json: str, limits_json: str, name: str) -> Script:
    # ctx travels as a JSON string for JSON.parse: as an object literal a "__proto__"
    # key in a webhook payload would set the prototype instead of a property.
    prefix = (
        f"__fastnRun({json.dumps(ctx_json)},{limits_json},"
        f'async function(){{"use strict";let {DEFAULT_VAR};'
    )
    suffix = SCRIPT_SUFFIX.format(tail=prepared.tail, name=name)
    return Script(text=prefix + prepared.body + suffix, prefix_length=len(prefix), name=name)


def _blank(text: str, keep: str = ";") -> str:
    """Spaces instead of `text`, newlines kept, starting with `keep` when it fits."""
    out = "".join(ch if ch in "\r\n" else " " for ch in text)
    if keep and len(out) >= len(keep) and not out.startswith(("\n", "\r")):
        out = keep + out[len(keep) :]
    return out


def _assignment(text: str) -> str:
    """`export default ` (and any comments inside it) -> `;$$default=` plus padding."""
    target = f";{DEFAULT_VAR}="
    blanked = _blank(text, keep="")
    segments = blanked.split("\n")
    for index in (0, len(segments) - 1):
        if len(segments[index]) >= len(target):
            segments[index] = target + segments[index][len(target) :]
            return "\n".join(segments)
    # No segment is long enough (`export\ndefault x`): accept a column shift there.
    segments[0] = target + segments[0]
    return "\n".join(segments)


def _point(code_lines: list[bytes], node: Node) -> tuple[int, int]:
    row, byte_column = node.start_point
    line = code_lines[row] if row < len(code_lines) else b""
    return row + 1, len(line[:byte_column].decode("utf-8", "replace")) + 1


def _first_problem(node: Node) -> Node | None:
    if node.is_missing or node.type == "ERROR":
        return node
    if not node.has_error:
        return None
    for child in node.children:
        found = _first_problem(child)
        if found is not None:
            return found
    return node


def _parse_error(code_lines: list[bytes], node: Node) -> SourceError:
    line, column = _point(code_lines, node)
    if node.is_missing:
        message = f"SyntaxError: Missing {node.type!r}"
    else:
        snippet = (
            node.text.decode("utf-8", "replace").strip().split("\n")[0][:40] if node.text else ""
        )
        message = (
            f"SyntaxError: Unexpected {snippet!r}" if snippet else "SyntaxError: Invalid syntax"
        )
    return SourceError("SYNTAX_ERROR", message, line, column)


def _refuse(code_lines: list[bytes], node: Node, what: str) -> SourceError:
    line, column = _point(code_lines, node)
    return SourceError(
        "SYNTAX_ERROR",
        f"SyntaxError: {what} at line {line}, column {column}",
        line,
        column,
    )


@functools.lru_cache(maxsize=256)
def prepare(code: str) -> Prepared:
    source = code.encode("utf-8")
    tree = _parser().parse(source)
    root = tree.root_node
    code_lines = source.split(b"\n")
    user_lines = tuple(code.split("\n"))
    parse_error = None
    if root.has_error:
        problem = _first_problem(root)
        if problem is not None:
            parse_error = _parse_error(code_lines, problem)

    edits: list[tuple[int, int, bytes]] = []
    defaults = 0
    tail = ""

    def text(start: int, end: int) -> str:
        return source[start:end].decode("utf-8")

    def refuse(node: Node, what: str) -> Prepared:
        error = _refuse(code_lines, node, what)
        return Prepared(code, user_lines, False, "", parse_error, error)

    for node in root.named_children:
        if node.type == "import_statement":
            return refuse(node, f"Import declarations are not supported: {_MODULES_HINT}")
        if node.type != "export_statement":
            continue
        if node.child_by_field_name("source") is not None:
            return refuse(node, f"Re-exports from other modules are not supported: {_MODULES_HINT}")
        is_default = any(child.type == "default" for child in node.children)
        declaration = node.child_by_field_name("declaration")
        value = node.child_by_field_name("value")
        if is_default:
            defaults += 1
            if defaults > 1:
                return refuse(node, "Duplicate export of 'default'")
            if declaration is not None:
                edits.append((node.start_byte, declaration.start_byte, b""))
                name = declaration.child_by_field_name("name")
                if name is not None:
                    bound = f";{DEFAULT_VAR}={text(name.start_byte, name.end_byte)};"
                    edits.append((declaration.end_byte, declaration.end_byte, bound.encode()))
            elif value is not None:
                span = text(node.start_byte, value.start_byte)
                edits.append((node.start_byte, value.start_byte, _assignment(span).encode()))
                if not source[node.start_byte : node.end_byte].rstrip().endswith(b";"):
                    edits.append((node.end_byte, node.end_byte, b";"))
            continue
        if declaration is not None:
            edits.append((node.start_byte, declaration.start_byte, b""))
            continue
        for clause in node.named_children:
            if clause.type != "export_clause":
                continue
            for spec in clause.named_children:
                if spec.type != "export_specifier":
                    continue
                alias = spec.child_by_field_name("alias")
                local = spec.child_by_field_name("name")
                if alias is not None and alias.type == "default" and local is not None:
                    defaults += 1
                    if defaults > 1:
                        return refuse(spec, "Duplicate export of 'default'")
                    tail = f"{DEFAULT_VAR}={text(local.start_byte, local.end_byte)};"
        edits.append((node.start_byte, node.end_byte, b""))

    for node in QueryCursor(_DYNAMIC_IMPORTS).captures(root).get("import", []):
        edits.append((node.start_byte, node.end_byte, IMPORT_FUNCTION.encode()))

    body = source
    for start, end, replacement in sorted(edits, reverse=True):
        # An empty replacement over a span means "blank it, keeping newlines".
        new = replacement if replacement or start == end else _blank(text(start, end)).encode()
        body = body[:start] + new + body[end:]
    return Prepared(
        body=body.decode("utf-8"),
        lines=user_lines,
        has_default=defaults > 0,
        tail=tail,
        parse_error=parse_error,
        error=None,
    )


def code_hash(code: str) -> str:
    """What identifies a piece of workflow code: drawings, docs and test results are kept by it."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()
