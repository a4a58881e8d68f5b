"""The Docs view: a preview of the editor's code, generated docs kept with their code hash,
"out of date" after the code changes, the Markdown download, roles and Space isolation."""

from __future__ import annotations

import pytest

from apps.insight.models import GeneratedDoc
from apps.spaces.models import AuditEvent
from apps.triggers.models import Route, Trigger
from tests.conftest import login
from tests.insight.helpers import make_workflow, post_tab, tab_url

pytestmark = pytest.mark.django_db

SHOP_CODE = """\
/**
 * Copies paid Shopify orders into the ledger
 * and tells the team on Slack.
 */
export default async function (ctx) {
  const { orderId, customer } = ctx.input;
  const version = ctx.headers["x-api-version"];
  const token = await fastn.secrets.get("LEDGER_TOKEN");
  const region = await fastn.envConfig.get("REGION");
  const order = await fastn.connector.shopify.getOrder({ id: orderId });
  await fastn.db.query("INSERT INTO ledger (id, total) VALUES ($1, $2)", [orderId, order.total]);
  await fastn.connector.http.request({ method: "POST", url: "https://hooks.example.com/paid" });
  await fastn.connector.acme.frobnicate({ customer });
  await fastn.state.set(`order:${orderId}`, true);
  return { ok: true, count: 1, version, region, token: !!token };
}
"""


def generate(client, workflow, code=None):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {}
    if code is not None:
        data["code"] = SimpleUploadedFile("workflow.js", code.encode(), "text/javascript")
    return client.post(tab_url(workflow, "insight_docs_generate"), data, HTTP_HX_REQUEST="true")


def test_docs_preview_the_editor_code_before_anything_is_generated(client, cast):
    workflow = make_workflow(cast.space, cast.owner, code=SHOP_CODE, description="Ledger sync")
    hook = Trigger.objects.create(space=cast.space, kind="webhook", name="Paid orders")
    Route.objects.create(trigger=hook, workflow=workflow, environment="live")
    login(client, cast.developer)
    body = post_tab(client, workflow, view="docs").content.decode()
    assert "Preview of the code in the editor: not saved yet." in body
    assert "Copies paid Shopify orders into the ledger and tells the team on Slack." in body
    assert "Paid orders" in body
    for name in ("orderId", "customer", "x-api-version", "LEDGER_TOKEN", "REGION", "ledger"):
        assert f"<code>{name}</code>" in body, name
    assert "order:${…}" in body  # a template-literal state key
    # Access: the catalog's metadata, the HTTP method, or a guess that says so.
    assert "Shopify" in body and 'badge-info">READ</span>' in body
    assert "https://hooks.example.com/paid" in body and "by HTTP method" in body
    assert "frobnicate" in body and "guessed from the name" in body
    assert "Tier: Instant · Timeout: 60 s · Retry: off" in body
    assert "insight-download" not in body  # nothing stored to download yet
    assert not GeneratedDoc.objects.exists()


def test_generated_docs_are_kept_downloadable_and_marked_out_of_date(client, cast):
    workflow = make_workflow(cast.space, cast.owner, code=SHOP_CODE)
    login(client, cast.developer)
    response = generate(client, workflow, SHOP_CODE)
    assert response.status_code == 200
    assert "Docs generated." in response.headers["HX-Trigger"]
    doc = GeneratedDoc.objects.get(workflow=workflow)
    assert doc.space == cast.space and doc.source_label == "draft"
    assert AuditEvent.objects.filter(action="workflow.docs_generate", space=cast.space).exists()
    body = response.content.decode()
    assert "Generated" in body and "from draft by developer@example.com" in body
    assert "Out of date" not in body and "Download Markdown" in body

    markdown = client.get(tab_url(workflow, "insight_docs_markdown"))
    assert markdown.status_code == 200
    assert markdown["Content-Type"].startswith("text/markdown")
    assert markdown["Content-Disposition"] == 'attachment; filename="orders.md"'
    text = markdown.content.decode()
    assert text.startswith("# Orders\n")
    assert "| `orderId` | 6, 10, 11, 14 |" in text  # where it is read and where it is used
    assert "| shopify | `getOrder` — " in text
    assert "| `ledger` | INSERT | 11 |" in text
    assert "`ok`: boolean" in text and f"code sha256 {doc.code_hash[:12]}" in text

    edited = SHOP_CODE.replace("count: 1", "count: 2")
    stale = post_tab(client, workflow, edited, view="docs").content.decode()
    assert "Out of date" in stale and "Regenerate docs" in stale
    assert "Out of date" not in post_tab(client, workflow, SHOP_CODE, view="docs").content.decode()
    generate(client, workflow, edited)
    assert GeneratedDoc.objects.count() == 1
    doc.refresh_from_db()
    assert doc.source_label == "unsaved edits"
    assert "Out of date" not in post_tab(client, workflow, edited, view="docs").content.decode()


def test_generating_unparsable_code_stores_nothing_and_says_where(client, cast):
    workflow = make_workflow(cast.space, cast.owner)
    login(client, cast.developer)
    response = generate(client, workflow, "export default () => {\n  return (;\n}\n")
    assert response.status_code == 400
    assert "line 2" in response.content.decode()
    assert "Not generated" in response.headers["HX-Trigger"]
    assert not GeneratedDoc.objects.exists()


def test_viewers_read_docs_but_cannot_generate_them(client, cast):
    workflow = make_workflow(cast.space, cast.owner, code=SHOP_CODE)
    login(client, cast.developer)
    generate(client, workflow)
    login(client, cast.viewer)
    body = post_tab(client, workflow, view="docs").content.decode()
    assert "Download Markdown" in body and "insight-generate" not in body
    assert generate(client, workflow).status_code == 403
    assert client.get(tab_url(workflow, "insight_docs_markdown")).status_code == 200


def test_markdown_before_any_generation_describes_the_saved_draft(client, cast):
    workflow = make_workflow(cast.space, cast.owner, code=SHOP_CODE)
    login(client, cast.viewer)
    response = client.get(tab_url(workflow, "insight_docs_markdown"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "| `orderId` | 6, 10, 11, 14 |" in text and "from the saved draft" in text
    assert not GeneratedDoc.objects.exists()  # made for the download, not kept
    broken = make_workflow(cast.space, cast.owner, code="export default () => {", name="Broken")
    assert client.get(tab_url(broken, "insight_docs_markdown")).status_code == 404


def test_another_spaces_docs_stay_out_of_reach(client, cast):
    theirs = make_workflow(cast.other_space, cast.outsider, code=SHOP_CODE)
    login(client, cast.outsider)
    generate(client, theirs)
    assert GeneratedDoc.objects.filter(workflow=theirs).exists()
    client.logout()
    login(client, cast.owner)
    assert client.get(tab_url(theirs, "insight_docs_markdown")).status_code == 404
    assert generate(client, theirs).status_code == 404
    assert post_tab(client, theirs, view="docs").status_code == 404


DURABLE_CODE = """\
export default async function run(event, step) {
  const order = await step.do("load order", { retries: { limit: 2, delay: "1 second" } },
    async () => ({ id: event.input.id }));
  await step.sleep("cool off", "1 day");
  const ok = await event.step.waitForEvent("approval", { type: "approved", timeout: "7 days" });
  return { order, ok };
}
"""


def test_docs_of_a_durable_workflow_list_its_steps_and_the_replay_rule(client, cast):
    workflow = make_workflow(cast.space, cast.owner, code=DURABLE_CODE)
    login(client, cast.viewer)
    body = post_tab(client, workflow, view="docs").content.decode()
    assert "Durable steps" in body
    assert "code outside steps — fastn.* calls included — runs again on every replay" in body
    for kind, name in (("step.do", "load order"), ("step.sleep", "cool off"),
                       ("step.waitForEvent", "approval")):  # fmt: skip
        assert f"<code>{kind}</code> <strong>{name}</strong>" in body
    assert "event approved, timeout 7 days" in body and "for 1 day" in body
    text = client.get(tab_url(workflow, "insight_docs_markdown")).content.decode()
    assert "## Durable steps" in text and "runs again on every replay" in text
    assert "| step.sleep | `cool off` | for 1 day | 4 |" in text
    plain = make_workflow(cast.space, cast.owner, code=SHOP_CODE, name="Plain")
    assert "Durable steps" not in post_tab(client, plain, view="docs").content.decode()
