"""`run_workflow`: run one workflow in a sandbox process and collect its result.

One call, in the caller's thread:

1. Prepare the source (cached): rewrite the module into a script, or fail early with
   SYNTAX_ERROR / NO_DEFAULT_EXPORT without touching a sandbox.
2. Take a warm sandbox from the pool and send it the script with the limits.
3. Until the sandbox reports `done`: collect streamed logs and serve every host call
   with `host` (so tenancy and the database connection stay on the caller's side);
   hand what is new to `progress` before waiting for the sandbox again; at the deadline
   or on `cancel`, kill the sandbox.
4. Map what happened to a RunResult: user line numbers in errors and stacks, caps on
   logs, secrets redacted everywhere, the sandbox returned to the pool or replaced.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.runtime import source
from apps.runtime.bridge import Bridge, Host, _redact_clipped, clip, json_default
from apps.runtime.pool import (
    Frame,
    Sandbox,
    SandboxGone,
    SandboxUnavailable,
    SendInterrupted,
    get_pool,
)
from apps.runtime.redact import Redactor
from apps.runtime.sandbox import EXIT_MEMORY, ret_frame
from apps.runtime.steps import MAX_STEP_RESULT_BYTES

logger = logging.getLogger("apps.runtime")

MB = 1024 * 1024
# A run's resident memory may grow by memory_mb + RSS_HEADROOM_MB (V8 bookkeeping,
# compiled code, the bridge); the watcher in the sandbox samples it every 50 ms.
RSS_HEADROOM_MB = 32
# RLIMIT_DATA growth, a kernel-enforced backstop: V8 maps writable memory ~2.2x its
# heap limit before the limit terminates the isolate, so it cannot be tighter.
DATA_FACTOR = 3
DATA_HEADROOM_MB = 256
# The CPU rlimit backs up the wall-clock deadline (a sandbox whose parent vanished).
CPU_GRACE_S = 2.0
READY_TIMEOUT_S = 10.0
# Sandboxes that died while idle are skipped; give up only if new ones keep failing.
START_ATTEMPTS = 5
CANCEL_POLL_S = 0.05
# With a `progress` callback, the longest the runtime waits for the sandbox before handing
# it what was recorded meanwhile (steps of host calls are recorded between frames).
PROGRESS_INTERVAL_S = 0.25
MAX_ERROR_MESSAGE = 16_000
MAX_ERROR_STACK = 64_000
MAX_ERROR_DETAILS = 32_000

COMPLETED, FAILED, TIMEOUT, CANCELLED = "completed", "failed", "timeout", "cancelled"
# A durable run ended its attempt to sleep or wait (steps.py): it resumes in a later one.
SUSPENDED = "suspended"
# Only transient failures are retried (the reference: "never code, data, or out-of-memory
# errors"): the run ran out of time or its sandbox died under it. A RUNTIME_ERROR is retryable
# only when the thrown value says so (`fastn.retryable(err)`, `retryable: true`, or a host error
# for a transient failure that the code let escape); syntax errors, a missing default export,
# thrown errors, memory and output limits and cancelled runs never are.
TRANSIENT = frozenset({"TIMEOUT", "SANDBOX_CRASHED"})
NO_DEFAULT_MESSAGE = (
    "The module has no default export: add `export default async function (ctx) {...}`"
)
_FRAME_LINE = re.compile(r"^\s+at ")
# mini-racer's own scripts (its setTimeout) have no name: "<anonymous>:24:48". Builtins
# ("at new Promise (<anonymous>)") carry no position and stay.
_ENGINE_FRAME = re.compile(r"<anonymous>:\d+:\d+")
_OUT_OF_MEMORY = re.compile(r"out of memory|allocation failed|MemoryError|\bOOM\b", re.IGNORECASE)


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 60.0  # wall clock; the sandbox also gets a CPU rlimit just above it
    memory_mb: int = 128  # V8 heap cap; off-heap memory is bounded by the same figure + headroom
    max_output_bytes: int = 1_000_000
    max_log_entries: int = 1000
    max_log_bytes: int = 256_000
    max_step_value_bytes: int = 8_000  # each recorded step argument/result beyond this is clipped

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError("timeout_s must be positive")
        for name in (
            "memory_mb",
            "max_output_bytes",
            "max_log_entries",
            "max_log_bytes",
            "max_step_value_bytes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


@dataclass
class RunResult:
    status: str  # "completed" | "failed" | "timeout" | "cancelled"
    output: Any  # the JSON result; None unless completed
    error: dict[str, Any] | None  # {"code", "message", "line", "column", "stack"}
    logs: list[dict[str, Any]] = field(default_factory=list)  # {"level", "message", "time"}
    steps: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0
    retryable: bool = False


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _iso_ms(epoch_ms: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# What to do instead, per kind of value JSON cannot hold (the prelude reports which).
NOT_JSON_HINTS = {
    "function": "return data, not a function (call it, or leave it out)",
    "symbol": "use a string instead",
    "BigInt": "convert it with String() or Number()",
}
MAX_RESULT_PATH = 300


def _not_serialisable_message(error: dict[str, Any]) -> str:
    """Why a result was refused: what and where ("output.handler is a function, …") when
    the sandbox found a value JSON cannot hold; otherwise V8's reason (a cycle, a toJSON
    that threw)."""
    kind, path = error.get("kind"), error.get("path")
    if kind in NOT_JSON_HINTS and isinstance(path, str) and path.startswith("output"):
        if len(path) > MAX_RESULT_PATH:
            tail = path[-(MAX_RESULT_PATH - 1) :]
            starts = [i for i in (tail.find("."), tail.find("[")) if i >= 0]
            path = "…" + tail[min(starts) :] if starts else "…" + tail
        subject = "The workflow returned" if path == "output" else f"{path} is"
        return f"{subject} a {kind}, which is not JSON-serialisable: {NOT_JSON_HINTS[kind]}"
    reason = str(error.get("message") or "")[:500]
    return (
        f"Result is not JSON-serialisable: {reason}"
        if reason
        else "Result is not JSON-serialisable"
    )


def _error(
    code: str,
    message: str,
    line: int | None = None,
    column: int | None = None,
    stack: str | None = None,
) -> dict[str, Any]:
    return {"code": code, "message": message, "line": line, "column": column, "stack": stack}


def _failed(code: str, message: str, started: float, **where: Any) -> RunResult:
    return RunResult(
        status=FAILED,
        output=None,
        error=_error(code, message, **where),
        duration_ms=(time.monotonic() - started) * 1000,
        retryable=code in TRANSIENT,
    )


def _host_details(error: dict[str, Any]) -> dict[str, Any] | None:
    """The details of the host error that ended the run (`HostError.details`), with its code:
    `{"code": "DATASOURCE_CONNECTION_ERROR", "step": …, "datasourceDebug": …}`."""
    details = error.get("hostDetails")
    if not isinstance(details, dict):
        return None
    code = error.get("hostCode")
    return {"code": str(code)[:100], **details} if isinstance(code, str) else dict(details)


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Called in the caller's thread with the log entries and steps recorded since the last call,
# formatted, capped and redacted like the final ones (with the secrets read so far). It runs
# on the run's path, between frames: it must be quick (hand the data to another thread).
Progress = Callable[[list[dict[str, Any]], list[dict[str, Any]]], None]


@dataclass
class _LogCap:
    """How much of the log cap is used: the final logs and the live stream cut at one rule."""

    entries: int = 0
    bytes: int = 0
    full: bool = False


def run_workflow(
    code: str,
    ctx: dict[str, Any],
    host: Host,
    limits: Limits = Limits(),
    *,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run `code` (a module with a default-exported function) with `ctx` in a sandbox.

    `progress(logs, steps)`, if given, hears the run's new log entries and steps while it
    runs, as the sandbox reports them; the RunResult stays the one authoritative trace."""
    started = time.monotonic()
    if cancel is not None and cancel.is_set():
        return RunResult(CANCELLED, None, _error("CANCELLED", "Workflow run was cancelled"))
    prepared = source.prepare(code)
    if prepared.error is not None:
        problem = prepared.error
        return _failed(
            problem.code, problem.message, started, line=problem.line, column=problem.column
        )
    if not prepared.has_default and prepared.parse_error is None:
        return _failed("NO_DEFAULT_EXPORT", NO_DEFAULT_MESSAGE, started)
    try:
        ctx_json = json.dumps(ctx, default=json_default, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"ctx must be JSON-serialisable: {exc}") from None
    # A durable run's finished steps go in with the code: the isolate answers them from here,
    # without a host call each, so a replay costs one read whatever the number of steps.
    preload = getattr(host, "step_preload", None)
    limits_json = json.dumps(
        {
            "maxOutputBytes": limits.max_output_bytes,
            "maxLogEntries": limits.max_log_entries,
            "maxLogBytes": limits.max_log_bytes,
            "storedSteps": preload() if callable(preload) else {},
            "maxStepResultBytes": MAX_STEP_RESULT_BYTES,
        },
        default=json_default,
        ensure_ascii=False,
    )
    script = source.assemble(prepared, ctx_json, limits_json, source.script_name(ctx))
    return _Run(prepared, script, host, limits, cancel, progress).execute()


@dataclass
class _Outcome:
    status: str
    output: Any = None
    error: dict[str, Any] | None = None
    healthy: bool = False  # the sandbox may serve another run
    marked_retryable: bool = False  # the thrown value asked for a retry


class _Run:
    def __init__(
        self,
        prepared: source.Prepared,
        script: source.Script,
        host: Host,
        limits: Limits,
        cancel: threading.Event | None,
        progress: Progress | None = None,
    ) -> None:
        self.prepared = prepared
        self.script = script
        self.limits = limits
        self.cancel = cancel
        self.redactor = Redactor()
        self.bridge = Bridge(host, self.redactor, limits.max_step_value_bytes)
        self.raw_logs: list[tuple[str, float, str, bool]] = []
        self.raw_log_chars = 0
        self.logs_dropped = False
        self._position = re.compile(re.escape(script.name) + r":(\d+):(\d+)")
        self.progress = progress
        self.reported_logs = 0  # raw log entries and steps already handed to `progress`
        self.reported_steps = 0
        self.live_cap = _LogCap()

    # ---- driving the sandbox ------------------------------------------------------------------
    def execute(self) -> RunResult:
        limits = self.limits
        header = {
            "t": "run",
            "heap": limits.memory_mb * MB,
            "rss": (limits.memory_mb + RSS_HEADROOM_MB) * MB,
            "data": (DATA_FACTOR * limits.memory_mb + DATA_HEADROOM_MB) * MB,
            "cpu": limits.timeout_s + CPU_GRACE_S,
        }
        blob = self.script.text.encode("utf-8")
        pool = get_pool()
        started = time.monotonic()
        sandbox: Sandbox | None = None
        for _attempt in range(START_ATTEMPTS):
            try:
                sandbox = pool.acquire(self.cancel)
            except SandboxUnavailable as exc:
                return self._result(
                    _Outcome(
                        FAILED,
                        error=_error(
                            "SANDBOX_CRASHED", f"Could not start a sandbox process: {exc}"
                        ),
                    ),
                    started,
                )
            if sandbox is None:
                return self._result(self._cancelled(), started)
            try:
                if not sandbox.wait_ready(READY_TIMEOUT_S, self.cancel):
                    pool.discard(sandbox)
                    sandbox = None
                    if self.cancel is not None and self.cancel.is_set():
                        return self._result(self._cancelled(), started)
                    continue
                started = time.monotonic()
                deadline = started + limits.timeout_s
                sandbox.mark_stderr()
                sandbox.send(header, blob, deadline=deadline, cancel=self.cancel)
                break
            except SandboxGone:
                pool.discard(sandbox)
                sandbox = None
            except SendInterrupted:
                pool.discard(sandbox)
                return self._result(self._interrupted(), started)
        if sandbox is None:
            return self._result(
                _Outcome(
                    FAILED,
                    error=_error(
                        "SANDBOX_CRASHED",
                        "Could not start a sandbox process: it exited before the run",
                    ),
                ),
                started,
            )
        outcome = self._serve(sandbox, deadline)
        failure = self.bridge.detached_failure
        if failure is not None and outcome.status in (COMPLETED, SUSPENDED, FAILED):
            # A step's result the workflow did not wait for could not be stored: the run must
            # not end as if it had been (a replay would run the step again). The failure may
            # have reached the isolate first and ended the run there: it is the same cause.
            message = f"A step's result could not be stored: {failure['message']}"
            outcome = _Outcome(
                FAILED,
                error=_error("STEP_NOT_STORED", message),
                healthy=outcome.healthy,
                marked_retryable=not failure.get("permanent", True),
            )
        if outcome.healthy:
            pool.release(sandbox)
        else:
            pool.discard(sandbox)
        return self._result(outcome, started)

    def _serve(self, sandbox: Sandbox, deadline: float) -> _Outcome:
        cancel = self.cancel
        while True:
            if cancel is not None and cancel.is_set():
                sandbox.kill()
                return self._cancelled()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                sandbox.kill()
                return self._timed_out()
            wait = min(remaining, CANCEL_POLL_S) if cancel is not None else remaining
            if self.progress is not None:
                # Before waiting (and so before serving the next call, which may take long):
                # the sandbox sends a call's preceding logs ahead of it.
                self._report_progress()
                wait = min(wait, PROGRESS_INTERVAL_S)
            try:
                frame = sandbox.recv(wait)
                if frame is None:
                    continue
                if frame.kind == "log":
                    self._take_logs(frame)
                elif frame.kind == "call":
                    call_id = frame.header.get("id")
                    if type(call_id) is not int:
                        raise SandboxGone("call without an id")
                    reply = self.bridge.serve(frame.blob)
                    sandbox.send(ret_frame(call_id, reply), deadline=deadline, cancel=cancel)
                elif frame.kind == "done":
                    self.logs_dropped |= bool(frame.header.get("dropped"))
                    return self._done(frame)
            except SendInterrupted:
                continue  # the checks at the top of the loop decide what happened
            except SandboxGone:
                return self._crashed(sandbox)

    def _cancelled(self) -> _Outcome:
        return _Outcome(CANCELLED, error=_error("CANCELLED", "Workflow run was cancelled"))

    def _timed_out(self) -> _Outcome:
        message = f"Workflow exceeded its timeout of {_seconds(self.limits.timeout_s)}"
        return _Outcome(TIMEOUT, error=_error("TIMEOUT", message))

    def _interrupted(self) -> _Outcome:
        if self.cancel is not None and self.cancel.is_set():
            return self._cancelled()
        return self._timed_out()

    def _memory(self) -> _Outcome:
        message = f"Workflow exceeded the memory limit of {self.limits.memory_mb} MB"
        return _Outcome(FAILED, error=_error("MEMORY_LIMIT", message))

    def _crashed(self, sandbox: Sandbox) -> _Outcome:
        if not sandbox.gone:
            # Still running but no longer speaking the protocol: nothing to wait for.
            sandbox.kill()
        status = sandbox.exit_status(1.0)
        if status is None:
            sandbox.kill()
            status = sandbox.exit_status(1.0)
        if status == EXIT_MEMORY or _OUT_OF_MEMORY.search(sandbox.stderr_text()):
            return self._memory()
        if status == -signal.SIGXCPU:
            return self._timed_out()
        if status is not None and status < 0:
            how = (
                f"was killed by {signal.Signals(-status).name}"
                if -status in signal.valid_signals()
                else f"was killed by signal {-status}"
            )
        else:
            how = f"exited with status {status}"
        return _Outcome(
            FAILED, error=_error("SANDBOX_CRASHED", f"The sandbox process {how} during the run")
        )

    # ---- what the sandbox reported ------------------------------------------------------------
    def _take_logs(self, frame: Frame) -> None:
        self.logs_dropped |= bool(frame.header.get("dropped"))
        try:
            records = json.loads(frame.blob)
        except ValueError as exc:
            raise SandboxGone("unreadable logs") from exc
        # Bound what an isolate that ignores its own caps can make us hold.
        room_entries = self.limits.max_log_entries + 1
        room_chars = 2 * self.limits.max_log_bytes + 65536
        for record in records if isinstance(records, list) else ():
            if len(self.raw_logs) >= room_entries or self.raw_log_chars >= room_chars:
                self.logs_dropped = True
                return
            if not (isinstance(record, list) and len(record) == 4):
                continue
            level, epoch_ms, text, cut = record
            if not isinstance(text, str) or not isinstance(epoch_ms, int | float):
                continue
            level = level if level in ("log", "info", "warn", "error", "debug") else "log"
            self.raw_logs.append((level, float(epoch_ms), text, bool(cut)))
            self.raw_log_chars += len(text)

    def _done(self, frame: Frame) -> _Outcome:
        meta_bytes, _, output = frame.blob.partition(b"\n")
        try:
            meta = json.loads(meta_bytes)
        except ValueError as exc:
            raise SandboxGone("unreadable result") from exc
        if not isinstance(meta, dict):
            raise SandboxGone("unreadable result")
        if meta.get("status") == COMPLETED:
            if len(output) > self.limits.max_output_bytes:
                return self._too_large(len(output))
            try:
                value = json.loads(output)
            except ValueError as exc:
                raise SandboxGone("unreadable output") from exc
            return _Outcome(COMPLETED, output=value, healthy=True)
        if meta.get("status") == SUSPENDED:
            return _Outcome(SUSPENDED, healthy=True)
        error = meta.get("error")
        if not isinstance(error, dict):
            error = {}
        code = error.get("code")
        if code == "MEMORY_LIMIT":
            return self._memory()
        if code == "SYNTAX_ERROR":
            return self._syntax_error(error)
        if code == "NO_DEFAULT_EXPORT":
            got = str(error.get("got", "undefined"))[:40]
            message = NO_DEFAULT_MESSAGE
            if got != "undefined":
                message = (
                    f"The default export is {got}, not a function: "
                    "use `export default async function (ctx) {...}`"
                )
            return _Outcome(FAILED, error=_error("NO_DEFAULT_EXPORT", message), healthy=True)
        if code == "NOT_SERIALIZABLE":
            message = _not_serialisable_message(error)
            return _Outcome(FAILED, error=_error("NOT_SERIALIZABLE", message), healthy=True)
        if code == "OUTPUT_TOO_LARGE":
            size = error.get("size")
            return self._too_large(size if isinstance(size, int) else None)
        return self._runtime_error(error)

    def _too_large(self, size: int | None) -> _Outcome:
        limit = self.limits.max_output_bytes
        what = f"{size:,} bytes of JSON" if size else "larger"
        message = f"Result is too large: {what}, over the output limit of {limit:,} bytes"
        return _Outcome(FAILED, error=_error("OUTPUT_TOO_LARGE", message), healthy=True)

    def _syntax_error(self, error: dict[str, Any]) -> _Outcome:
        text = str(error.get("message") or "SyntaxError: Invalid or unexpected token")
        line, column = error.get("line"), error.get("column")
        lines = self.prepared.lines
        if isinstance(line, int) and 1 <= line <= len(lines):
            line, column = self._user_position(line, column if isinstance(column, int) else 1)
        else:
            # V8 stumbled over the wrapper after the user's code: something the user
            # opened (a brace, a string, a comment) was never closed.
            text = "SyntaxError: Unexpected end of input"
            line = max((n for n, content in enumerate(lines, 1) if content.strip()), default=1)
            column = len(lines[line - 1].rstrip()) + 1
        message = f"{text} at line {line}, column {column}"
        return _Outcome(FAILED, error=_error("SYNTAX_ERROR", message, line, column), healthy=True)

    def _runtime_error(self, error: dict[str, Any]) -> _Outcome:
        marked = error.get("retryable") is True
        details = _host_details(error)
        if "thrown" in error:
            message = f"Uncaught {error['thrown']}"
            return _Outcome(
                FAILED,
                error=_error("RUNTIME_ERROR", message),
                healthy=True,
                marked_retryable=marked,
            )
        name = str(error.get("name") or "Error")
        text = str(error.get("message") or "")
        if name == "RangeError" and text.startswith("Array buffer allocation failed"):
            return self._memory()
        message = f"{name}: {text}" if text else name
        stack, line, column = self._map_stack(str(error.get("stack") or ""))
        recorded = _error("RUNTIME_ERROR", message, line, column, stack or None)
        if details is not None:
            recorded["details"] = details
        return _Outcome(FAILED, error=recorded, healthy=True, marked_retryable=marked)

    # ---- positions --------------------------------------------------------------------------
    def _user_position(self, line: int, column: int) -> tuple[int, int]:
        lines = self.prepared.lines
        if line > len(lines):
            return len(lines), len(lines[-1]) + 1
        if line == 1:
            column = max(1, column - self.script.prefix_length)
        return line, column

    def _remap(self, text: str) -> tuple[str, tuple[int, int] | None]:
        first = None

        def replace(match: re.Match[str]) -> str:
            nonlocal first
            line, column = self._user_position(int(match.group(1)), int(match.group(2)))
            if first is None:
                first = (line, column)
            return f"{self.script.name}:{line}:{column}"

        return self._position.sub(replace, text), first

    def _map_stack(self, stack: str) -> tuple[str, int | None, int | None]:
        """Drop the runtime's own frames; put user positions into the rest."""
        kept = []
        where = None
        for line in stack.split("\n"):
            if _FRAME_LINE.match(line):
                if "fastn:runtime" in line or _ENGINE_FRAME.search(line):
                    continue
                line, first = self._remap(line)
                if where is None:
                    where = first
            kept.append(line)
        line_no, column = where if where else (None, None)
        return "\n".join(kept), line_no, column

    # ---- while it runs ------------------------------------------------------------------------
    def _report_progress(self) -> None:
        """Hand `progress` what was logged and called since the last report. A failing
        callback is logged and dropped: watching a run must never break it."""
        if self.reported_logs == len(self.raw_logs) and self.reported_steps == len(
            self.bridge.steps
        ):
            return
        raw = self.raw_logs[self.reported_logs :]
        self.reported_logs += len(raw)
        logs = self._capped_logs(raw, self.live_cap) if raw else []
        steps = self.bridge.steps[self.reported_steps :]
        self.reported_steps += len(steps)
        if self.redactor.active:
            steps = [self.bridge.redacted_step(step) for step in steps]
        if not (logs or steps) or self.progress is None:
            return
        try:
            self.progress(logs, steps)
        except Exception:
            logger.exception("progress callback failed; the run goes on without it")
            self.progress = None

    # ---- the result ---------------------------------------------------------------------------
    def _capped_logs(
        self, raw_logs: list[tuple[str, float, str, bool]], cap: _LogCap
    ) -> list[dict[str, Any]]:
        """Format, redact and cap raw log records, continuing from `cap` (which they update):
        at most max_log_entries entries and max_log_bytes bytes, the last entry cut short."""
        limits = self.limits
        redactor = self.redactor
        entries: list[dict[str, Any]] = []
        remap = f"{self.script.name}:1:"
        for level, epoch_ms, raw, cut in raw_logs:
            if cap.full:
                break
            if cap.entries >= limits.max_log_entries:
                cap.full = True
                break
            text = redactor.cut_text(raw) if cut else redactor.text(raw)
            if remap in text:
                text = self._remap(text)[0]
            encoded = text.encode("utf-8")
            if cap.bytes + len(encoded) > limits.max_log_bytes:
                text = encoded[: limits.max_log_bytes - cap.bytes].decode("utf-8", "ignore")
                entries.append({"level": level, "message": text, "time": _iso_ms(epoch_ms)})
                cap.full = True
                break
            cap.bytes += len(encoded)
            cap.entries += 1
            entries.append({"level": level, "message": text, "time": _iso_ms(epoch_ms)})
        return entries

    def _final_logs(self) -> list[dict[str, Any]]:
        limits = self.limits
        cap = _LogCap()
        entries = self._capped_logs(self.raw_logs, cap)
        limited = self.logs_dropped or cap.full
        now = _iso_ms(time.time() * 1000)
        if self.bridge.unrecorded:
            entries.append(
                {
                    "level": "warn",
                    "message": (
                        f"Step trace limit reached: {self.bridge.unrecorded} further "
                        "fastn.* calls were not recorded"
                    ),
                    "time": now,
                }
            )
        if limited:
            message = (
                f"Log limit reached: console output beyond {limits.max_log_entries} entries "
                f"or {limits.max_log_bytes:,} bytes was dropped"
            )
            entries.append({"level": "warn", "message": message, "time": now})
        return entries

    def _result(self, outcome: _Outcome, started: float) -> RunResult:
        redactor = self.redactor
        error = outcome.error
        if error is not None:
            error = dict(error)
            error["message"] = _cap(redactor.text(str(error["message"])), MAX_ERROR_MESSAGE)
            if error.get("stack"):
                error["stack"] = _cap(redactor.text(str(error["stack"])), MAX_ERROR_STACK)
            if error.get("details") is not None:
                details = clip(error["details"], MAX_ERROR_DETAILS)
                error["details"] = _redact_clipped(redactor, details)
        output = redactor.value(outcome.output) if outcome.status == COMPLETED else None
        code = error["code"] if error else None
        return RunResult(
            status=outcome.status,
            output=output,
            error=error,
            logs=self._final_logs(),
            steps=self.bridge.final_steps(),
            duration_ms=(time.monotonic() - started) * 1000,
            retryable=outcome.status in (FAILED, TIMEOUT)
            and (
                code in TRANSIENT
                or (code in ("RUNTIME_ERROR", "STEP_NOT_STORED") and outcome.marked_retryable)
            ),
        )
