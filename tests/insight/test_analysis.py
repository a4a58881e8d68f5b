"""analyze(): the facts the Docs view is generated from."""

from __future__ import annotations

import pytest

from apps.insight.analysis import (
    ActionUse,
    Field,
    HttpUse,
    OutputShape,
    ParseFailure,
    TableUse,
    analyze,
)
from tests.insight.corpus_format import CORPUS


def corpus(name: str) -> str:
    return (CORPUS / f"{name}.js").read_text()


def test_the_dedupe_sample():
    a = analyze(corpus("demo_dedupe_lead"))
    assert a.purpose == (
        "A lookup with deduplication: processes each lead once, remembering the emails it has "
        "seen in fastn.state (ORG scope: shared by every run of this workflow) for 30 days. "
        'Run it twice in the Test tab with {"email": "ada@example.com"}.'
    )
    assert a.inputs == [Field("email", (7,))]
    assert a.state_keys == [Field("lead:${…}", (13, 20))]
    assert a.connectors == [] and a.secrets == [] and a.tables == []
    assert a.outputs == [
        OutputShape(
            16,
            {
                "email": "unknown",
                "skipped": "boolean",
                "reason": "string",
                "firstSeenAt": "unknown",
            },
        ),
        OutputShape(22, {"email": "unknown", "skipped": "boolean", "...record": "spread"}),
    ]


def test_inputs_through_destructuring_aliases_and_parameters():
    code = """// Orders in, totals out.
export default async function ({ input: { customer: { id }, items = [] }, headers }) {
  const total = items.reduce((n, i) => n + i.price, 0);
  return { id, total: Number(total), agent: headers["user-agent"], n: items.length };
}
"""
    a = analyze(code)
    assert a.purpose == "Orders in, totals out."
    assert a.inputs == [Field("customer.id", (2, 4)), Field("items", (2, 3, 4))]
    assert a.headers == [Field("user-agent", (4,))]
    assert a.outputs == [
        OutputShape(4, {"id": "input", "total": "number", "agent": "header", "n": "number"})
    ]


def test_ctx_input_chains_and_method_calls():
    code = """export default async function (context) {
  const body = context.input;
  const name = body.customer?.name.trim();
  const first = context.input.lines[0].sku;
  const tag = context.input["x-tag"];
  const { input } = context;
  if (input.order.total > 100) return "big";
  return input.order.currency ?? "EUR";
}
"""
    a = analyze(code)
    assert a.inputs == [
        Field("customer.name", (3,)),
        Field("lines[0].sku", (4,)),
        Field("x-tag", (5,)),
        Field("order.total", (7,)),
        Field("order.currency", (8,)),
    ]
    assert a.outputs == [OutputShape(7, "string"), OutputShape(8, "string")]


def test_connectors_secrets_configs_state_tables_and_http():
    code = """const shop = fastn.connector.shopify;
export default async function (ctx) {
  const token = await fastn.secrets.get("SHOPIFY_TOKEN");
  const base = await fastn.envConfig.get("API_BASE");
  const orders = await shop.listOrders({ token });
  await fastn.connectors.slack.postMessage({ text: "x" });
  await fastn.connector.slack.postMessage({ text: "y" });
  await fastn.state.set(`seen:${ctx.input.id}`, true);
  await fastn.state.get(ctx.input.key);
  await fastn.db.query("SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id");
  await fastn.db.query("INSERT INTO orders (id) VALUES ($1)", [1]);
  await fastn.db.query("CREATE INDEX IF NOT EXISTS orders_id ON orders (id)");
  await fastn.connector.http.request({ method: "post", url: `${base}/hooks` });
  await fastn.connector.http.request({ url: "https://example.com/a" });
  return orders;
}
"""
    a = analyze(code, action_kind=lambda slug, action: "write" if slug == "slack" else None)
    assert a.secrets == [Field("SHOPIFY_TOKEN", (3,))]
    assert a.configs == [Field("API_BASE", (4,))]
    assert a.connectors == [
        ActionUse("shopify", "listOrders", (5,), "READ"),
        ActionUse("slack", "postMessage", (6, 7), "WRITE"),
        ActionUse("http", "request", (13, 14), "WRITE"),
    ]
    assert a.state_keys == [Field("seen:${…}", (8,)), Field("${ctx.input.key}", (9,))]
    assert a.tables == [
        TableUse("orders", ("SELECT", "INSERT"), (10, 11)),
        TableUse("customers", ("SELECT",), (10,)),
    ]
    assert a.http == [
        HttpUse("POST", "${…}/hooks", 13),
        HttpUse("GET", "https://example.com/a", 14),
    ]
    assert a.inputs == [Field("id", (8,)), Field("key", (9,))]


def test_purpose_is_the_comment_above_the_export_when_the_file_starts_with_code():
    code = """const LIMIT = 5;

/**
 * Sends the weekly digest.
 *
 * Runs on Mondays.
 */
export default async function (ctx) {}
"""
    assert analyze(code).purpose == "Sends the weekly digest.\n\nRuns on Mondays."
    assert analyze("export default async function (ctx) {}").purpose == ""


def test_returns_of_callbacks_and_helpers_are_not_outputs():
    code = """function helper() { return 1; }
export default async (ctx) => [1, 2].map((x) => { return x * 2; });
"""
    assert analyze(code).outputs == [OutputShape(2, "array")]


def test_every_corpus_workflow_is_analysed():
    for path in sorted(CORPUS.glob("*.js")):
        analyze(path.read_text())


def test_a_syntax_error_raises_the_graphs_parse_failure():
    with pytest.raises(ParseFailure) as caught:
        analyze("export default async function (ctx) {\n  return {;\n}")
    assert caught.value.line == 2


def test_deep_expressions_are_read_without_recursion():
    code = "export default async function (ctx) { return " + "ctx.input.a + " * 3000 + "1; }"
    a = analyze(code)
    assert a.inputs == [Field("a", (1,))]
    assert a.outputs == [OutputShape(1, "unknown")]
