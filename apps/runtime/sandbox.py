"""The sandbox process: runs untrusted workflow JavaScript on behalf of its parent.

`apps.runtime.pool` starts it as `python -I apps/runtime/sandbox.py` with an almost
empty environment. It imports only the standard library and py_mini_racer (never the
project, never Django), holds no credentials, and speaks only to its parent over
stdin/stdout. The parent kills it at a run's deadline, which is the only reliable way
to stop JavaScript spinning after an `await`.

Before its first run it confines itself (`confine.py`, loaded by path): as root, its own
mount, network and IPC namespaces, a read-only filesystem with a private /tmp, then the
`fastn-sandbox` user; in every case rlimits, no new privileges and a seccomp filter
refusing sockets, new processes and exec. What could not be applied is listed in the
first `ready` frame (`"missing"`), which the pool logs once.

Protocol: frames of a 4-byte big-endian length and a body. The body is one line of
JSON (the header), optionally followed by a newline and a raw blob that is passed on
without re-encoding::

    parent -> sandbox  run    {"t": "run", "heap": B, "rss": B, "data": B, "cpu": s} + script
                       ret    {"t": "ret", "id": n} + reply JSON text
    sandbox -> parent  ready  {"t": "ready", "pid": n}  (after start and after every run;
                              the first also has "missing": [...] when confinement is partial)
                       log    {"t": "log", "dropped": 0|1} + [[level, epoch ms, text, cut], ...]
                       call   {"t": "call", "id": n} + request JSON text
                       done   {"t": "done", "dropped": 0|1} + meta JSON + "\\n" + output JSON

One run:

1. While idle, a fresh MiniRacer already holds the prelude and the host-call bridge,
   so a run pays only for compiling and calling the workflow.
2. `run` arrives: apply the heap, memory and CPU limits, evaluate the script
   (which starts the default export) and poll once; a run that did no I/O has
   finished by then.
3. Otherwise forward host calls until the JavaScript side reports it is done. This
   happens on V8's own thread, inside `notifyHost()` (see prelude.js): it writes each
   `call` to stdout and, while calls are outstanding, waits on stdin for the `ret`
   frames and hands them to the JavaScript through a shared buffer, so a host call
   costs no round trip into the isolate and no hop through the event loop. The event
   loop watches stdin only between runs.
4. Send the remaining logs and `done`, lift the limits, close the isolate, prepare the
   next one, then send `ready`.

Memory: `heap` is V8's hard heap limit (checked at GC, so the heap overshoots it by
up to ~2x before the isolate is terminated). `rss` bounds the growth of resident
memory during the run; the watcher samples it, which is what catches ArrayBuffers and
other memory outside the V8 heap. `data` is RLIMIT_DATA on top of the current data
segment: a coarse kernel-enforced backstop (set well above the others, because V8
maps writable regions well before it touches them) that makes absurd allocations
fail at once. RLIMIT_AS is unusable: V8 reserves ~1 TB of address space up front.

A watcher thread streams logs every 50 ms (so logs written before a runaway loop
survive the kill), notices a V8 heap-limit termination (a run that runs out of heap
after an await never settles) or too much resident memory, and exits when the parent
dies or when cleanup after a run hangs (work left spinning after the run settled).
The logs written before a host call also go out just ahead of its `call` frame, so the
parent has them while it serves the call (which may take long).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import select
import signal
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

FRAME_LENGTH = struct.Struct(">I")
# A hard stop for a confused or hostile peer; real frames are bounded by the limits.
MAX_FRAME_BYTES = 512 * 1024 * 1024

# Exit status after a run hit the memory limit, so the parent can tell it from a crash.
EXIT_MEMORY = 3
EXIT_CLEANUP_HUNG = 4
EXIT_WATCHER_FAILED = 5
EXIT_PROTOCOL = 6

V8_FLAGS = ("--single-threaded", "--disallow-code-generation-from-strings")
LOG_LEVELS = ("log", "info", "warn", "error", "debug")
WATCH_INTERVAL_S = 0.05
# Closing an isolate and preparing the next takes milliseconds; longer means stuck.
CLEANUP_LIMIT_S = 2.0
MEMORY_META = '{"status":"failed","error":{"code":"MEMORY_LIMIT"}}\n'
# V8's own text for a script that does not compile: "name:LINE: SyntaxError: ...",
# then the source line and a caret line under the offending token.
_PARSE_HEAD = re.compile(r"^.*?:(\d+): (.*)$")
_LOG_RECORD = struct.Struct("<5H")
_LOG_DATA_OFFSET = 16
# The host-call channel (prelude.js): 8 int32 (operation, request chunk length, more
# request chunks follow, pump wait in ms, reply status, reply id, reply chunk length,
# more reply chunks follow), then the request and the reply areas of UTF-16 units.
_CHANNEL_REQUEST = struct.Struct("<3i")
_CHANNEL_WAIT = struct.Struct("<i")
_CHANNEL_REPLY = struct.Struct("<4i")
_REPLY_HEADER_OFFSET = 16
_CHANNEL_CAPACITY = 65536
_REQUEST_OFFSET = 32
_REPLY_OFFSET = _REQUEST_OFFSET + _CHANNEL_CAPACITY * 2
_CHANNEL_BYTES = _REPLY_OFFSET + _CHANNEL_CAPACITY * 2
_OP_CALL = 1
_OP_PUMP = 2
_OP_DONE = 3
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_READ_CHUNK = 1 << 18


def encode_frame(header: dict[str, Any], blob: bytes = b"") -> bytes:
    body = json.dumps(header, separators=(",", ":")).encode()
    if blob:
        body = b"%s\n%s" % (body, blob)
    return FRAME_LENGTH.pack(len(body)) + body


def call_frame(call_id: int, request: bytes) -> bytes:
    """`encode_frame({"t": "call", "id": call_id}, request)`, without the JSON encoder."""
    body = b'{"t":"call","id":%d}\n%s' % (call_id, request)
    return FRAME_LENGTH.pack(len(body)) + body


def ret_frame(call_id: int, reply: bytes) -> bytes:
    """`encode_frame({"t": "ret", "id": call_id}, reply)`, without the JSON encoder."""
    body = b'{"t":"ret","id":%d}\n%s' % (call_id, reply)
    return FRAME_LENGTH.pack(len(body)) + body


def _settled(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def split_body(body: bytes) -> tuple[dict[str, Any], bytes]:
    head, _, blob = body.partition(b"\n")
    header = json.loads(head)
    if not isinstance(header, dict):
        raise ValueError("frame header is not an object")
    return header, blob


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _vm_data_bytes() -> int:
    with open("/proc/self/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def _rss_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE_SIZE


def syntax_error_meta(text: str) -> str:
    """Turn V8's parse-error text into a SYNTAX_ERROR done message (script coordinates)."""
    lines = text.split("\n")
    error: dict[str, Any] = {"code": "SYNTAX_ERROR", "message": lines[0].strip()}
    head = _PARSE_HEAD.match(lines[0])
    if head:
        error["line"] = int(head.group(1))
        error["message"] = head.group(2).strip()
        if len(lines) > 2 and "^" in lines[2]:
            error["column"] = lines[2].index("^") + 1
    return json.dumps({"status": "failed", "error": error}) + "\n"


def _fresh_racer() -> Any:
    """A MiniRacer in a new isolate, without the setTimeout its constructor would evaluate on
    its own: the prelude's source brings it (main), and every eval is a round trip to V8's
    thread (about 0.13 ms of CPU). `_make_context` is internal to py_mini_racer (pinned at
    0.14.1, like the callbacks of `_Server.prepare`)."""
    from py_mini_racer import MiniRacer
    from py_mini_racer._mini_racer import _make_context

    racer = MiniRacer.__new__(MiniRacer)
    racer._own_context_maker = _make_context()
    racer._ctx = racer._own_context_maker.__enter__()
    return racer


class _Isolate:
    """One fresh MiniRacer with the prelude loaded, serving exactly one run."""

    def __init__(
        self,
        racer: Any,
        log_view: memoryview,
        channel: memoryview,
    ):
        self.racer = racer
        self.log_view = log_view
        self.channel = channel
        self.log_pos = 0
        self.finished = False
        self.partial: list[bytes] = []  # the chunks of a long request so far
        self.reply_id = 0
        self.reply_rest = b""  # what is left of a long reply (UTF-16), after its first chunk
        # Set when the run settles after having waited (for host calls or timers).
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # The process's footprint with this isolate ready, the base of the run's memory
        # limits: read here, while idle, not on the run's path.
        self.rss_base = _rss_bytes()
        self.data_base = _vm_data_bytes()


class _Server:
    def __init__(self, prelude: str, missing: list[str] | None = None) -> None:
        self.prelude = prelude
        self.missing = missing or []
        self.out_lock = threading.Lock()
        self.active: _Isolate | None = None
        self.cleanup_started: float | None = None
        self.rss_limit = 0
        self.runs: asyncio.Queue[tuple[dict[str, Any], bytes]] = asyncio.Queue()
        self.input = bytearray()
        self.input_poll = select.poll()
        self.input_poll.register(0, select.POLLIN)
        self.hard_limits = {
            resource.RLIMIT_DATA: resource.getrlimit(resource.RLIMIT_DATA)[1],
            resource.RLIMIT_CPU: resource.getrlimit(resource.RLIMIT_CPU)[1],
        }

    # ---- output -------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        with self.out_lock:
            _write_all(1, data)

    def _flush_logs_locked(self, isolate: _Isolate) -> None:
        view = isolate.log_view
        end = int.from_bytes(view[0:4], "little")
        pos = isolate.log_pos
        if end <= pos:
            return
        started = struct.unpack_from("<d", view, 8)[0]
        records = []
        while pos < end:
            base = _LOG_DATA_OFFSET + pos * 2
            level, ms_high, ms_low, len_high, len_low = _LOG_RECORD.unpack_from(view, base)
            length = (len_high << 16) | len_low
            start = base + _LOG_RECORD.size
            text = view[start : start + 2 * length].tobytes().decode("utf-16-le", "replace")
            level_name = LOG_LEVELS[level & 0xFF] if (level & 0xFF) < len(LOG_LEVELS) else "log"
            records.append([level_name, started + ((ms_high << 16) | ms_low), text, level >> 8])
            pos += 5 + length
        isolate.log_pos = pos
        dropped = int.from_bytes(view[4:8], "little")
        blob = json.dumps(records, ensure_ascii=False).encode("utf-8", "replace")
        _write_all(1, encode_frame({"t": "log", "dropped": dropped}, blob))

    def finish(self, isolate: _Isolate, text: str) -> None:
        """Send the run's last logs and its `done` message, exactly once."""
        with self.out_lock:
            if isolate.finished:
                return
            isolate.finished = True
            self._flush_logs_locked(isolate)
            dropped = int.from_bytes(isolate.log_view[4:8], "little")
            _write_all(1, encode_frame({"t": "done", "dropped": dropped}, text.encode()))
            self.active = None

    # ---- the watcher thread ---------------------------------------------------------------
    def watch(self) -> None:
        try:
            self._watch()
        except MemoryError:
            os._exit(EXIT_MEMORY)
        except BaseException:
            # Without the watcher nobody notices the parent's death: stop instead.
            os._exit(EXIT_WATCHER_FAILED)

    def _watch(self) -> None:
        parent = os.getppid()
        while True:
            time.sleep(WATCH_INTERVAL_S)
            if os.getppid() != parent:
                os._exit(0)
            isolate = self.active
            if isolate is not None:
                with self.out_lock:
                    if isolate is not self.active or isolate.finished:
                        continue
                    self._flush_logs_locked(isolate)
                    out_of_memory = isolate.racer.was_hard_memory_limit_reached() or (
                        self.rss_limit > 0 and _rss_bytes() > self.rss_limit
                    )
                if out_of_memory:
                    self.finish(isolate, MEMORY_META)
                    os._exit(EXIT_MEMORY)
            started = self.cleanup_started
            if started is not None and time.monotonic() - started > CLEANUP_LIMIT_S:
                os._exit(EXIT_CLEANUP_HUNG)

    # ---- limits ---------------------------------------------------------------------------
    def apply_limits(self, isolate: _Isolate, header: dict[str, Any]) -> None:
        rss = int(header.get("rss") or 0)
        self.rss_limit = isolate.rss_base + rss if rss > 0 else 0
        data = int(header.get("data") or 0)
        if data > 0:
            soft = isolate.data_base + data
            hard = self.hard_limits[resource.RLIMIT_DATA]
            if hard != resource.RLIM_INFINITY:
                soft = min(soft, hard)
            resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
        cpu = float(header.get("cpu") or 0)
        if cpu > 0:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            soft = int(usage.ru_utime + usage.ru_stime + cpu) + 1
            hard = self.hard_limits[resource.RLIMIT_CPU]
            if hard != resource.RLIM_INFINITY:
                soft = min(soft, hard)
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    def lift_limits(self) -> None:
        self.rss_limit = 0
        for which, hard in self.hard_limits.items():
            resource.setrlimit(which, (hard, hard))

    # ---- isolates -------------------------------------------------------------------------
    def prepare(self) -> _Isolate:
        racer = _fresh_racer()
        install = racer.eval(self.prelude)
        # py_mini_racer's public wrap_py_function costs ~10 round trips into the isolate
        # per call (unpacking arguments, resolving a promise). Host calls use none: see
        # `notifyHost` below. `mr_make_js_callback` and `handle_callback_from_v8` are
        # internal to py_mini_racer (pinned at 0.14.1); the runtime tests fail at once
        # if they change.
        context = racer._ctx
        loop = asyncio.get_running_loop()
        holder: list[_Isolate] = []

        def on_host(raw_handle: Any) -> None:
            # On V8's thread, while JavaScript waits in `notifyHost()` (see prelude.js).
            # Nothing may escape into ctypes.
            try:
                context._free(raw_handle)
                isolate = holder[0]
                operation = isolate.channel[0]
                if operation == _OP_CALL:
                    self._forward_call(isolate)
                elif operation == _OP_PUMP:
                    self._pump(isolate)
                elif operation == _OP_DONE:
                    loop.call_soon_threadsafe(_settled, isolate.done)
            except MemoryError:
                os._exit(EXIT_MEMORY)
            except BaseException:
                os._exit(EXIT_PROTOCOL)

        # A function whose Python side runs synchronously on V8's thread, while its
        # JavaScript caller waits (py_mini_racer's own dispatch would queue the callback
        # to the event loop instead).
        host_id = next(context._next_async_callback_id)
        notify_host = context._value_handle_to_python(
            context._wrap_raw_handle(context._dll.mr_make_js_callback(context._ctx, host_id))
        )
        dispatch = context.handle_callback_from_v8

        def handle_callback(callback_id: int, raw_handle: Any) -> None:
            if callback_id == host_id:
                on_host(raw_handle)
            else:
                dispatch(callback_id, raw_handle)

        object.__setattr__(context, "handle_callback_from_v8", handle_callback)
        shared = install(notify_host)
        # The log buffer, then the host-call channel (prelude.js).
        split = len(shared) - _CHANNEL_BYTES
        isolate = _Isolate(racer, shared[:split], shared[split:])
        shared.release()
        holder.append(isolate)
        return isolate

    # ---- the host-call channel, on V8's thread ---------------------------------------------
    def _forward_call(self, isolate: _Isolate) -> None:
        """Send a request (once its last chunk is in the channel) to the parent, after the
        logs written before it: the parent may spend a while serving the call, and what the
        run logged so far is then already in its hands (the live trace shows it)."""
        channel = isolate.channel
        _op, length, more = _CHANNEL_REQUEST.unpack_from(channel, 0)
        if not 0 <= length <= _CHANNEL_CAPACITY:
            os._exit(EXIT_PROTOCOL)
        chunk = channel[_REQUEST_OFFSET : _REQUEST_OFFSET + 2 * length].tobytes()
        if more:
            isolate.partial.append(chunk)
            return
        if isolate.partial:
            isolate.partial.append(chunk)
            chunk = b"".join(isolate.partial)
            isolate.partial.clear()
        call_id, _, request = chunk.decode("utf-16-le", "replace").partition("\n")
        frame = call_frame(int(call_id), request.encode())
        with self.out_lock:
            if not isolate.finished:
                self._flush_logs_locked(isolate)
                _write_all(1, frame)

    def _pump(self, isolate: _Isolate) -> None:
        """Put the next reply (or its next chunk) into the channel, waiting for it up to
        the milliseconds JavaScript allows; status 0 when none came."""
        channel = isolate.channel
        rest = isolate.reply_rest
        if not rest:
            (wait_ms,) = _CHANNEL_WAIT.unpack_from(channel, 12)
            reply = self._next_reply(max(0, min(wait_ms, 1000)) / 1000)
            if reply is None:
                _CHANNEL_REPLY.pack_into(channel, _REPLY_HEADER_OFFSET, 0, 0, 0, 0)
                return
            isolate.reply_id, text = reply
            rest = text.encode("utf-16-le")
        chunk, rest = rest[: 2 * _CHANNEL_CAPACITY], rest[2 * _CHANNEL_CAPACITY :]
        isolate.reply_rest = rest
        channel[_REPLY_OFFSET : _REPLY_OFFSET + len(chunk)] = chunk
        _CHANNEL_REPLY.pack_into(
            channel, _REPLY_HEADER_OFFSET, 1, isolate.reply_id, len(chunk) // 2, 1 if rest else 0
        )

    def _next_reply(self, wait_s: float) -> tuple[int, str] | None:
        """The next `ret` frame from stdin, within `wait_s` seconds. During a run only V8's
        thread reads stdin (the event loop stops watching it)."""
        deadline = None
        while True:
            frame = self._next_frame()
            if frame is not None:
                header, blob = frame
                if header.get("t") != "ret":
                    os._exit(EXIT_PROTOCOL)  # the parent sends nothing else during a run
                return int(header["id"]), blob.decode()
            if deadline is None:
                deadline = time.monotonic() + wait_s
                remaining = wait_s
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
            if not self.input_poll.poll(int(remaining * 1000 + 0.999)):
                return None
            self._read_input()

    def _next_frame(self) -> tuple[dict[str, Any], bytes] | None:
        buffer = self.input
        if len(buffer) < FRAME_LENGTH.size:
            return None
        (length,) = FRAME_LENGTH.unpack_from(buffer, 0)
        if length > MAX_FRAME_BYTES:
            os._exit(EXIT_PROTOCOL)
        end = FRAME_LENGTH.size + length
        if len(buffer) < end:
            return None
        body = bytes(buffer[FRAME_LENGTH.size : end])
        del buffer[:end]
        return split_body(body)

    def _read_input(self) -> None:
        try:
            chunk = os.read(0, _READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            os._exit(0)
        if not chunk:
            # The parent closed the pipe: nobody is left to serve.
            os._exit(0)
        self.input += chunk

    def close(self, isolate: _Isolate) -> None:
        with self.out_lock:
            if self.active is isolate:
                self.active = None
        isolate.log_view.release()
        isolate.channel.release()
        isolate.racer.close()

    async def execute(self, isolate: _Isolate, header: dict[str, Any], script: str) -> None:
        from py_mini_racer import JSEvalException, JSOOMException, JSParseException

        racer = isolate.racer
        racer.set_hard_memory_limit(int(header["heap"]))
        self.apply_limits(isolate, header)
        with self.out_lock:
            self.active = isolate
        try:
            racer.eval(script)
            result = racer.eval("__fastnPoll()")
            if not isinstance(result, str):
                await isolate.done
                result = racer.eval("__fastnPoll()")
        except JSParseException as exc:
            self.finish(isolate, syntax_error_meta(str(exc)))
            return
        except JSOOMException:
            self.finish(isolate, MEMORY_META)
            os._exit(EXIT_MEMORY)
        except JSEvalException as exc:
            if racer.was_hard_memory_limit_reached():
                self.finish(isolate, MEMORY_META)
                os._exit(EXIT_MEMORY)
            first = str(exc).split("\n", 1)[0]
            error = {"code": "RUNTIME_ERROR", "thrown": first}
            self.finish(isolate, json.dumps({"status": "failed", "error": error}) + "\n")
            return
        if not isinstance(result, str):
            os._exit(EXIT_PROTOCOL)
        self.finish(isolate, result)

    # ---- the main loop --------------------------------------------------------------------
    def on_input(self) -> None:
        """stdin is readable (the event loop watches it only between runs)."""
        try:
            self._read_input()
            while (frame := self._next_frame()) is not None:
                header, blob = frame
                # A `ret` now answers a call made just before its run ended: dropped.
                if header.get("t") == "run":
                    self.runs.put_nowait((header, blob))
        except Exception:
            # Nothing can be served without the input: let the parent see the exit.
            os._exit(EXIT_PROTOCOL)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        os.set_blocking(0, False)
        isolate = self.prepare()
        first: dict[str, Any] = {"t": "ready", "pid": os.getpid()}
        if self.missing:
            first["missing"] = self.missing
        self.write(encode_frame(first))
        while True:
            loop.add_reader(0, self.on_input)
            header, blob = await self.runs.get()
            # From here until the isolate is closed, V8's thread reads the replies.
            loop.remove_reader(0)
            await self.execute(isolate, header, blob.decode())
            self.cleanup_started = time.monotonic()
            self.lift_limits()
            self.close(isolate)
            isolate = self.prepare()
            self.cleanup_started = None
            self.write(encode_frame({"t": "ready", "pid": os.getpid()}))


def _load_confine() -> Any:
    """confine.py, by path: this process never imports the project's package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "fastn_sandbox_confine", Path(__file__).with_name("confine.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _read_frame_blocking() -> tuple[dict[str, Any], bytes]:
    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = os.read(0, count - len(data))
            if not chunk:
                os._exit(EXIT_PROTOCOL)
            data += chunk
        return data

    (length,) = FRAME_LENGTH.unpack(exactly(FRAME_LENGTH.size))
    if length > MAX_FRAME_BYTES:
        os._exit(EXIT_PROTOCOL)
    return split_body(exactly(length))


def _probe(confine: Any, confinement: Any) -> None:
    """`sandbox.py --probe` (tests only; the pool never passes it): confined exactly like
    a serving sandbox, try what an escaped workflow would and report the outcomes."""
    header, _blob = _read_frame_blocking()
    report = confine.probe(header)
    report["missing"] = confinement.missing
    _write_all(1, encode_frame({"t": "probe"}, json.dumps(report).encode()))
    os._exit(0)


def main() -> None:
    # The parent owns this process's lifetime: a Ctrl-C in its terminal is for it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Namespaces first, while this is the only thread; the rest once V8 has read its
    # ICU data, before any run.
    confine = _load_confine()
    confinement = confine.isolate()
    from py_mini_racer import init_mini_racer

    init_mini_racer(flags=V8_FLAGS)
    from py_mini_racer._set_timeout import INSTALL_SET_TIMEOUT

    # mini-racer's setTimeout (the prelude wraps it) and the prelude in one script, whose
    # value is `__fastnInstall`.
    prelude = Path(__file__).with_name("prelude.js").read_text(encoding="utf-8")
    prelude = f"{INSTALL_SET_TIMEOUT}\n{prelude}"
    # The one module a run imports lazily (host calls travel as UTF-16): load it while
    # every file is readable, in case the confined user cannot reach the standard library.
    "".encode("utf-16-le")
    confine.lock(confinement)
    if sys.argv[1:] == ["--probe"]:
        _probe(confine, confinement)
    server = _Server(prelude, confinement.missing)
    threading.Thread(target=server.watch, name="sandbox-watch", daemon=True).start()
    try:
        asyncio.run(server.serve())
    except MemoryError:
        os._exit(EXIT_MEMORY)
    # Never run interpreter shutdown with isolates around (it can hang in V8).
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
