"""`manage.py runworkflow FILE.js`: one JSON document on stdout, exit 0 only when completed."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from apps.secrets.services import secret_create
from apps.spaces.audit import Actor
from apps.spaces.services import customer_create

pytestmark = pytest.mark.django_db(transaction=True)


def run(path, *args) -> tuple[int, dict]:
    out = io.StringIO()
    try:
        call_command("runworkflow", str(path), *args, stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, json.loads(out.getvalue())


def write(tmp_path, code: str, name: str = "flow.js"):
    path = tmp_path / name
    path.write_text(code)
    return path


def test_completed_run_prints_the_document_and_exits_0(tmp_path):
    path = write(tmp_path, "export default async (ctx) => { console.log('hi'); return ctx.input }")
    code, doc = run(path, "--input", '{"a": 1}', "--headers", '{"x-k": "v"}')
    assert code == 0
    assert set(doc) == {"status", "output", "error", "logs", "steps", "durationMs"}
    assert doc["status"] == "completed" and doc["output"] == {"a": 1} and doc["error"] is None
    assert doc["logs"][0]["message"] == "hi"


def test_headers_lose_their_credentials_as_the_api_does(tmp_path):
    from apps.executions.headers import CREDENTIAL_HEADERS

    path = write(tmp_path, "export default async (ctx) => ctx.headers")
    given = {name.title(): "secret-value" for name in CREDENTIAL_HEADERS}
    given |= {"X-Trace": "t-1", "Content-Type": "application/json"}
    err = io.StringIO()
    out = io.StringIO()
    call_command("runworkflow", str(path), "--headers", json.dumps(given), stdout=out, stderr=err)
    doc = json.loads(out.getvalue())
    assert doc["output"] == {"x-trace": "t-1", "content-type": "application/json"}
    assert "secret-value" not in out.getvalue()
    assert "Left out of ctx.headers, as in production: authorization, cookie" in err.getvalue()


def test_the_api_and_runworkflow_share_one_list(rf):
    from apps.api.execute import forwarded_headers

    request = rf.post("/api/v1/x", HTTP_AUTHORIZATION="Bearer k", HTTP_X_FASTN_KEY="wk",
                      HTTP_COOKIE="s=1", HTTP_X_TRACE="t")  # fmt: skip
    assert "x-trace" in forwarded_headers(request)
    assert not {"authorization", "x-fastn-key", "cookie"} & set(forwarded_headers(request))


def test_a_function_result_fails_with_a_clear_message(tmp_path):
    path = write(tmp_path, "export default async () => ({ ok: 1, handler: () => 2 })")
    code, doc = run(path)
    assert code == 1
    assert doc["status"] == "failed" and doc["output"] is None
    assert doc["error"]["code"] == "NOT_SERIALIZABLE"
    assert doc["error"]["message"].startswith(
        "output.handler is a function, which is not JSON-serialisable"
    )


def test_syntax_error_exits_1_with_line_and_column(tmp_path):
    path = write(tmp_path, "export default async (ctx) => {\n  return {a: }\n}\n")
    code, doc = run(path)
    assert code == 1
    assert doc["status"] == "failed"
    assert doc["error"]["code"] == "SYNTAX_ERROR" and doc["error"]["line"] == 2
    assert set(doc["error"]) == {"code", "message", "line", "column", "stack"}


def test_timeout_exits_1(tmp_path):
    path = write(tmp_path, "export default async () => { await null; while (true) {} }")
    code, doc = run(path, "--timeout", "0.5")
    assert code == 1 and doc["status"] == "timeout"


def test_space_and_tenant_give_secrets_and_state(tmp_path, cast):
    customer = customer_create(cast.space, name="A", external_id="acme-1", actor=Actor.system())
    secret_create(
        cast.space, name="API_TOKEN", type="json", value='{"k": "very-secret-value"}',
        customer=customer, actor=Actor.system(),
    )  # fmt: skip
    path = write(
        tmp_path,
        """export default async (ctx) => {
          const t = await fastn.secrets.get("API_TOKEN");
          const n = ((await fastn.state.get("n")) ?? 0) + 1;
          await fastn.state.set("n", n);
          return { k: t.k, n, tenant: ctx.tenant };
        }""",
    )
    args = ("--space", cast.space.slug, "--tenant", "acme-1")
    assert run(path, *args)[1]["output"] == {"k": "[REDACTED]", "n": 1, "tenant": "acme-1"}
    assert run(path, *args)[1]["output"]["n"] == 2


def test_without_space_state_explains(tmp_path):
    path = write(tmp_path, 'export default () => fastn.state.get("x")')
    code, doc = run(path)
    assert code == 1 and "--space" in doc["error"]["message"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--input", "{bad"), "--input is not valid JSON"),
        (("--headers", "[1]"), "--headers must be a JSON object"),
        (("--space", "nope"), "No Space with the slug"),
        (("--tenant", "x"), "--tenant needs --space"),
        (("--timeout", "0"), "--timeout must be between"),
    ],
)
def test_bad_arguments_are_clear_errors(tmp_path, db, args, message):
    path = write(tmp_path, "export default () => 1")
    with pytest.raises(CommandError, match=message):
        call_command("runworkflow", str(path), *args, stdout=io.StringIO())


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("runworkflow", str(tmp_path / "none.js"), stdout=io.StringIO())
