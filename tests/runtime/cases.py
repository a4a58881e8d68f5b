"""The runtime conformance table: small workflow programs and what they must produce.

Importable on purpose: a database-backed Host can run the same table with
`run_case(case, host)` + `assert_case(case, result, host)`. A case describes the
host data it needs in `HostSetup` (secrets, configs, state, db answers, connector
answers), and its extra checks only use the `Host` protocol, never a particular
implementation.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from apps.runtime import Host, Limits, RunResult, run_workflow

DEFAULT_CTX: dict[str, Any] = {
    "input": {"name": "Ada", "n": 41, "items": [1, 2, 3]},
    "headers": {"content-type": "application/json", "x-request-id": "req-1"},
    "execution": {"id": "exec-1", "attempt": 1},
    "workflow": {"slug": "conformance", "version": 3},
    "tier": "instant",
    "trigger": {"type": "manual"},
    "tenant": None,
}

# Secrets with characters that make their encodings differ from the value.
API_TOKEN = "sk_live_51Hx+Q/z=9Kp"
DB_PASSWORD = 'hunter2"quote\\back'
SERVICE_ACCOUNT = {"client_id": "svc-123456", "private_key": "pk_9f8e7d6c5b4a"}
SECRETS = {
    "API_TOKEN": ("text", API_TOKEN),
    "DB_PASSWORD": ("text", DB_PASSWORD),
    "SERVICE_ACCOUNT": ("json", json.dumps(SERVICE_ACCOUNT)),
}


@dataclass(frozen=True)
class HostError_:
    """A connector or db answer that makes the host raise HostError."""

    code: str
    message: str
    permanent: bool = True


@dataclass(frozen=True)
class HostSetup:
    secrets: dict[str, tuple[str, str]] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
    state: dict[tuple[str, str], Any] = field(default_factory=dict)  # (scope, key) -> value
    db: dict[str, Any] = field(default_factory=dict)  # exact SQL -> {"rows", "rowCount"}
    connectors: dict[str, Any] = field(default_factory=dict)  # "slug.action" -> answer


class _Unchecked:
    def __repr__(self) -> str:
        return "UNCHECKED"


UNCHECKED: Any = _Unchecked()


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    status: str = "completed"
    output: Any = UNCHECKED
    error: str | None = None  # expected error code
    message: str | None = None  # must appear in the error message
    line: int | None = None
    column: int | None = None
    logs: tuple[tuple[str, str], ...] | None = None  # exact (level, message) entries
    log_fragments: tuple[str, ...] = ()  # each must appear in some log message
    absent: tuple[str, ...] = ()  # must appear nowhere in the result (secrets)
    ctx: dict[str, Any] | None = None
    host: HostSetup = HostSetup()
    limits: dict[str, Any] = field(default_factory=dict)
    before: tuple[str, ...] = ()  # programs run first, on the same host
    check: Callable[[RunResult, Host], None] | None = None
    retryable: bool | None = None
    slow: bool = False  # a limit case (timeouts, memory): seconds, not milliseconds


def js(code: str) -> str:
    """A program written as an indented block in this file."""
    return textwrap.dedent(code).lstrip("\n")


def run_case(case: Case, host: Host) -> RunResult:
    ctx = DEFAULT_CTX if case.ctx is None else case.ctx
    limits = Limits(**case.limits)
    for program in case.before:
        run_workflow(program, ctx, host, limits)
    return run_workflow(case.code, ctx, host, limits)


def all_strings(value: Any) -> list[str]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*all_strings(k), *all_strings(v))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in all_strings(item)]
    return []


def assert_case(case: Case, result: RunResult, host: Host) -> None:
    described = json.dumps(dataclasses.asdict(result), default=str)[:3000]
    assert result.status == case.status, described
    if case.output is not UNCHECKED:
        assert result.output == case.output, described
    if case.status == "completed":
        assert result.error is None, described
    else:
        assert result.output is None, described
        assert result.error is not None, described
        assert set(result.error) == {"code", "message", "line", "column", "stack"}, described
        assert "Traceback" not in result.error["message"], described
    if case.error is not None:
        assert result.error["code"] == case.error, described
    if case.message is not None:
        assert case.message in result.error["message"], described
    if case.line is not None:
        assert result.error["line"] == case.line, described
    if case.column is not None:
        assert result.error["column"] == case.column, described
    if case.logs is not None:
        assert [(entry["level"], entry["message"]) for entry in result.logs] == list(case.logs), (
            described
        )
    for fragment in case.log_fragments:
        assert any(fragment in entry["message"] for entry in result.logs), (fragment, described)
    for entry in result.logs:
        assert set(entry) == {"level", "message", "time"}
    strings = all_strings(result)
    for secret in case.absent:
        leaks = [s for s in strings if secret in s]
        assert not leaks, (secret, leaks)
    if case.retryable is not None:
        assert result.retryable is case.retryable, described
    if case.check is not None:
        case.check(result, host)


# ---- checks that need more than equality ---------------------------------------------------
def _steps(result: RunResult) -> list[tuple[str, str]]:
    return [(step["kind"], step["name"]) for step in result.steps]


def _check_cut_path(result: RunResult) -> None:
    path = result.error["message"].partition(" is a function")[0]
    assert path.startswith("….level.level") and len(path) <= 300, path


def _check_state_persisted(result: RunResult, host: Host) -> None:
    assert host.state_get("greeting", scope="ORG") == {"hello": "world"}
    assert host.state_get("greeting", scope="INVOCATION") is None
    assert _steps(result) == [("state", "state.set"), ("state", "state.get")]


def _check_scopes(result: RunResult, host: Host) -> None:
    assert host.state_get("k", scope="ORG") == "org value"
    assert host.state_get("k", scope="INVOCATION") == "invocation value"
    scopes = [step["args"]["scope"] for step in result.steps]
    assert scopes == ["ORG", "INVOCATION", "ORG", "INVOCATION"]


def _check_ttl(result: RunResult, host: Host) -> None:
    ttls = [step["args"]["ttl"] for step in result.steps]
    assert ttls == [60, 2, None]


def _check_deleted(result: RunResult, host: Host) -> None:
    assert host.state_get("temp", scope="ORG") is None
    assert _steps(result) == [
        ("state", "state.set"),
        ("state", "state.delete"),
        ("state", "state.get"),
    ]


def _check_counter(result: RunResult, host: Host) -> None:
    assert host.state_get("counter", scope="ORG") == 42


def _check_atomic_steps(result: RunResult, host: Host) -> None:
    assert [(step["name"], step["args"], step["result"]) for step in result.steps] == [
        ("state.incr", {"key": "n", "by": 2, "scope": "ORG", "ttl": 10}, 2),
        (
            "state.setIfAbsent",
            {"key": "once", "value": "x", "scope": "INVOCATION", "ttl": None},
            True,
        ),
        (
            "state.compareAndSet",
            {"key": "once", "expected": "x", "value": "y", "scope": "INVOCATION", "ttl": None},
            True,
        ),
    ]
    assert host.state_get("once", scope="INVOCATION") == "y"


def _check_secret_step(result: RunResult, host: Host) -> None:
    (step,) = result.steps
    assert step["kind"] == "secrets" and step["name"] == "secrets.get"
    assert step["args"] == {"name": "API_TOKEN"}
    assert step["result"] == "[REDACTED]"


def _check_missing_secret_step(result: RunResult, host: Host) -> None:
    (step,) = result.steps
    assert step["error"]["code"] == "SECRET_NOT_FOUND"
    assert step["result"] is None


def _check_redacted_everywhere(result: RunResult, host: Host) -> None:
    assert result.output["plain"] == "[REDACTED]"
    assert "[REDACTED]" in result.output["sentence"]
    assert all("[REDACTED]" in entry["message"] for entry in result.logs)


def _check_redacted_steps(result: RunResult, host: Host) -> None:
    call = result.steps[-1]
    assert call["name"] == "connector.http.request"
    assert call["args"]["params"]["headers"]["authorization"] == "Bearer [REDACTED]"
    assert call["args"]["params"]["query"]["token"] == "[REDACTED]"


def _check_redacted_error(result: RunResult, host: Host) -> None:
    assert "[REDACTED]" in result.error["message"]
    assert "[REDACTED]" in result.error["stack"]


def _check_db(result: RunResult, host: Host) -> None:
    (step,) = result.steps
    assert step["kind"] == "db" and step["name"] == "db.query"
    assert step["args"] == {"sql": "SELECT * FROM sync_log WHERE source_id = $1", "params": ["abc"]}
    assert step["result"] == {"rows": [{"id": 1, "source_id": "abc"}], "rowCount": 1}


def _check_connector_steps(result: RunResult, host: Host) -> None:
    assert _steps(result) == [
        ("connector", "connector.hubspotCrm.getDeal"),
        ("connector", "connector.gmail.getProfile"),
    ]
    assert result.steps[0]["args"] == {"params": {"dealId": 7}}


def _check_step_shape(result: RunResult, host: Host) -> None:
    assert _steps(result) == [
        ("state", "state.set"),
        ("envConfig", "envConfig.get"),
        ("db", "db.query"),
        ("connector", "connector.echo.run"),
        ("connector", "connector.broken.run"),
    ]
    # Each step carries the line of the user's code that made the call.
    assert [step["line"] for step in result.steps] == [2, 3, 4, 5, 6]
    for step in result.steps:
        assert set(step) == {
            "kind", "name", "args", "result", "error", "startedAt", "durationMs", "line",
        }  # fmt: skip
        assert isinstance(step["durationMs"], float) and step["durationMs"] >= 0
        assert step["startedAt"].endswith("Z") and "T" in step["startedAt"]
    assert result.steps[3]["result"] == {"echo": {"x": 1}}
    assert result.steps[4]["error"] == {"code": "UPSTREAM_DOWN", "message": "Upstream is down"}
    assert result.steps[4]["result"] is None


def _check_step_lines(result: RunResult, host: Host) -> None:
    # The call's own line, in a helper run as a callback too; a call whose arguments span
    # several lines is on the line where it starts.
    assert [(step["name"], step["line"]) for step in result.steps] == [
        ("state.get", 2),
        ("connector.crm.getDeal", 7),
        ("connector.crm.getDeal", 7),
        ("state.set", 10),
    ]


def _check_lines_survive_tampering(result: RunResult, host: Host) -> None:
    # The workflow's own prepareStackTrace was left in place and saw its own errors.
    assert result.output == {"mine": "custom", "limit": 3}
    assert [step["line"] for step in result.steps] == [4]


def _check_frozen_error_loses_lines_only(result: RunResult, host: Host) -> None:
    assert [(step["name"], step["line"]) for step in result.steps] == [("state.set", None)]
    assert host.state_get("k", scope="ORG") == 1


def _check_truncated_steps(result: RunResult, host: Host) -> None:
    (step,) = result.steps
    value = step["args"]["value"]
    assert value["truncated"] is True
    assert value["bytes"] > 20_000
    assert len(value["preview"].encode()) <= 1000
    assert step["args"]["key"] == "big"
    assert host.state_get("big", scope="ORG") == "x" * 20_000  # the host got the whole value


def _check_log_times(result: RunResult, host: Host) -> None:
    import datetime as dt

    for entry in result.logs:
        moment = dt.datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
        assert abs((dt.datetime.now(dt.UTC) - moment).total_seconds()) < 60


def _check_runtime_stack(result: RunResult, host: Host) -> None:
    stack = result.error["stack"]
    assert stack.startswith("TypeError: Cannot read properties of undefined (reading 'name')")
    assert "at parse (conformance.js:3:23)" in stack
    assert "at default (conformance.js:6:10)" in stack
    assert "fastn:runtime" not in stack


def _check_async_stack(result: RunResult, host: Host) -> None:
    assert "at async default (conformance.js:2:16)" in result.error["stack"]
    assert "fastn:runtime" not in result.error["stack"]


def _check_log_limit(result: RunResult, host: Host) -> None:
    assert [entry["message"] for entry in result.logs[:5]] == [f"line {i}" for i in range(5)]
    assert len(result.logs) == 6
    assert result.logs[-1]["level"] == "warn"
    assert result.logs[-1]["message"].startswith("Log limit reached")


def _check_log_bytes(result: RunResult, host: Host) -> None:
    assert result.logs[0]["message"] == "short"
    assert sum(len(entry["message"].encode()) for entry in result.logs[:-1]) <= 100
    assert result.logs[-1]["message"].startswith("Log limit reached")
    assert len(result.logs) == 3


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


CASES: list[Case] = [
    # ---- export forms ----------------------------------------------------------------------
    Case(
        "export_default_async_function",
        js(
            """
            export default async function (ctx) {
              return { ok: true };
            }
            """
        ),
        output={"ok": True},
    ),
    Case(
        "export_default_async_arrow",
        "export default async (ctx) => ({ next: ctx.input.n + 1 });",
        output={"next": 42},
    ),
    Case(
        "export_default_named_function",
        js(
            """
            export default async function handler(ctx) {
              return [handler.name, typeof handler];
            }
            const again = handler;
            """
        ),
        output=["handler", "function"],
    ),
    Case(
        "export_default_identifier",
        js(
            """
            async function main(ctx) {
              return 'main';
            }
            export default main;
            """
        ),
        output="main",
    ),
    Case(
        "export_default_sync_function",
        js(
            """
            export default function (ctx) {
              return ctx.input.n * 2;
            }
            """
        ),
        output=82,
    ),
    Case(
        "export_clause_as_default",
        js(
            """
            export { run as default };
            const run = async () => 'clause';
            """
        ),
        output="clause",
    ),
    Case(
        "export_default_words_in_strings_and_comments",
        js(
            """
            // export default 1
            const s = 'export default 2';
            /* export default 3 */
            export default async () => s + ` export default ${4}`;
            """
        ),
        output="export default 2 export default 4",
    ),
    Case(
        "named_exports_and_top_level_await",
        js(
            """
            export const base = 2;
            export function triple(x) { return 3 * x; }
            const factor = await Promise.resolve(7);
            export default async () => triple(base) * factor;
            """
        ),
        output=42,
    ),
    Case(
        "no_default_export",
        js(
            """
            export const x = 1;
            const y = 2;
            """
        ),
        status="failed",
        error="NO_DEFAULT_EXPORT",
        message="has no default export",
        retryable=False,
    ),
    Case(
        "default_export_not_a_function",
        js(
            """
            export default 42;
            """
        ),
        status="failed",
        error="NO_DEFAULT_EXPORT",
        message="not a function",
        retryable=False,
    ),
    Case(
        "import_declaration_refused",
        js(
            """
            const a = 1;
            import lodash from 'lodash';
            export default async () => lodash;
            """
        ),
        status="failed",
        error="SYNTAX_ERROR",
        message="Import declarations are not supported",
        line=2,
        column=1,
        retryable=False,
    ),
    # ---- ctx ---------------------------------------------------------------------------------
    Case("ctx_passthrough", "export default async (ctx) => ctx;", output=DEFAULT_CTX),
    Case(
        "ctx_fields",
        js(
            """
            export default async function (ctx) {
              const { input, headers } = ctx;
              const { attempt } = ctx.execution;
              return [input.name, headers['content-type'], attempt, ctx.tenant, ctx.tier];
            }
            """
        ),
        output=["Ada", "application/json", 1, None, "instant"],
    ),
    Case(
        "ctx_proto_key_is_data",
        "export default async (ctx) => [Object.keys(ctx.input), ({}).polluted === undefined];",
        ctx={"input": {"__proto__": {"polluted": True}}},
        output=[["__proto__"], True],
    ),
    # ---- console -----------------------------------------------------------------------------
    Case(
        "console_levels",
        js(
            """
            export default async () => {
              console.log('a');
              console.info('b');
              console.warn('c');
              console.error('d');
              console.debug('e');
            }
            """
        ),
        output=None,
        logs=(("log", "a"), ("info", "b"), ("warn", "c"), ("error", "d"), ("debug", "e")),
        check=_check_log_times,
    ),
    Case(
        "console_formatting",
        js(
            """
            export default async () => {
              console.log('obj', { a: 1, b: [1, 'x'] }, null, undefined, 3, true);
              console.log('%s is %d years, %j', 'Ada', 36.6, { k: 'v' }, 'extra');
              console.log([1, 2], 10n, Symbol('s'), function named() {});
              const o = { name: 'o' }; o.self = o; console.log(o);
              console.log(new Map([['k', 1]]), new Set([1, 2]));
            }
            """
        ),
        logs=(
            ("log", 'obj {"a":1,"b":[1,"x"]} null undefined 3 true'),
            ("log", 'Ada is 36.6 years, {"k":"v"} extra'),
            ("log", "[1,2] 10n Symbol(s) [Function: named]"),
            ("log", '{"name":"o","self":"[Circular]"}'),
            ("log", '{"k":1} [1,2]'),
        ),
    ),
    Case(
        "console_error_objects_show_user_stack",
        js(
            """
            export default async () => {
              const e = new Error('boom');
              console.error(e);
            }
            """
        ),
        log_fragments=("Error: boom", "conformance.js:2:13"),
    ),
    Case(
        "console_entry_cap",
        js(
            """
            export default async () => {
              for (let i = 0; i < 20; i++) console.log(`line ${i}`);
              return 'done';
            }
            """
        ),
        limits={"max_log_entries": 5},
        output="done",
        check=_check_log_limit,
    ),
    Case(
        "console_byte_cap",
        js(
            """
            export default async () => {
              console.log('short');
              console.log('y'.repeat(500));
              console.log('never');
            }
            """
        ),
        limits={"max_log_bytes": 100},
        check=_check_log_bytes,
    ),
    # ---- state -------------------------------------------------------------------------------
    Case(
        "state_set_then_get",
        js(
            """
            export default async () => {
              await fastn.state.set('greeting', { hello: 'world' });
              return await fastn.state.get('greeting');
            }
            """
        ),
        output={"hello": "world"},
        check=_check_state_persisted,
    ),
    Case(
        "state_scopes_are_separate",
        js(
            """
            export default async () => {
              await fastn.state.set('k', 'org value');
              await fastn.state.set('k', 'invocation value', { scope: 'INVOCATION' });
              const org = await fastn.state.get('k');
              return [org, await fastn.state.get('k', { scope: 'INVOCATION' })];
            }
            """
        ),
        output=["org value", "invocation value"],
        check=_check_scopes,
    ),
    Case(
        "state_scope_is_case_insensitive",
        js(
            """
            export default async () => {
              await fastn.state.set('k', 1, { scope: 'invocation' });
              const invocation = await fastn.state.get('k', { scope: 'Invocation' });
              return [invocation, await fastn.state.get('k', { scope: 'org' })];
            }
            """
        ),
        output=[1, None],
    ),
    Case(
        "state_ttl_passthrough",
        js(
            """
            export default async () => {
              await fastn.state.set('a', 1, { ttl: 60 });
              await fastn.state.set('b', 2, { ttl: 1.5, scope: 'ORG' });
              await fastn.state.set('c', 3);
            }
            """
        ),
        check=_check_ttl,
    ),
    Case(
        "state_delete",
        js(
            """
            export default async () => {
              await fastn.state.set('temp', 1);
              await fastn.state.delete('temp');
              return await fastn.state.get('temp');
            }
            """
        ),
        output=None,
        check=_check_deleted,
    ),
    Case(
        "state_missing_key_is_null",
        "export default async () => [await fastn.state.get('nothing-here')];",
        output=[None],
    ),
    Case(
        "state_existing_value",
        js(
            """
            export default async () => {
              const n = await fastn.state.get('counter');
              await fastn.state.set('counter', n + 1);
              return n + 1;
            }
            """
        ),
        host=HostSetup(state={("ORG", "counter"): 41}),
        output=42,
        check=_check_counter,
    ),
    Case(
        "state_key_validation",
        js(
            """
            export default async () => {
              const errors = [];
              for (const key of ['', 'k'.repeat(257), 42, null]) {
                try {
                  await fastn.state.get(key);
                } catch (e) {
                  errors.push(e.name + ': ' + e.message);
                }
              }
              return errors;
            }
            """
        ),
        output=[
            'TypeError: fastn.state.get: key must be a non-empty string (got "")',
            "TypeError: fastn.state.get: key must be at most 256 characters (got 257)",
            "TypeError: fastn.state.get: key must be a non-empty string (got 42)",
            "TypeError: fastn.state.get: key must be a non-empty string (got null)",
        ],
        check=lambda result, host: _assert_no_steps(result),
    ),
    Case(
        "state_scope_and_ttl_validation",
        js(
            """
            export default async () => {
              const errors = [];
              const attempts = [[1, { scope: 'GLOBAL' }], [1, { ttl: -5 }], [1n, undefined]];
              for (const [value, options] of attempts) {
                try {
                  await fastn.state.set('k', value, options);
                } catch (e) {
                  errors.push(e.message);
                }
              }
              return errors;
            }
            """
        ),
        output=[
            'fastn.state.set: scope must be "ORG" or "INVOCATION" (got "GLOBAL")',
            "fastn.state.set: ttl must be a positive number of seconds (got -5)",
            "fastn.state.set: value is not JSON-serialisable"
            " (Do not know how to serialize a BigInt)",
        ],
    ),
    # ---- atomic state: incr, setIfAbsent, compareAndSet ------------------------------------------
    Case(
        "state_incr_counts_from_zero",
        js(
            """
            export default async () => {
              const seen = [await fastn.state.incr('n'), await fastn.state.incr('n')];
              seen.push(await fastn.state.incr('n', 5), await fastn.state.incr('n', -1.5));
              seen.push(await fastn.state.incr('n', 0), await fastn.state.get('n'));
              return seen;
            }
            """
        ),
        output=[1, 2, 7, 5.5, 5.5, 5.5],
    ),
    Case(
        "state_incr_adds_to_a_stored_number",
        js(
            """
            export default async () => [await fastn.state.incr('counter', 1, { ttl: 60 })];
            """
        ),
        host=HostSetup(state={("ORG", "counter"): 41}),
        output=[42],
    ),
    Case(
        "state_incr_scopes_are_separate",
        js(
            """
            export default async () => {
              await fastn.state.incr('n', 10);
              const mine = await fastn.state.incr('n', 1, { scope: 'invocation' });
              return [mine, await fastn.state.get('n')];
            }
            """
        ),
        output=[1, 10],
    ),
    Case(
        "state_incr_of_a_non_number_is_catchable",
        js(
            """
            export default async () => {
              try {
                await fastn.state.incr('name');
              } catch (e) {
                return [e instanceof Error, e.code, e.retryable, await fastn.state.get('name')];
              }
            }
            """
        ),
        host=HostSetup(state={("ORG", "name"): "Ada"}),
        output=[True, "STATE_NOT_A_NUMBER", False, "Ada"],
    ),
    Case(
        "state_incr_of_a_non_number_uncaught_is_not_retried",
        "export default async () => { await fastn.state.incr('flag'); };",
        host=HostSetup(state={("ORG", "flag"): True}),
        status="failed",
        error="RUNTIME_ERROR",
        line=1,
        retryable=False,
    ),
    Case(
        "state_incr_validation",
        js(
            """
            export default async () => {
              const errors = [];
              for (const args of [['k', 'x'], ['k', { ttl: 60 }], ['k', NaN], ['k', 1 / 0],
                                  ['', 1], ['k', 1, { ttl: 0 }]]) {
                try {
                  await fastn.state.incr(...args);
                } catch (e) {
                  errors.push(e.name + ': ' + e.message);
                }
              }
              return errors;
            }
            """
        ),
        output=[
            'TypeError: fastn.state.incr: by must be a finite number (got "x");'
            " options go third: incr(key, 1, {ttl: 60})",
            "TypeError: fastn.state.incr: by must be a finite number (got an object);"
            " options go third: incr(key, 1, {ttl: 60})",
            "TypeError: fastn.state.incr: by must be a finite number (got NaN);"
            " options go third: incr(key, 1, {ttl: 60})",
            "TypeError: fastn.state.incr: by must be a finite number (got Infinity);"
            " options go third: incr(key, 1, {ttl: 60})",
            'TypeError: fastn.state.incr: key must be a non-empty string (got "")',
            "TypeError: fastn.state.incr: ttl must be a positive number of seconds (got 0)",
        ],
        check=lambda result, host: _assert_no_steps(result),
    ),
    Case(
        "state_set_if_absent",
        js(
            """
            export default async () => {
              const first = await fastn.state.setIfAbsent('deal:7', { at: 1 }, { ttl: 3600 });
              const second = await fastn.state.setIfAbsent('deal:7', { at: 2 });
              const other = await fastn.state.setIfAbsent('deal:7', 'run', { scope: 'INVOCATION' });
              return [first, second, other, await fastn.state.get('deal:7')];
            }
            """
        ),
        output=[True, False, True, {"at": 1}],
    ),
    Case(
        "state_set_if_absent_sees_existing_keys",
        "export default async () => [await fastn.state.setIfAbsent('counter', 0)];",
        host=HostSetup(state={("ORG", "counter"): 41}),
        output=[False],
    ),
    Case(
        "state_compare_and_set",
        js(
            """
            export default async () => {
              const first = { page: 1, seen: [1] };
              const created = await fastn.state.compareAndSet('cursor', null, first);
              const stale = await fastn.state.compareAndSet('cursor', { page: 0 }, { page: 9 });
              // JSON equality: member order does not matter, 1 and 1.0 are one number
              const moved = await fastn.state.compareAndSet(
                'cursor', { seen: [1.0], page: 1 }, { page: 2 }, { ttl: 60 });
              return [created, stale, moved, await fastn.state.get('cursor')];
            }
            """
        ),
        output=[True, False, True, {"page": 2}],
    ),
    Case(
        "state_compare_and_set_keeps_json_types_apart",
        js(
            """
            export default async () => {
              await fastn.state.set('flag', true);
              await fastn.state.set('text', '1');
              return [
                await fastn.state.compareAndSet('flag', 1, 'no'),
                await fastn.state.compareAndSet('text', 1, 'no'),
                await fastn.state.compareAndSet('flag', null, 'no'),
                await fastn.state.compareAndSet('flag', true, false),
                await fastn.state.get('flag'),
                await fastn.state.get('text'),
              ];
            }
            """
        ),
        output=[False, False, False, True, False, "1"],
    ),
    Case(
        "state_conditional_write_validation",
        js(
            """
            export default async () => {
              const errors = [];
              const calls = [
                () => fastn.state.setIfAbsent('k', 1n),
                () => fastn.state.compareAndSet('k', 1n, 1),
                () => fastn.state.compareAndSet('k', 1, 2, { scope: 'GLOBAL' }),
                () => fastn.state.setIfAbsent(7, 1),
              ];
              for (const call of calls) {
                try {
                  await call();
                } catch (e) {
                  errors.push(e.name + ': ' + e.message);
                }
              }
              return errors;
            }
            """
        ),
        output=[
            "TypeError: fastn.state.setIfAbsent: value is not JSON-serialisable"
            " (Do not know how to serialize a BigInt)",
            "TypeError: fastn.state.compareAndSet: value is not JSON-serialisable"
            " (Do not know how to serialize a BigInt)",
            'TypeError: fastn.state.compareAndSet: scope must be "ORG" or "INVOCATION"'
            ' (got "GLOBAL")',
            "TypeError: fastn.state.setIfAbsent: key must be a non-empty string (got 7)",
        ],
        check=lambda result, host: _assert_no_steps(result),
    ),
    Case(
        "state_atomic_steps_are_recorded",
        js(
            """
            export default async () => {
              await fastn.state.incr('n', 2, { ttl: 9.5 });
              await fastn.state.setIfAbsent('once', 'x', { scope: 'invocation' });
              await fastn.state.compareAndSet('once', 'x', 'y', { scope: 'invocation' });
            }
            """
        ),
        output=None,
        check=_check_atomic_steps,
    ),
    # ---- secrets and redaction ------------------------------------------------------------------
    Case(
        "secret_text",
        js(
            """
            export default async () => {
              const token = await fastn.secrets.get('API_TOKEN');
              return { length: token.length, prefix: token.slice(0, 3) };
            }
            """
        ),
        host=HostSetup(secrets=SECRETS),
        output={"length": len(API_TOKEN), "prefix": "sk_"},
        check=_check_secret_step,
    ),
    Case(
        "secret_json_is_parsed",
        js(
            """
            export default async () => {
              const sa = await fastn.secrets.get('SERVICE_ACCOUNT');
              return [typeof sa, Object.keys(sa).sort()];
            }
            """
        ),
        host=HostSetup(secrets=SECRETS),
        output=["object", ["client_id", "private_key"]],
    ),
    Case(
        "secret_missing_is_catchable",
        js(
            """
            export default async () => {
              try {
                await fastn.secrets.get('NOPE');
              } catch (e) {
                return [e instanceof Error, e.code, e.message];
              }
            }
            """
        ),
        host=HostSetup(secrets=SECRETS),
        output=[True, "SECRET_NOT_FOUND", "Secret NOPE does not exist"],
        check=_check_missing_secret_step,
    ),
    Case(
        "redaction_plain_in_output_and_logs",
        js(
            """
            export default async () => {
              const token = await fastn.secrets.get('API_TOKEN');
              console.log('token is', token);
              console.log({ auth: token });
              return { plain: token, sentence: `use ${token} wisely` };
            }
            """
        ),
        host=HostSetup(secrets=SECRETS),
        absent=(API_TOKEN,),
        check=_check_redacted_everywhere,
    ),
    Case(
        "redaction_base64",
        js(
            """
            export default async () => {
              const token = await fastn.secrets.get('API_TOKEN');
              console.log('basic', btoa('user:' + token));
              return { plain: btoa(token), sentence: 'Basic ' + btoa('ab:' + token) };
            }
            """
        ),
        host=HostSetup(secrets=SECRETS),
        absent=(
            API_TOKEN,
            b64(API_TOKEN),
            b64(API_TOKEN).rstrip("="),
            b64("user:" + API_TOKEN)[8:-4],
            b64("ab:" + API_TOKEN)[4:-4],
        ),
        check=lambda result, host: _assert_redacted_output(result, "[REDACTED]"),
    ),
    Case(
        "redaction_url_encoded",
        js(
            """
            export default async () => {
              const token = await fastn.secrets.get('API_TOKEN');
              console.log('https://api.example.com/?key=' + encodeURIComponent(token));
              const encoded = encodeURIComponent(token);
              return { plain: encoded, sentence: 'q=' + encoded };
            }
            """
        ),
        host=HostSetup(secrets=SECRETS),
        absent=(API_TOKEN, quote(API_TOKEN, safe="")),
        check=lambda result, host: _assert_redacted_output(result, "[REDACTED]"),
    ),
    Case(
        "redaction_json_escaped",
        js(
            """
            export default async () => {
              const password = await fastn.secrets.get('DB_PASSWORD');
              console.log(JSON.stringify({ password }));
              const twice = JSON.stringify(JSON.stringify({ password }));
              return { plain: JSON.stringify(password), sentence: twice };
            }
            """
        ),
        host=HostSetup(secrets=SECRETS),
        absent=(
            DB_PASSWORD,
            json.dumps(DB_PASSWORD)[1:-1],
            json.dumps(json.dumps(DB_PASSWORD)[1:-1])[1:-1],
        ),
        log_fragments=("[REDACTED]",),
    ),
    Case(
        "redaction_json_secret_fields",
        js(
            """
            export default async () => {
              const sa = await fastn.secrets.get('SERVICE_ACCOUNT');
              console.log('key', sa.private_key);
              return { plain: sa.private_key, sentence: JSON.stringify(sa) };
            }
            """
        ),
        host=HostSetup(secrets=SECRETS),
        absent=(SERVICE_ACCOUNT["private_key"], SERVICE_ACCOUNT["client_id"]),
        log_fragments=("key [REDACTED]",),
    ),
    Case(
        "redaction_in_error_message_and_stack",
        js(
            """
            export default async () => {
              const token = await fastn.secrets.get('API_TOKEN');
              throw new Error('bad token ' + token);
            }
            """
        ),
        host=HostSetup(secrets=SECRETS),
        status="failed",
        error="RUNTIME_ERROR",
        message="Error: bad token [REDACTED]",
        line=3,
        absent=(API_TOKEN,),
        check=_check_redacted_error,
    ),
    Case(
        "redaction_in_steps",
        js(
            """
            export default async () => {
              const token = await fastn.secrets.get('API_TOKEN');
              const res = await fastn.connector.http.request({
                method: 'GET', url: 'https://api.example.com/me',
                headers: { authorization: 'Bearer ' + token }, query: { token },
              });
              return res.status;
            }
            """
        ),
        host=HostSetup(
            secrets=SECRETS,
            connectors={"http.request": {"status": 200, "headers": {}, "body": {"me": "ada"}}},
        ),
        output=200,
        absent=(API_TOKEN,),
        check=_check_redacted_steps,
    ),
    # ---- envConfig, db, connectors ----------------------------------------------------------
    Case(
        "env_config_set_and_unset",
        js(
            """
            export default async () => {
              const base = await fastn.envConfig.get('PARTNER_API_BASE');
              const missing = await fastn.envConfig.get('NOT_SET');
              return [base, typeof missing];
            }
            """
        ),
        host=HostSetup(config={"PARTNER_API_BASE": "https://partner.example.com"}),
        output=["https://partner.example.com", "undefined"],
    ),
    Case(
        "db_query_passthrough",
        js(
            """
            export default async () => {
              const sql = 'SELECT * FROM sync_log WHERE source_id = $1';
              const result = await fastn.db.query(sql, ['abc']);
              return [result.rowCount, result.rows[0].source_id];
            }
            """
        ),
        host=HostSetup(
            db={
                "SELECT * FROM sync_log WHERE source_id = $1": {
                    "rows": [{"id": 1, "source_id": "abc"}],
                    "rowCount": 1,
                }
            }
        ),
        output=[1, "abc"],
        check=_check_db,
    ),
    Case(
        "db_query_validation",
        js(
            """
            export default async () => {
              try { await fastn.db.query('SELECT 1', 'abc'); } catch (e) { return e.message; }
            }
            """
        ),
        output='fastn.db.query: params must be an array of values for $1, $2, ... (got "abc")',
    ),
    Case(
        "connector_proxy_and_alias",
        js(
            """
            export default async () => {
              const deal = await fastn.connector.hubspotCrm.getDeal({ dealId: 7 });
              const me = await fastn.connectors.gmail.getProfile({ emailAddress: 'me' });
              return [deal.amount, me.email, fastn.connectors === fastn.connector];
            }
            """
        ),
        host=HostSetup(
            connectors={
                "hubspotCrm.getDeal": {"amount": 1200},
                "gmail.getProfile": {"email": "ada@example.com"},
            }
        ),
        output=[1200, "ada@example.com", True],
        check=_check_connector_steps,
    ),
    Case(
        "new_fastn_returns_the_global",
        js(
            """
            const client = new Fastn({ connectors: { hubspotCrm: { orgId: 'managed' } } });
            export default async () => {
              const again = Fastn({});
              const fastnLocal = new Fastn({ connectors: {} });
              const echoed = await client.connector.echo.run({ x: 1 });
              return [client === fastn, again === fastn, fastnLocal === fastn, echoed];
            }
            """
        ),
        host=HostSetup(connectors={"echo.run": {"echoed": True}}),
        output=[True, True, True, {"echoed": True}],
    ),
    Case(
        "connector_http_request",
        js(
            """
            export default async () => {
              const res = await fastn.connector.http.request({
                method: 'POST', url: 'https://example.com/hook', body: { a: 1 }, timeout: 5,
              });
              return res;
            }
            """
        ),
        host=HostSetup(
            connectors={
                "http.request": {
                    "status": 201,
                    "headers": {"content-type": "application/json"},
                    "body": {"id": "x1"},
                }
            }
        ),
        output={
            "status": 201,
            "headers": {"content-type": "application/json"},
            "body": {"id": "x1"},
        },
    ),
    Case(
        "connector_proxy_is_not_thenable",
        js(
            """
            export default async () => {
              const slack = await fastn.connector.slack;
              const then = typeof fastn.connector.then;
              return [typeof slack.postMessage, then, JSON.stringify({ c: 1 })];
            }
            """
        ),
        output=["function", "undefined", '{"c":1}'],
    ),
    Case(
        "fastn_is_read_only",
        js(
            """
            export default async () => {
              const errors = [];
              try { fastn.state = null; } catch (e) { errors.push(e.name); }
              try { fastn.connector.slack = 1; } catch (e) { errors.push(e.name); }
              try { globalThis.fastn = {}; } catch (e) { errors.push(e.name); }
              return [errors, typeof fastn.state.get];
            }
            """
        ),
        output=[["TypeError", "TypeError", "TypeError"], "function"],
    ),
    Case(
        "host_error_is_catchable_with_code",
        js(
            """
            export default async () => {
              try {
                await fastn.connector.broken.run({});
              } catch (e) {
                return [e instanceof Error, e.code, e.message, e.retryable];
              }
            }
            """
        ),
        host=HostSetup(
            connectors={
                "broken.run": HostError_("UPSTREAM_DOWN", "Upstream is down", permanent=False)
            }
        ),
        output=[True, "UPSTREAM_DOWN", "Upstream is down", True],
    ),
    Case(
        "host_error_uncaught_fails_the_run",
        js(
            """
            export default async () => {
              const deal = await fastn.connector.hubspotCrm.getDeal({ dealId: 1 });
              return deal;
            }
            """
        ),
        host=HostSetup(
            connectors={"hubspotCrm.getDeal": HostError_("NOT_FOUND", "Deal 1 not found")}
        ),
        status="failed",
        error="RUNTIME_ERROR",
        message="Error: Deal 1 not found",
        line=2,
        retryable=False,  # the host said it is permanent: retrying cannot find the deal
        check=_check_async_stack,
    ),
    # ---- what is retried: transient failures and errors the code marks retryable ------------
    Case(
        "transient_host_error_uncaught_is_retryable",
        "export default async () => fastn.connector.crm.sync({});",
        host=HostSetup(
            connectors={"crm.sync": HostError_("HTTP_503", "Service unavailable", permanent=False)}
        ),
        status="failed",
        error="RUNTIME_ERROR",
        message="Error: Service unavailable",
        retryable=True,
    ),
    Case(
        "transient_host_error_rethrown_is_retryable",
        js(
            """
            export default async () => {
              try {
                await fastn.connector.crm.sync({});
              } catch (e) {
                console.log('sync failed', e.code);
                throw e;
              }
            }
            """
        ),
        host=HostSetup(
            connectors={"crm.sync": HostError_("HTTP_429", "Too many requests", permanent=False)}
        ),
        status="failed",
        error="RUNTIME_ERROR",
        logs=(("log", "sync failed HTTP_429"),),
        retryable=True,
    ),
    Case(
        "transient_host_error_wrapped_in_a_new_error_is_not_retryable",
        js(
            """
            export default async () => {
              try {
                await fastn.connector.crm.sync({});
              } catch (e) {
                throw new Error('sync failed: ' + e.message);
              }
            }
            """
        ),
        host=HostSetup(
            connectors={"crm.sync": HostError_("HTTP_503", "Service unavailable", permanent=False)}
        ),
        status="failed",
        error="RUNTIME_ERROR",
        message="Error: sync failed: Service unavailable",
        retryable=False,
    ),
    Case(
        "thrown_error_is_not_retryable",
        js(
            """
            export default async (ctx) => {
              if (!ctx.input.email) {
                throw new Error('email is required');
              }
            }
            """
        ),
        status="failed",
        error="RUNTIME_ERROR",
        message="Error: email is required",
        line=3,
        retryable=False,
    ),
    Case(
        "fastn_retryable_marks_an_error",
        js(
            """
            export default async () => {
              const res = { status: 503 };
              if (res.status >= 500) {
                throw fastn.retryable(new Error('upstream answered ' + res.status));
              }
            }
            """
        ),
        status="failed",
        error="RUNTIME_ERROR",
        message="Error: upstream answered 503",
        line=4,
        column=27,  # where the Error was made
        retryable=True,
    ),
    Case(
        "fastn_retryable_wraps_a_message",
        js(
            """
            export default async () => {
              throw fastn.retryable('rate limited, try later');
            }
            """
        ),
        status="failed",
        error="RUNTIME_ERROR",
        message="Error: rate limited, try later",
        line=2,
        column=15,  # the call of fastn.retryable: the runtime's own frame is dropped
        retryable=True,
    ),
    Case(
        "fastn_retryable_returns_an_error",
        js(
            """
            export default async () => {
              const e = new TypeError('x');
              e.code = 'MINE';
              const marked = fastn.retryable(e);
              const made = fastn.retryable('busy');
              const frozen = fastn.retryable(Object.freeze(new Error('cold')));
              return [marked === e, e.retryable, e.code, made instanceof Error, made.message,
                      made.retryable, frozen.message, frozen.retryable, typeof fastn.retryable];
            }
            """
        ),
        output=[True, True, "MINE", True, "busy", True, "cold", True, "function"],
    ),
    Case(
        "error_with_retryable_true_is_retryable",
        js(
            """
            export default async () => {
              const e = new Error('quota not reset yet');
              e.retryable = true;
              throw e;
            }
            """
        ),
        status="failed",
        error="RUNTIME_ERROR",
        retryable=True,
    ),
    Case(
        "thrown_object_with_retryable_true_is_retryable",
        "export default async () => { throw { message: 'later', retryable: true }; };",
        status="failed",
        error="RUNTIME_ERROR",
        retryable=True,
    ),
    Case(
        "retryable_must_be_exactly_true",
        "export default async () => { throw Object.assign(new Error('no'), { retryable: 1 }); };",
        status="failed",
        error="RUNTIME_ERROR",
        retryable=False,
    ),
    Case(
        "steps_are_recorded",
        js(
            """
            export default async () => {
              await fastn.state.set('s', 1, { ttl: 10 });
              await fastn.envConfig.get('X');
              await fastn.db.query('SELECT 1');
              await fastn.connector.echo.run({ x: 1 });
              try { await fastn.connector.broken.run(); } catch {}
            }
            """
        ),
        host=HostSetup(
            connectors={
                "echo.run": {"echo": {"x": 1}},
                "broken.run": HostError_("UPSTREAM_DOWN", "Upstream is down"),
            }
        ),
        check=_check_step_shape,
    ),
    Case(
        "steps_record_the_calling_line",
        js(
            """
            export default async (ctx) => {
              const seen = await fastn.state.get('seen');
              const ids = [1, 2];
              const deals = await Promise.all(ids.map(fetchDeal));
              return keep(deals);
            }
            async function fetchDeal(id) { return fastn.connector.crm.getDeal({ id }); }
            async function keep(deals) {
              const note = deals.length;
              await fastn.state.set(
                'deals',
                note,
              );
              return note;
            }
            """
        ),
        host=HostSetup(connectors={"crm.getDeal": {"ok": True}}),
        output=2,
        check=_check_step_lines,
    ),
    Case(
        "step_lines_leave_the_workflows_stack_settings_alone",
        js(
            """
            Error.prepareStackTrace = () => "custom";
            Error.stackTraceLimit = 3;
            export default async () => {
              await fastn.state.set('k', 1);
              return { mine: new Error("x").stack, limit: Error.stackTraceLimit };
            }
            """
        ),
        check=_check_lines_survive_tampering,
    ),
    Case(
        "a_frozen_error_costs_the_step_lines_and_nothing_else",
        js(
            """
            Object.defineProperty(Error, "prepareStackTrace", { value: 1, writable: false });
            Object.freeze(Error);
            export default async () => {
              await fastn.state.set('k', 1);
              return true;
            }
            """
        ),
        output=True,
        check=_check_frozen_error_loses_lines_only,
    ),
    Case(
        "step_values_are_clipped",
        js(
            """
            export default async () => {
              await fastn.state.set('big', 'x'.repeat(20000));
              return 'ok';
            }
            """
        ),
        limits={"max_step_value_bytes": 1000},
        output="ok",
        check=_check_truncated_steps,
    ),
    # ---- isolation ------------------------------------------------------------------------------
    Case(
        "fresh_globals_every_run",
        js(
            """
            export default async () => [
              typeof globalThis.leaked,
              ({}).polluted,
              Array.prototype.includes.name,
              JSON.stringify({ a: 1 }),
            ];"""
        ),
        before=(
            "globalThis.leaked = 1;\n"
            "Object.prototype.polluted = 'yes';\n"
            "Array.prototype.includes = () => true;\n"
            "JSON.stringify = () => 'hacked';\n"
            "export default async () => 'tampered';\n",
        ),
        output=["undefined", None, "includes", '{"a":1}'],
    ),
    Case(
        "tampered_builtins_do_not_break_the_result",
        js(
            """
            export default async () => {
              JSON.stringify = () => 'hacked';
              Array.prototype.push = () => 0;
              console.log('still', { fine: true });
              return { fine: true };
            }
            """
        ),
        output={"fine": True},
        logs=(("log", 'still {"fine":true}'),),
    ),
    Case(
        "require_is_unavailable",
        "export default async () => require('fs');",
        status="failed",
        error="RUNTIME_ERROR",
        message="require() is not available in workflows",
    ),
    Case(
        "process_is_undefined",
        "export default async () => process.env;",
        status="failed",
        error="RUNTIME_ERROR",
        message="ReferenceError: process is not defined",
    ),
    Case(
        "fetch_is_unavailable",
        "export default async () => await fetch('https://example.com');",
        status="failed",
        error="RUNTIME_ERROR",
        message="fetch() is not available in workflows: use fastn.connector.http.request",
    ),
    Case(
        "dynamic_import_is_unavailable",
        js(
            """
            export default async () => {
              const m = await import('node:fs');
              return m;
            }
            """
        ),
        status="failed",
        error="RUNTIME_ERROR",
        message="import() is not available in workflows",
        line=2,
    ),
    Case(
        "eval_is_disabled",
        "export default async () => eval('1 + 1');",
        status="failed",
        error="RUNTIME_ERROR",
        message="EvalError: Code generation from strings disallowed",
    ),
    Case(
        "function_constructor_is_disabled",
        js(
            """
            export default async () => {
              try {
                new Function('return 1');
              } catch (e) {
                return [e.name, (async () => {}).constructor.name];
              }
            }
            """
        ),
        output=["EvalError", "AsyncFunction"],
    ),
    Case(
        "webassembly_is_absent",
        "export default async () => typeof WebAssembly;",
        output="undefined",
    ),
    Case(
        "timers_and_base64_work",
        js(
            """
            export default async () => {
              const t = Date.now();
              await new Promise((resolve) => setTimeout(resolve, 20));
              return [Date.now() - t >= 15, btoa('hi'), atob('aGk=')];
            }
            """
        ),
        output=[True, "aGk=", "hi"],
    ),
    Case(
        "set_timeout_order_zero_and_clear",
        js(
            """
            export default async () => {
              const order = [];
              await new Promise((resolve) => setTimeout(resolve));
              await new Promise((resolve) => setTimeout(resolve, 0));
              setTimeout(() => order.push('later'), 5);
              setTimeout((x) => order.push(x), 1, 'sooner');
              const id = setTimeout(() => order.push('cleared'), 2);
              clearTimeout(id);
              await new Promise((resolve) => setTimeout(resolve, 30));
              setTimeout(() => { while (true) {} }, 1);  // after the run: never called
              return order;
            }
            """
        ),
        output=["sooner", "later"],
    ),
    # ---- errors ---------------------------------------------------------------------------------
    Case(
        "syntax_error_position",
        js(
            """
            export default async function (ctx) {
              const a = {
                b: 1,
                c: }
              return a;
            }
            """
        ),
        status="failed",
        error="SYNTAX_ERROR",
        message="SyntaxError: Unexpected token '}' at line 4, column 8",
        line=4,
        column=8,
        retryable=False,
    ),
    Case(
        "syntax_error_without_a_default_export",
        "const x = ;\n",
        status="failed",
        error="SYNTAX_ERROR",
        message="SyntaxError: Unexpected token ';' at line 1, column 11",
        line=1,
        column=11,
    ),
    Case(
        "syntax_error_on_line_one",
        "export default async () => { return ) }",
        status="failed",
        error="SYNTAX_ERROR",
        message="Unexpected token ')' at line 1, column 37",
        line=1,
        column=37,
    ),
    Case(
        "syntax_error_unclosed_function",
        js(
            """
            export default async function (ctx) {
              if (ctx) {
                return 1;
            }
            """
        ),
        status="failed",
        error="SYNTAX_ERROR",
        message="SyntaxError: Unexpected end of input at line 4, column 2",
        line=4,
        column=2,
    ),
    Case(
        "runtime_error_stack_uses_user_lines",
        js(
            """
            function parse(payload) {
              // the next line fails
              return payload.user.name;
            }
            export default async function (ctx) {
              return parse(ctx.input);
            }
            """
        ),
        status="failed",
        error="RUNTIME_ERROR",
        message="TypeError: Cannot read properties of undefined (reading 'name')",
        line=3,
        column=23,
        check=_check_runtime_stack,
    ),
    Case(
        "runtime_error_column_on_line_one",
        "export default async () => { null.boom; }",
        status="failed",
        error="RUNTIME_ERROR",
        line=1,
        column=35,
    ),
    Case(
        "rejected_promise",
        "export default async () => Promise.reject(new TypeError('nope'));",
        status="failed",
        error="RUNTIME_ERROR",
        message="TypeError: nope",
        retryable=False,
    ),
    Case(
        "throw_a_string",
        "export default async () => { throw 'a string'; };",
        status="failed",
        error="RUNTIME_ERROR",
        message='Uncaught "a string"',
    ),
    Case(
        "throw_an_object",
        "export default async () => { throw { code: 7 }; };",
        status="failed",
        error="RUNTIME_ERROR",
        message='Uncaught {"code":7}',
    ),
    Case(
        "deep_recursion",
        js(
            """
            function down(n) {
              return down(n + 1) + 1;
            }
            export default async () => down(0);
            """
        ),
        status="failed",
        error="RUNTIME_ERROR",
        message="RangeError: Maximum call stack size exceeded",
        line=2,
    ),
    Case(
        "circular_result",
        js(
            """
            export default async () => {
              const a = { name: 'a' };
              a.self = a;
              return a;
            }
            """
        ),
        status="failed",
        error="NOT_SERIALIZABLE",
        message="Result is not JSON-serialisable: Converting circular structure to JSON",
        retryable=False,
    ),
    Case(
        "bigint_result",
        "export default async () => ({ big: 10n });",
        status="failed",
        error="NOT_SERIALIZABLE",
        message=(
            "output.big is a BigInt, which is not JSON-serialisable:"
            " convert it with String() or Number()"
        ),
        retryable=False,
    ),
    Case(
        "undefined_result_is_null",
        "export default async () => { let nothing; return nothing; };",
        output=None,
    ),
    # A function, a symbol or a BigInt is refused wherever it is, naming where: JSON would
    # make it null at the top, drop it from an object, or turn it into null in an array.
    Case(
        "function_result_is_refused",
        "export default async () => () => 1;",
        status="failed",
        error="NOT_SERIALIZABLE",
        message=(
            "The workflow returned a function, which is not JSON-serialisable:"
            " return data, not a function (call it, or leave it out)"
        ),
        retryable=False,
    ),
    Case(
        "symbol_result_is_refused",
        "export default async () => Symbol('done');",
        status="failed",
        error="NOT_SERIALIZABLE",
        message="The workflow returned a symbol, which is not JSON-serialisable",
    ),
    Case(
        "bigint_top_level_result_is_refused",
        "export default async () => 2n ** 70n;",
        status="failed",
        error="NOT_SERIALIZABLE",
        message="The workflow returned a BigInt, which is not JSON-serialisable",
    ),
    Case(
        "nested_function_is_refused_with_its_path",
        "export default async () => ({ ok: true, handler() { return 1; } });",
        status="failed",
        error="NOT_SERIALIZABLE",
        message="output.handler is a function, which is not JSON-serialisable",
    ),
    Case(
        "deep_symbol_in_an_array_is_refused_with_its_path",
        js(
            """
            export default async () => ({
              rows: [{ id: 1 }, { id: 2, tags: ['a', Symbol('b')] }],
              'odd key': { n: 1 },
            });
            """
        ),
        status="failed",
        error="NOT_SERIALIZABLE",
        message="output.rows[1].tags[1] is a symbol, which is not JSON-serialisable",
    ),
    Case(
        "odd_keys_are_quoted_in_the_path",
        "export default async () => ({ 'my key': { 'x-y': () => 1 } });",
        status="failed",
        error="NOT_SERIALIZABLE",
        message='output["my key"]["x-y"] is a function, which is not JSON-serialisable',
    ),
    Case(
        "a_very_deep_path_keeps_its_end",
        js(
            """
            export default async () => {
              let node = { handler: () => 1 };
              for (let i = 0; i < 200; i++) node = { level: node };
              return node;
            }
            """
        ),
        status="failed",
        error="NOT_SERIALIZABLE",
        message=".level.level.handler is a function, which is not JSON-serialisable",
        check=lambda result, host: _check_cut_path(result),
    ),
    Case(
        "to_json_is_followed_like_json_stringify",
        js(
            """
            class Money { constructor(c) { this.cents = c; this.format = () => '$'; }
                          toJSON() { return { cents: this.cents }; } }
            export default async () => ({
              price: new Money(250), at: new Date(0), skipped: undefined,
              list: [undefined, 1], bad: { toJSON() { return { later: 3n }; } },
            });
            """
        ),
        status="failed",
        error="NOT_SERIALIZABLE",
        message="output.bad.later is a BigInt, which is not JSON-serialisable",
    ),
    Case(
        "plain_data_with_undefined_and_dates_completes",
        js(
            """
            class Money { constructor(c) { this.cents = c; this.format = () => '$'; }
                          toJSON() { return { cents: this.cents }; } }
            export default async () => ({
              price: new Money(250), at: new Date(0), skipped: undefined, list: [undefined, 1],
              proto: Object.create({ inherited() {} }),
            });
            """
        ),
        output={
            "price": {"cents": 250},
            "at": "1970-01-01T00:00:00.000Z",
            "list": [None, 1],
            "proto": {},
        },
    ),
    Case(
        "output_too_large",
        "export default async () => 'x'.repeat(10 * 1000 * 1000);",
        status="failed",
        error="OUTPUT_TOO_LARGE",
        message=(
            "Result is too large: 10,000,002 bytes of JSON,"
            " over the output limit of 1,000,000 bytes"
        ),
        retryable=False,
    ),
    Case(
        "output_limit_counts_utf8_bytes",
        "export default async () => 'é'.repeat(60);",
        limits={"max_output_bytes": 100},
        status="failed",
        error="OUTPUT_TOO_LARGE",
        message="122 bytes",
    ),
    # ---- limits ---------------------------------------------------------------------------------
    Case(
        "timeout_busy_loop_after_await",
        js(
            """
            export default async () => {
              console.log('about to spin');
              await null;
              while (true) {}
            }
            """
        ),
        limits={"timeout_s": 1},
        status="timeout",
        error="TIMEOUT",
        message="Workflow exceeded its timeout of 1s",
        logs=(("log", "about to spin"),),
        retryable=True,
        slow=True,
    ),
    Case(
        "timeout_sync_loop",
        js(
            """
            export default function () {
              for (;;) {}
            }
            """
        ),
        limits={"timeout_s": 0.5},
        status="timeout",
        error="TIMEOUT",
        message="timeout of 0.5s",
        slow=True,
    ),
    Case(
        "timeout_loop_in_promise_chain",
        js(
            """
            export default async () => {
              await fastn.state.get('k');
              return Promise.resolve(1).then(() => { while (true) {} });
            }
            """
        ),
        limits={"timeout_s": 0.5},
        status="timeout",
        error="TIMEOUT",
        slow=True,
    ),
    Case(
        "timeout_never_settles",
        "export default async () => new Promise(() => {});",
        limits={"timeout_s": 0.5},
        status="timeout",
        error="TIMEOUT",
        slow=True,
    ),
    Case(
        "memory_limit_after_await",
        js(
            """
            export default async () => {
              const hoard = [];
              await null;
              while (true) hoard.push({ n: Math.random() });
            }
            """
        ),
        limits={"timeout_s": 10, "memory_mb": 64},
        status="failed",
        error="MEMORY_LIMIT",
        message="Workflow exceeded the memory limit of 64 MB",
        retryable=False,
        slow=True,
    ),
    Case(
        "memory_limit_sync",
        js(
            """
            export default function () {
              const hoard = [];
              for (;;) hoard.push('x' + Math.random());
            }
            """
        ),
        limits={"timeout_s": 10, "memory_mb": 64},
        status="failed",
        error="MEMORY_LIMIT",
        slow=True,
    ),
    Case(
        "array_buffer_2gb",
        "export default async () => new ArrayBuffer(2 ** 31).byteLength;",
        limits={"timeout_s": 10},
        status="failed",
        error="MEMORY_LIMIT",
        message="memory limit of 128 MB",
        slow=True,
    ),
    Case(
        "typed_array_1gb_filled",
        js(
            """
            export default async () => {
              await null;
              return new Uint8Array(2 ** 30).fill(1).length;
            }
            """
        ),
        limits={"timeout_s": 10},
        status="failed",
        error="MEMORY_LIMIT",
        slow=True,
    ),
    Case(
        "many_buffers_off_heap",
        js(
            """
            export default async () => {
              const kept = [];
              for (let i = 0; i < 64; i++) {
                await null;
                kept.push(new Uint8Array(16 * 2 ** 20).fill(i));
              }
              return kept.length;
            }
            """
        ),
        limits={"timeout_s": 10, "memory_mb": 128},
        status="failed",
        error="MEMORY_LIMIT",
        slow=True,
    ),
    Case(
        "moderate_buffer_is_fine",
        "export default async () => new Uint8Array(32 * 2 ** 20).fill(7)[123];",
        limits={"timeout_s": 10},
        output=7,
        slow=True,
    ),
]


def _assert_no_steps(result: RunResult) -> None:
    assert result.steps == []


def _assert_redacted_output(result: RunResult, marker: str) -> None:
    assert marker in result.output["plain"], result.output
    assert marker in result.output["sentence"], result.output


CASES_BY_ID = {case.id: case for case in CASES}
assert len(CASES_BY_ID) == len(CASES), "case ids must be unique"
