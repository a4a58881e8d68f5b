"""Serve the sandbox's `fastn.*` calls with the caller's Host, and record the steps.

Runs in the caller's thread (the one inside `run_workflow`), so the Host may use the
caller's database connection and tenancy. Requests come from untrusted JavaScript:
the prelude's checks give friendly errors, the checks here are the ones that count.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from apps.runtime.errors import HostError
from apps.runtime.redact import REDACTED, Redactor
from apps.runtime.steps import KINDS as STEP_KINDS
from apps.runtime.steps import LocalSteps

logger = logging.getLogger("apps.runtime")

MAX_STEPS = 5000
MAX_KEY_LENGTH = 256
MAX_NAME_LENGTH = 256
MAX_SQL_LENGTH = 1_000_000
MAX_LINE = 10_000_000
SCOPES = ("ORG", "INVOCATION")


class Host(Protocol):
    """Services a run may use, supplied by the caller. Called in the caller's thread.

    Optionally a host also has `attach_redactor(redactor)`, called once before the run with
    the run's `Redactor`: values it adds (credentials a host injects into requests) are
    redacted like secrets wherever the run's results are kept."""

    def state_get(self, key: str, *, scope: str) -> Any: ...
    def state_set(self, key: str, value: Any, *, scope: str, ttl: int | None) -> None: ...
    def state_delete(self, key: str, *, scope: str) -> None: ...
    def state_incr(
        self, key: str, by: int | float, *, scope: str, ttl: int | None
    ) -> int | float: ...
    def state_set_if_absent(self, key: str, value: Any, *, scope: str, ttl: int | None) -> bool: ...
    def state_compare_and_set(
        self, key: str, expected: Any, value: Any, *, scope: str, ttl: int | None
    ) -> bool: ...
    def secret_get(self, name: str) -> tuple[str, str]: ...
    def env_config_get(self, key: str) -> str | None: ...
    def db_query(self, sql: str, params: list[Any]) -> dict[str, Any]: ...
    def connector_call(self, connector: str, action: str, params: Any) -> Any: ...

    # Optional: durable steps (see steps.py). A host without them gets LocalSteps.
    # def step_begin(self, name, kind, options, line, again) -> dict
    # def step_started(self, starts) -> None   steps begun in the isolate without asking
    # def step_flush(self) -> None              write what the host kept back (before a call)
    # def step_end(self, name, output_json, start) -> dict
    # def step_fail(self, name, error, start) -> dict


class _Invalid(Exception):
    """A request the prelude would not have sent: bad arguments."""


def json_default(value: Any) -> Any:
    """Values a database-backed host commonly returns that JSON does not know."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return (
            float(value) if value == value.to_integral_value() or abs(value) < 1e15 else str(value)
        )
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _text(args: dict[str, Any], field: str, limit: int) -> str:
    value = args.get(field)
    if not isinstance(value, str) or not value:
        raise _Invalid(f"{field} must be a non-empty string")
    if len(value) > limit:
        raise _Invalid(f"{field} must be at most {limit} characters")
    return value


def _scope(args: dict[str, Any]) -> str:
    scope = args.get("scope", "ORG")
    if scope is None:
        return "ORG"
    if not isinstance(scope, str) or scope.upper() not in SCOPES:
        raise _Invalid('scope must be "ORG" or "INVOCATION"')
    return scope.upper()


def _ttl(args: dict[str, Any]) -> int | None:
    ttl = args.get("ttl")
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0 or ttl != ttl:
        raise _Invalid("ttl must be a positive number of seconds")
    return int(-(-ttl // 1))


def _number(args: dict[str, Any], field: str) -> int | float:
    value = args.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Invalid(f"{field} must be a finite number")
    return value


@dataclass(frozen=True)
class _Call:
    kind: str
    name: str
    args: dict[str, Any]
    invoke: Callable[[Host], Any]
    secret: bool = False
    step: bool = False  # served by the steps host (steps.py)
    recorded: bool = True  # in the run's call trace


def _parse(name: str, args: dict[str, Any]) -> _Call:
    if name == "state.get":
        key, scope = _text(args, "key", MAX_KEY_LENGTH), _scope(args)
        return _Call(
            "state", name, {"key": key, "scope": scope}, lambda h: h.state_get(key, scope=scope)
        )
    if name == "state.set":
        key, scope, ttl = _text(args, "key", MAX_KEY_LENGTH), _scope(args), _ttl(args)
        value = args.get("value")
        return _Call(
            "state",
            name,
            {"key": key, "value": value, "scope": scope, "ttl": ttl},
            lambda h: h.state_set(key, value, scope=scope, ttl=ttl),
        )
    if name == "state.delete":
        key, scope = _text(args, "key", MAX_KEY_LENGTH), _scope(args)
        return _Call(
            "state", name, {"key": key, "scope": scope}, lambda h: h.state_delete(key, scope=scope)
        )
    if name == "state.incr":
        key, scope, ttl = _text(args, "key", MAX_KEY_LENGTH), _scope(args), _ttl(args)
        by = _number(args, "by")
        return _Call(
            "state",
            name,
            {"key": key, "by": by, "scope": scope, "ttl": ttl},
            lambda h: _checked_number(h.state_incr(key, by, scope=scope, ttl=ttl)),
        )
    if name == "state.setIfAbsent":
        key, scope, ttl = _text(args, "key", MAX_KEY_LENGTH), _scope(args), _ttl(args)
        value = args.get("value")
        return _Call(
            "state",
            name,
            {"key": key, "value": value, "scope": scope, "ttl": ttl},
            lambda h: bool(h.state_set_if_absent(key, value, scope=scope, ttl=ttl)),
        )
    if name == "state.compareAndSet":
        key, scope, ttl = _text(args, "key", MAX_KEY_LENGTH), _scope(args), _ttl(args)
        expected, value = args.get("expected"), args.get("value")
        return _Call(
            "state",
            name,
            {"key": key, "expected": expected, "value": value, "scope": scope, "ttl": ttl},
            lambda h: bool(h.state_compare_and_set(key, expected, value, scope=scope, ttl=ttl)),
        )
    if name == "secrets.get":
        secret = _text(args, "name", MAX_NAME_LENGTH)
        return _Call("secrets", name, {"name": secret}, lambda h: h.secret_get(secret), secret=True)
    if name == "envConfig.get":
        key = _text(args, "key", MAX_KEY_LENGTH)
        return _Call("envConfig", name, {"key": key}, lambda h: h.env_config_get(key))
    if name == "db.query":
        sql = _text(args, "sql", MAX_SQL_LENGTH)
        params = args.get("params") or []
        if not isinstance(params, list):
            raise _Invalid("params must be an array")
        return _Call("db", name, {"sql": sql, "params": params}, lambda h: h.db_query(sql, params))
    if name == "connector":
        connector = _text(args, "connector", MAX_NAME_LENGTH)
        action = _text(args, "action", MAX_NAME_LENGTH)
        params = args.get("params")
        return _Call(
            "connector",
            f"connector.{connector}.{action}",
            {"params": params},
            lambda h: h.connector_call(connector, action, params),
        )
    if name.startswith("step."):
        return _parse_step(name, args)
    raise _Invalid(f"unknown call {name!r}")


def _parse_step(name: str, args: dict[str, Any]) -> _Call:
    step = _text(args, "name", MAX_NAME_LENGTH)
    if name == "step.begin":
        kind = args.get("kind")
        if kind not in STEP_KINDS:
            raise _Invalid("unknown step kind")
        options, again = args.get("options"), bool(args.get("again"))
        return _Call(
            "step",
            f"step.{kind}",
            {"name": step},
            lambda h: h.step_begin(step, kind, options, args.get("line"), again),
            step=True,
            recorded=not again,
        )
    start = _step_start(args.get("start"))
    if name == "step.end":
        output = args.get("output")
        if not isinstance(output, str):
            raise _Invalid("output must be JSON text")
        return _Call(
            "step", name, {"name": step}, lambda h: h.step_end(step, output, start), step=True,
            recorded=False,
        )  # fmt: skip
    if name == "step.fail":
        error = args.get("error")
        return _Call(
            "step", name, {"name": step}, lambda h: h.step_fail(step, error, start), step=True,
            recorded=False,
        )  # fmt: skip
    raise _Invalid(f"unknown call {name!r}")


def _step_start(value: Any) -> dict[str, Any] | None:
    """How a step that began without asking the host began: {name, line, start (epoch ms),
    options}; None when the host was told already."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("start"), int | float):
        raise _Invalid("malformed step start")
    name = value.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH:
        raise _Invalid("malformed step start")
    return {
        "name": name,
        "line": _line(value.get("line")),
        "start": float(value["start"]),
        "options": value.get("options"),
    }


def _line(value: Any) -> int | None:
    """The 1-based line of the user's code that made the call, as the prelude reports it
    (None when it could not tell: a workflow that tampered with Error's stack settings)."""
    if type(value) is not int or not 0 < value <= MAX_LINE:
        return None
    return value


def _details(details: Any) -> dict[str, Any] | None:
    """A host error's details as plain JSON (None when there are none or they are not JSON:
    the error itself still reaches the workflow)."""
    if not isinstance(details, dict) or not details:
        return None
    try:
        return json.loads(json.dumps(details, default=json_default, allow_nan=False))
    except (TypeError, ValueError):
        logger.warning("dropped the details of a host error: not JSON-serialisable")
        return None


def _checked_number(answer: Any) -> int | float:
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        raise TypeError("state_incr must return a number")
    return answer


def _secret_value(name: str, answer: Any, redactor: Redactor) -> Any:
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        raise TypeError("secret_get must return (type, value)")
    kind, raw = answer
    if not isinstance(raw, str):
        raise TypeError("a secret's value must be a string")
    redactor.add(raw)
    if kind != "json":
        return raw
    try:
        value = json.loads(raw)
    except ValueError:
        raise HostError("SECRET_INVALID", f"Secret {name} is not valid JSON") from None
    redactor.add(value)
    return value


def _iso(epoch_s: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch_s, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def clip(value: Any, limit: int) -> Any:
    """The value itself, or a marker with a JSON preview when it is over `limit` bytes."""
    if value is None or isinstance(value, bool | int | float):
        return value
    try:
        text = json.dumps(value, default=json_default, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(value)
    size = len(text.encode("utf-8"))
    if size <= limit:
        return value
    preview = text.encode("utf-8")[:limit].decode("utf-8", "ignore")
    return {"truncated": True, "bytes": size, "preview": preview}


class Bridge:
    def __init__(self, host: Host, redactor: Redactor, step_value_limit: int) -> None:
        self.host = host
        self.redactor = redactor
        self.step_value_limit = step_value_limit
        self.steps: list[dict[str, Any]] = []
        self.unrecorded = 0
        self.detached_failure: dict[str, Any] | None = None
        # Durable steps when the host stores them, else steps that live as long as the run.
        self.step_host = host if callable(getattr(host, "step_begin", None)) else LocalSteps()
        self.flush_steps = getattr(self.step_host, "step_flush", None)
        attach = getattr(host, "attach_redactor", None)
        if callable(attach):
            attach(redactor)

    def serve(self, request: bytes) -> bytes:
        """Answer one request (JSON `{name, args}`) with a JSON `{ok}` or `{err}`."""
        started = time.time()
        clock = time.perf_counter()
        try:
            message = json.loads(request)
            name, args = message["name"], message["args"]
            if not isinstance(name, str) or not isinstance(args, dict):
                raise _Invalid("malformed request")
            call = _parse(name, args)
            detached = message.get("detached") is True
            line = _line(message.get("line"))
            step_starts = message.get("started")
            if step_starts is not None:
                if not isinstance(step_starts, list):
                    raise _Invalid("malformed request")
                step_starts = [_step_start(item) for item in step_starts]
            if call.step:
                args["line"] = line
                if call.name == "step.end" and self.redactor.active:
                    # A stored result outlives the run: secrets it read never reach storage.
                    call = _parse_step(name, {**args, "output": self.redactor.text(args["output"])})
        except (ValueError, KeyError, TypeError, _Invalid) as exc:
            detail = str(exc) if isinstance(exc, _Invalid) else "malformed request"
            return self._error_reply("INVALID_ARGUMENT", detail, permanent=True)

        result: Any = None
        error: dict[str, Any] | None = None
        reply = b""
        duration_ms = 0.0
        try:
            try:
                if step_starts:
                    self.step_host.step_started(step_starts)
                elif not call.step and self.flush_steps is not None:
                    # Steps the host keeps back are written before anything else is done.
                    self.flush_steps()
                result = call.invoke(self.step_host if call.step else self.host)
            finally:
                duration_ms = (time.perf_counter() - clock) * 1000
            if call.secret:
                result = _secret_value(call.args["name"], result, self.redactor)
            reply = json.dumps(
                {"ok": result},
                default=json_default,
                ensure_ascii=False,
                allow_nan=False,
                separators=(",", ":"),
            ).encode("utf-8")
        except HostError as exc:
            error = {
                "code": str(exc.code),
                "message": str(exc.message),
                "permanent": bool(exc.permanent),
            }
            details = _details(exc.details)
            if details is not None:
                error["details"] = details
        except Exception:
            # The operator gets the traceback; the workflow only a plain sentence.
            logger.exception("host call %s failed", call.name)
            error = {
                "code": "HOST_ERROR",
                "message": f"{call.name} failed: internal error",
                "permanent": False,
            }
        if error is not None and detached and self.detached_failure is None:
            # Nobody waits for this answer: the run's end reports it (api.py).
            self.detached_failure = error
        if not call.recorded:
            return self._reply(reply, error)
        # The whole request (or reply) within the limit means every value in it is too,
        # which spares serialising each value again just to measure it.
        self._record(
            call,
            line,
            result,
            error,
            started,
            duration_ms,
            args_fit=len(request) <= self.step_value_limit,
            result_fits=len(reply) <= self.step_value_limit,
        )
        return self._reply(reply, error)

    def _reply(self, reply: bytes, error: dict[str, Any] | None) -> bytes:
        if error is not None:
            return json.dumps({"err": error}, ensure_ascii=False).encode("utf-8")
        return reply

    def _error_reply(self, code: str, message: str, *, permanent: bool) -> bytes:
        return json.dumps(
            {"err": {"code": code, "message": message, "permanent": permanent}}
        ).encode()

    def _record(
        self,
        call: _Call,
        line: int | None,
        result: Any,
        error: dict[str, Any] | None,
        started: float,
        duration_ms: float,
        *,
        args_fit: bool,
        result_fits: bool,
    ) -> None:
        if len(self.steps) >= MAX_STEPS:
            self.unrecorded += 1
            return
        limit = self.step_value_limit
        if call.secret and error is None:
            result = REDACTED
        args = dict(call.args) if args_fit else {k: clip(v, limit) for k, v in call.args.items()}
        recorded_error = None
        if error is not None:
            result = None
            recorded_error = {"code": error["code"], "message": error["message"]}
            if "details" in error:
                recorded_error["details"] = clip(error["details"], limit)
        elif not result_fits:
            result = clip(result, limit)
        self.steps.append(
            {
                "kind": call.kind,
                "name": call.name,
                "args": args,
                "result": result,
                "error": recorded_error,
                "startedAt": _iso(started),
                "durationMs": round(duration_ms, 3),
                "line": line,
            }
        )

    def final_steps(self) -> list[dict[str, Any]]:
        """The steps with every secret read during the run redacted."""
        if not self.redactor.active:
            return self.steps
        return [self.redacted_step(step) for step in self.steps]

    def redacted_step(self, step: dict[str, Any]) -> dict[str, Any]:
        redact = self.redactor
        out = dict(step)
        for field in ("args", "result", "error"):
            out[field] = _redact_clipped(redact, step[field])
        return out


def _redact_clipped(redactor: Redactor, value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("truncated") is True and isinstance(value.get("preview"), str):
            return {**value, "preview": redactor.cut_text(value["preview"])}
        return {redactor.text(str(k)): _redact_clipped(redactor, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_clipped(redactor, item) for item in value]
    if isinstance(value, str):
        return redactor.text(value)
    return value
