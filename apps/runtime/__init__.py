"""The workflow runtime: run a workflow's JavaScript in a sandbox process, safely.

A leaf package: no Django, no ORM. The caller passes the code, the `ctx`, a `Host`
that implements the `fastn.*` services, and `Limits`; it gets a `RunResult`::

    from apps.runtime import HostError, Limits, run_workflow

    result = run_workflow(code, ctx, host, Limits(timeout_s=30), cancel=event)
    result.status      # "completed" | "failed" | "timeout" | "cancelled" | "suspended"
                       # (a durable run's attempt ended to sleep or wait: see steps.py)
    result.output      # the JSON return value (None unless completed)
    result.error       # {"code", "message", "line", "column", "stack"} or None; plus
                       # "details" when a host error with details ended the run
    result.logs        # [{"level", "message", "time"}] captured from console.*
    result.steps       # one per fastn.* call: kind, name, args, result, error,
                       # startedAt, durationMs (values clipped to max_step_value_bytes),
                       # line (the 1-based line of the user's code that made the call,
                       # or None when the workflow tampered with Error's stack settings)
    result.duration_ms, result.retryable

`run_workflow(..., progress=callback)` also hands `callback(logs, steps)` the entries and
steps recorded since its last call while the run goes on, as the sandbox reports them (its
logs every 50 ms, and always ahead of a host call), in the caller's thread between frames, so
it must be quick; they are capped and redacted like the final ones (with the secrets read so
far). An exception in the callback is logged and the callback dropped; the RunResult is the
authoritative trace either way.

`Limits(timeout_s=60, memory_mb=128, max_output_bytes=1_000_000, max_log_entries=1000,
max_log_bytes=256_000, max_step_value_bytes=8_000)`. `memory_mb` caps the V8 heap
(a hard limit, checked at garbage collection) and the growth of the sandbox's resident
memory during the run (`memory_mb` + 32 MB, sampled every 50 ms), which bounds
ArrayBuffers and other off-heap memory; RLIMIT_DATA (3 x `memory_mb` + 256 MB) makes
absurd allocations fail at once. The CPU rlimit sits 2 s above `timeout_s`.

Error codes: SYNTAX_ERROR, NO_DEFAULT_EXPORT, RUNTIME_ERROR, TIMEOUT, MEMORY_LIMIT,
OUTPUT_TOO_LARGE, NOT_SERIALIZABLE, CANCELLED, SANDBOX_CRASHED. Error lines and columns,
and the stack, are in the user's file (`<slug>.js`).

`retryable` says whether a retry can succeed; only transient failures are retried ("never
code, data, or out-of-memory errors"). It is True for TIMEOUT, SANDBOX_CRASHED, and a
RUNTIME_ERROR whose thrown value has `retryable === true`: one marked with
`throw fastn.retryable(err)` (an Error is marked and returned as it is, a message becomes an
Error) or `err.retryable = true`, or a host error for a transient failure
(`HostError(permanent=False)`: a connector's network error, timeout, 429 or 5xx) that the
code let escape or rethrew. It is False for everything else: other thrown errors (TypeErrors
included), a host error the host called permanent, SYNTAX_ERROR, NO_DEFAULT_EXPORT,
MEMORY_LIMIT, OUTPUT_TOO_LARGE, NOT_SERIALIZABLE, completed and cancelled runs. (A worker
lost with its run is the executions reaper's business, not the runtime's.)

The `Host` protocol (all synchronous, called in the caller's thread; raise
`HostError(code, message, permanent=True, details=None)` for failures the workflow may
catch — it sees `Error(message)` with `.code`, `.retryable` and each field of `details`
(a connector failure's `.step` and `.datasourceDebug`); when such an error ends the run,
`result.error["details"]` is `{"code": code, **details}`, redacted and capped. A host may
also offer `attach_redactor(redactor)`: the runtime calls it before the run, and values the
host adds to it (credentials it injects into requests) are redacted like secrets):

    state_get(key, *, scope) -> JSON | None        scope is "ORG" or "INVOCATION"
    state_set(key, value, *, scope, ttl) -> None   ttl: whole seconds or None
    state_delete(key, *, scope) -> None
    state_incr(key, by, *, scope, ttl) -> number   atomic; missing/expired counts as 0
    state_set_if_absent(key, value, *, scope, ttl) -> bool             atomic; True = wrote
    state_compare_and_set(key, expected, value, *, scope, ttl) -> bool  atomic; True = wrote
    secret_get(name) -> (type, raw)                type "text" or "json"
    env_config_get(key) -> str | None
    db_query(sql, params) -> {"rows": [...], "rowCount": n}
    connector_call(connector, action, params) -> JSON   slug as written in code

What workflows see: `export default async function (ctx) {...}` (also arrow, named
and non-async functions, `export { main as default }`, top-level await); the global
`fastn` — `state.get/set/delete(key, {scope, ttl})` (get answers null for a missing
key), the atomic `state.incr(key, by = 1, opts)` (the new number; a non-number rejects with
code STATE_NOT_A_NUMBER), `state.setIfAbsent(key, value, opts)` and
`state.compareAndSet(key, expected, value, opts)` (whether they wrote; values compare as
JSON, null expects a missing key), `secrets.get(name)`, `envConfig.get(key)` (undefined
when unset), `db.query(sql, params)`, `connector.<slug>.<action>(params)` (alias
`connectors`), `retryable(err)`, `step.do/sleep/sleepUntil/waitForEvent` (durable steps,
also `ctx.step` and the default export's second argument: see steps.py; a host may store
them through `step_begin/step_end/step_fail`, else they live in memory for the run) — and
`new Fastn({...})` returning it; `console.*`
(Node-like formatting), `setTimeout`, `btoa`/`atob`. There is no `require`, `process`,
`fetch`, `import`, `eval`, `new Function` or `WebAssembly` (each fails with a clear
error). Every run gets a fresh V8 isolate. Secret values read during a run (4+
characters; plain, JSON-escaped, URL-encoded, hex in any case, and base64/base64url at every
alignment: see `redact.py`) are replaced by `[REDACTED]` in logs, output, steps and errors.
Work still pending when the default export settles is discarded, and the caller clears
INVOCATION-scoped state when the run is over.

Where the JavaScript runs: never in the caller's process. A pool of warm sandbox
processes (`python -I apps/runtime/sandbox.py`, minimal environment, length-prefixed
JSON over pipes) serves one run each at a time, with the next fresh isolate already
prepared while idle; host calls travel back over the pipe and are served in the
caller's thread. The caller kills a sandbox at the deadline or on cancel and the pool
starts a replacement in the background. Pool size, given by the caller to
`configure_pool(PoolSettings(...))` (the console reads `FASTN_SANDBOX_POOL_SIZE`,
`FASTN_SANDBOX_POOL_MAX`, `FASTN_SANDBOX_MAX_RUNS` and `FASTN_SANDBOX_PYTHON` in its settings):
2 kept warm, growing to 8 under concurrency, a sandbox recycled after 500 runs by default.
`get_pool()` / `shutdown_pool()` manage it (shutdown
also runs at exit; a forked child builds its own pool). Each sandbox process confines itself
before its first run (`confine.py`: namespaces, the `fastn-sandbox` user when root, rlimits,
a seccomp filter refusing sockets, processes and exec).
"""

from __future__ import annotations

from apps.runtime.api import Limits, RunResult, run_workflow
from apps.runtime.bridge import Host
from apps.runtime.errors import HostError
from apps.runtime.pool import PoolSettings, configure_pool, get_pool, shutdown_pool

__all__ = [
    "Host",
    "HostError",
    "Limits",
    "PoolSettings",
    "RunResult",
    "configure_pool",
    "get_pool",
    "run_workflow",
    "shutdown_pool",
]
