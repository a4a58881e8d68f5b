"""The module-to-script rewrite: what it changes, and that positions survive it."""

from __future__ import annotations

import json

import pytest

from apps.runtime.source import assemble, prepare, script_name

MODULES = [
    "export default async function (ctx) {\n  return 1;\n}\n",
    "export default async function named(ctx) { return 1 }",
    "export default async (ctx) => 1",
    "async function main() {}\nexport default main",
    "const run = () => 1\nexport { run as default }\n(() => 2)()",
    "export const a = 1\nexport function f() {}\nexport class K {}\nexport default () => [a, f, K]",
    "export /* a comment */ default\n  async () => 1",
    "const m = await import('x')\nexport default () => m",
    "const s = `export default ${1}`;\n// export default 2\nexport default () => s;",
    "export default class Thing {}",
]


@pytest.mark.parametrize("code", MODULES)
def test_lines_and_columns_are_kept(code):
    prepared = prepare(code)
    assert prepared.error is None and prepared.has_default
    body_lines = prepared.body.split("\n")
    user_lines = code.split("\n")
    assert len(body_lines) == len(user_lines)
    for ours, theirs in zip(body_lines, user_lines, strict=True):
        # Only export keywords are replaced or appended to; what follows them stays put.
        stripped = theirs.replace("export", "").replace("default", "").replace("import", "")
        assert len(ours) >= len(theirs) or not stripped.strip(), (ours, theirs)


def test_default_export_becomes_an_assignment_of_the_same_length():
    prepared = prepare("export default async (ctx) => ctx;")
    assert prepared.body.startswith(";$$default=    async (ctx) => ctx;")
    assert prepared.body.index("async") == "export default async (ctx) => ctx;".index("async")


def test_named_declaration_stays_bound():
    prepared = prepare("export default function go() { return 1 }\nconst again = go;")
    assert "function go() { return 1 };$$default=go;" in prepared.body
    assert prepared.body.split("\n")[1] == "const again = go;"


def test_export_clause_default_is_assigned_after_the_body():
    prepared = prepare("export { main as default }\nfunction main() {}")
    assert prepared.tail == "$$default=main;"
    assert "export" not in prepared.body


def test_exports_inside_strings_and_comments_are_left_alone():
    code = "const s = 'export default 1';\n/* export default 2 */\nexport default () => s;"
    body = prepare(code).body
    assert "'export default 1'" in body and "/* export default 2 */" in body


def test_dynamic_import_is_redirected_with_the_same_length():
    body = prepare("export default async () => import('x');").body
    assert "$$impt('x')" in body
    assert len(body) == len("export default async () => import('x');")


@pytest.mark.parametrize(
    ("code", "message", "line", "column"),
    [
        ("import x from 'y'\nexport default x", "Import declarations are not supported", 1, 1),
        (
            "export default 1;\n  export * from 'z'",
            "Re-exports from other modules are not supported",
            2,
            3,
        ),
        ("export default 1\nexport default 2", "Duplicate export of 'default'", 2, 1),
        (
            "const a = 1;\nexport { a as default, a as default }",
            "Duplicate export of 'default'",
            2,
            24,
        ),
    ],
)
def test_refused_modules(code, message, line, column):
    error = prepare(code).error
    assert error is not None
    assert error.code == "SYNTAX_ERROR"
    assert message in error.message
    assert (error.line, error.column) == (line, column)
    assert error.message.endswith(f"at line {line}, column {column}")


def test_columns_count_characters_not_bytes():
    error = prepare("const é = 'ü';\n  const ü = 1; import x from 'y'").error
    assert (error.line, error.column) == (2, 16)  # 17 if "ü" counted as its two bytes


def test_tree_sitter_position_is_kept_for_broken_code():
    prepared = prepare("export default async () => {\n  if (x {\n}\n")
    assert prepared.parse_error is not None
    assert prepared.parse_error.line == 2


def test_script_wraps_the_body_and_carries_ctx_as_a_json_string():
    prepared = prepare("export default async (ctx) => ctx;")
    script = assemble(prepared, json.dumps({"__proto__": {"x": 1}}), "{}", "flow.js")
    first_line = script.text.split("\n")[0]
    assert first_line[script.prefix_length :] == prepared.body.split("\n")[0]
    assert '"{\\"__proto__\\": {\\"x\\": 1}}"' in first_line
    assert script.text.endswith("//# sourceURL=flow.js")


@pytest.mark.parametrize(
    ("ctx", "name"),
    [
        ({"workflow": {"slug": "hello-world"}}, "hello-world.js"),
        ({"workflow": {"slug": "../../etc/passwd"}}, "etc-passwd.js"),
        ({"workflow": {"slug": 3}}, "workflow.js"),
        ({}, "workflow.js"),
    ],
)
def test_script_name(ctx, name):
    assert script_name(ctx) == name
