"""Warm sandbox processes, shared by every thread of the calling process.

Sandboxes are started with subprocess (spawn + exec, never fork: V8 is not fork-safe)
as `python -I apps/runtime/sandbox.py`, in their own session, with only PATH and LANG
in the environment: no DATABASE_URL, no keys, nothing from the caller's settings.
Each then confines itself (`confine.py`: as root, the `fastn-sandbox` user, its own
mount and network namespaces, a read-only filesystem; always seccomp and rlimits) and
lists what it could not apply in its first `ready`; the pool logs that once per process.

The pool keeps `PoolSettings.size` (default 2) sandboxes warm and grows on demand to
`max_size` (default 8) while callers are waiting; extra sandboxes idle for a minute are
retired. A sandbox that was killed (deadline, cancel), ran out of memory, crashed, or served
`max_runs` runs is replaced by a background thread, so the next caller does not pay for the
~0.1 s start. The runtime reads no configuration of its own: the caller passes it to
`configure_pool()` (the console does at startup, from FASTN_SANDBOX_* in its settings).

Idle sandboxes are handed out least-recently-used first: a sandbox prepares its next
isolate right after a run, and the oldest idle one has had the longest to finish.

`get_pool()` builds the pool lazily per process; after a fork the child builds its
own (the parent's sandboxes are never touched from the child). `shutdown_pool()`
kills every sandbox and runs at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from apps.runtime.sandbox import FRAME_LENGTH, MAX_FRAME_BYTES, encode_frame, split_body

logger = logging.getLogger("apps.runtime")

SANDBOX_SCRIPT = Path(__file__).with_name("sandbox.py")
SPAWN_TIMEOUT_S = 30.0
IDLE_RETIRE_S = 60.0
# Consecutive start failures after which callers get an error instead of waiting.
MAX_SPAWN_FAILURES = 3
_READ_CHUNK = 1 << 18


class SandboxGone(Exception):
    """The sandbox process exited, or said something that is not the protocol."""


class SendInterrupted(Exception):
    """A frame could not be written before the run's deadline or its cancellation."""


class SandboxUnavailable(Exception):
    """No sandbox could be started."""


@dataclass
class Frame:
    kind: str
    header: dict[str, Any]
    blob: bytes


@dataclass(frozen=True)
class PoolSettings:
    """How the process's pool is built: sandboxes kept warm, the most it grows to while
    callers wait, the runs after which a sandbox is replaced, and the Python that runs
    sandbox.py (it needs mini-racer)."""

    size: int = 2
    max_size: int = 8
    max_runs: int = 500
    python: str = sys.executable

    def __post_init__(self) -> None:
        if self.size < 1 or self.max_size < self.size or self.max_runs < 1:
            raise ValueError(f"unusable sandbox pool settings: {self}")


_settings = PoolSettings()


def configure_pool(settings: PoolSettings) -> None:
    """Build this process's pools with `settings` from now on (a pool already running keeps
    what it was built with until `shutdown_pool()`)."""
    global _settings
    _settings = settings


def _sandbox_command(*args: str) -> list[str]:
    return [_settings.python, "-I", str(SANDBOX_SCRIPT), *args]


_confinement_reported = False
_confinement_lock = threading.Lock()


def _report_confinement(missing: Any) -> None:
    """Say once per process which protections the sandboxes run without."""
    global _confinement_reported
    if not missing:
        return
    with _confinement_lock:  # sandboxes start on several threads at once
        if _confinement_reported:
            return
        _confinement_reported = True
    logger.warning(
        "sandbox processes run without: %s. Run the console as root (make run does, with "
        "scripts/bootstrap.sh creating the fastn-sandbox user) for full confinement.",
        "; ".join(str(item) for item in missing),
    )


def _sandbox_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8"}


class Sandbox:
    """One sandbox process and its two pipes. Used by one thread at a time."""

    def __init__(self, process: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
        self.process = process
        self.pid = process.pid
        self.stderr = stderr
        assert process.stdin is not None and process.stdout is not None
        self._out = process.stdin.fileno()
        self._in = process.stdout.fileno()
        os.set_blocking(self._out, False)
        for fd in (self._out, self._in):
            # Bigger pipes: fewer wake-ups for large results (best effort).
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
        self._buffer = bytearray()
        self._offset = 0
        self._poll = select.poll()
        self._poll.register(self._in, select.POLLIN)
        self.ready = False
        self.runs = 0
        self.idle_since = time.monotonic()
        self.killed = False
        self.gone = False
        self._stderr_mark = 0
        self.missing: list[str] = []  # protections its confinement could not apply

    @classmethod
    def spawn(cls, args: tuple[str, ...] = ()) -> Sandbox:
        # stderr goes to an unnamed file: V8 prints "Fatal ... out of memory" there
        # before it aborts, which is how a crash is told from an exhausted limit.
        stderr = tempfile.TemporaryFile(prefix="fastn-sandbox-")  # noqa: SIM115 - lives with the sandbox
        try:
            process = subprocess.Popen(
                _sandbox_command(*args),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=_sandbox_env(),
                cwd=SANDBOX_SCRIPT.parent,
                close_fds=True,
                start_new_session=True,
                bufsize=0,
            )
        except BaseException:
            stderr.close()
            raise
        return cls(process, stderr)

    # ---- reading ----------------------------------------------------------------------------
    def _take_frame(self) -> Frame | None:
        available = len(self._buffer) - self._offset
        if available < FRAME_LENGTH.size:
            return None
        (length,) = FRAME_LENGTH.unpack_from(self._buffer, self._offset)
        if length > MAX_FRAME_BYTES:
            raise SandboxGone(f"frame of {length} bytes")
        if available < FRAME_LENGTH.size + length:
            return None
        start = self._offset + FRAME_LENGTH.size
        body = bytes(self._buffer[start : start + length])
        self._offset = start + length
        if self._offset == len(self._buffer):
            self._buffer.clear()
            self._offset = 0
        elif self._offset > _READ_CHUNK:
            del self._buffer[: self._offset]
            self._offset = 0
        try:
            header, blob = split_body(body)
        except ValueError as exc:
            raise SandboxGone("unreadable frame") from exc
        kind = header.get("t")
        if not isinstance(kind, str):
            raise SandboxGone("frame without a type")
        return Frame(kind, header, blob)

    def _fill(self) -> None:
        try:
            chunk = os.read(self._in, _READ_CHUNK)
        except OSError as exc:
            self.gone = True
            raise SandboxGone(str(exc)) from exc
        if not chunk:
            self.gone = True
            raise SandboxGone("end of output")
        self._buffer += chunk

    def recv(self, timeout: float) -> Frame | None:
        """The next frame, or None when nothing complete arrived within `timeout` s."""
        frame = self._take_frame()
        if frame is not None:
            return frame
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            remaining = deadline - time.monotonic()
            if not self._poll.poll(max(0, int(remaining * 1000 + 0.999))):
                return None
            self._fill()
            frame = self._take_frame()
            if frame is not None:
                return frame
            if remaining <= 0:
                return None

    # ---- writing ----------------------------------------------------------------------------
    def send(
        self,
        header: dict[str, Any] | bytes,
        blob: bytes = b"",
        *,
        deadline: float | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Write one frame, reading meanwhile so that neither side can block the other.

        A sandbox stuck in synchronous JavaScript stops reading its input, so a large
        frame may never go through: give up (SendInterrupted) at `deadline` or on
        `cancel`. `header` may also be a whole encoded frame (then without `blob`)."""
        view = memoryview(header if isinstance(header, bytes) else encode_frame(header, blob))
        while view:
            try:
                written = os.write(self._out, view)
                view = view[written:]
                continue
            except BlockingIOError:
                pass
            except OSError as exc:
                self.gone = True
                raise SandboxGone(str(exc)) from exc
            if deadline is not None and time.monotonic() >= deadline:
                raise SendInterrupted("deadline")
            if cancel is not None and cancel.is_set():
                raise SendInterrupted("cancelled")
            both = select.poll()
            both.register(self._out, select.POLLOUT)
            both.register(self._in, select.POLLIN)
            for fd, _event in both.poll(50):
                if fd == self._in:
                    self._fill()

    def wait_ready(self, timeout: float, cancel: threading.Event | None = None) -> bool:
        """Wait for the `ready` that follows start-up and every run's cleanup.

        Returns False when cancelled or when `timeout` passes; raises SandboxGone when
        the process has ended."""
        deadline = time.monotonic() + timeout
        while not self.ready:
            remaining = deadline - time.monotonic()
            frame = self.recv(min(max(remaining, 0.0), 0.05))
            # Anything else before `ready` belongs to a run that is over.
            if frame is not None and frame.kind == "ready":
                self.ready = True
                self.missing = frame.header.get("missing") or self.missing
            elif remaining <= 0 or (cancel is not None and cancel.is_set()):
                return False
        return True

    def poll_ready(self) -> bool:
        """Non-blocking: has this idle sandbox reported `ready` yet?"""
        if not self.ready and not self.gone:
            with contextlib.suppress(SandboxGone):
                self.wait_ready(0.0)
        return self.ready and self.alive()

    # ---- ending -----------------------------------------------------------------------------
    def alive(self) -> bool:
        return not self.gone and self.process.poll() is None

    def kill(self) -> None:
        # Through Popen, which signals only a process it has not reaped yet: a bare
        # os.kill(pid) after reaping could hit an unrelated process that reused the pid.
        self.killed = True
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def exit_status(self, timeout: float = 1.0) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def mark_stderr(self) -> None:
        """Remember where this run's diagnostics start in the stderr file."""
        with contextlib.suppress(OSError, ValueError):
            self._stderr_mark = self.stderr.seek(0, os.SEEK_END)

    def stderr_text(self, limit: int = 65536) -> str:
        """What the process wrote to stderr since `mark_stderr` (the first `limit` bytes)."""
        try:
            self.stderr.seek(self._stderr_mark)
            return self.stderr.read(limit).decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def reap(self) -> None:
        """Kill, wait for and release everything of this sandbox."""
        self.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        self.close_files()

    def close_files(self) -> None:
        for stream in (self.process.stdin, self.process.stdout, self.stderr):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()


class SandboxPool:
    def __init__(self, size: int, max_size: int, *, max_runs: int = 500) -> None:
        self.size = size
        self.max_size = max(size, max_size)
        self.max_runs = max_runs
        self.pid = os.getpid()
        self.closed = False
        self._cond = threading.Condition()
        self._idle: deque[Sandbox] = deque()
        self._all: set[Sandbox] = set()
        self._total = 0  # idle + in use + starting
        self._starting = 0
        self._waiting = 0
        self._failures = 0
        self._last_failure = ""
        self.spawn_times: list[float] = []
        with self._cond:
            for _ in range(size):
                self._start_spawn_locked()

    # ---- starting ---------------------------------------------------------------------------
    def _start_spawn_locked(self) -> None:
        self._total += 1
        self._starting += 1
        threading.Thread(target=self._spawn, name="sandbox-spawn", daemon=True).start()

    def _spawn(self) -> None:
        started = time.monotonic()
        sandbox = None
        try:
            sandbox = Sandbox.spawn()
            with self._cond:
                self._all.add(sandbox)
            try:
                ready = sandbox.wait_ready(SPAWN_TIMEOUT_S)
            except SandboxGone:
                raise SandboxGone("it exited during start-up (details in the log)") from None
            if not ready:
                raise SandboxGone(f"it was not ready after {SPAWN_TIMEOUT_S:g}s")
        except Exception as exc:
            if not self.closed:
                detail = sandbox.stderr_text(600).strip() if sandbox is not None else ""
                logger.error("could not start a sandbox process: %s %s", exc, detail)
            with self._cond:
                self._total -= 1
                self._starting -= 1
                self._failures += 1
                self._last_failure = str(exc)
                if sandbox is not None:
                    self._all.discard(sandbox)
                self._cond.notify_all()
            if sandbox is not None:
                sandbox.reap()
            return
        _report_confinement(sandbox.missing)
        with self._cond:
            self._starting -= 1
            self._failures = 0
            self.spawn_times.append(time.monotonic() - started)
            del self.spawn_times[:-100]
            if self.closed:
                self._total -= 1
                self._all.discard(sandbox)
            else:
                sandbox.idle_since = time.monotonic()
                self._idle.append(sandbox)
                sandbox = None
            self._cond.notify_all()
        if sandbox is not None:
            sandbox.reap()

    # ---- handing out ------------------------------------------------------------------------
    def _pick_locked(self) -> Sandbox | None:
        chosen = None
        dead = []
        for sandbox in self._idle:
            if sandbox.poll_ready():
                chosen = sandbox
                break
            if not sandbox.alive():
                dead.append(sandbox)
        for sandbox in dead:
            self._idle.remove(sandbox)
            self._forget_locked(sandbox)
        if chosen is None and self._idle:
            chosen = self._idle[0]
        if chosen is not None:
            self._idle.remove(chosen)
        return chosen

    def _forget_locked(self, sandbox: Sandbox) -> None:
        """Account for a sandbox that leaves the pool; keep the warm size."""
        self._total -= 1
        self._all.discard(sandbox)
        if not self.closed and self._total < self.size:
            self._start_spawn_locked()
        threading.Thread(target=sandbox.reap, name="sandbox-reap", daemon=True).start()

    def acquire(self, cancel: threading.Event | None = None) -> Sandbox | None:
        """A sandbox for one run (maybe still preparing: see `Sandbox.wait_ready`).

        Returns None when `cancel` is set while waiting."""
        with self._cond:
            self._waiting += 1
            try:
                while True:
                    if self.closed:
                        raise SandboxUnavailable("the sandbox pool has been shut down")
                    sandbox = self._pick_locked()
                    if sandbox is not None:
                        return sandbox
                    if self._failures >= MAX_SPAWN_FAILURES:
                        self._failures = 0
                        raise SandboxUnavailable(self._last_failure or "start-up failed")
                    if self._starting < self._waiting and self._total < self.max_size:
                        self._start_spawn_locked()
                    self._cond.wait(0.05 if cancel is not None else 1.0)
                    if cancel is not None and cancel.is_set():
                        return None
            finally:
                self._waiting -= 1

    def release(self, sandbox: Sandbox) -> None:
        """Take back a sandbox whose run ended normally."""
        sandbox.ready = False
        sandbox.runs += 1
        if sandbox.runs >= self.max_runs or not sandbox.alive():
            self.discard(sandbox)
            return
        retired = []
        with self._cond:
            if self.closed:
                retired.append(sandbox)
                self._total -= 1
                self._all.discard(sandbox)
            else:
                now = time.monotonic()
                sandbox.idle_since = now
                self._idle.append(sandbox)
                # Shrink back after a burst: beyond the warm size, long-idle ones go.
                while self._total > self.size and self._idle:
                    oldest = self._idle[0]
                    if now - oldest.idle_since < IDLE_RETIRE_S:
                        break
                    self._idle.popleft()
                    self._total -= 1
                    self._all.discard(oldest)
                    retired.append(oldest)
            self._cond.notify_all()
        for old in retired:
            old.reap()

    def discard(self, sandbox: Sandbox) -> None:
        """Kill a sandbox now; reap it and start a replacement in the background."""
        sandbox.kill()
        with self._cond:
            self._forget_locked(sandbox)
            self._cond.notify_all()

    # ---- ending -----------------------------------------------------------------------------
    def close(self) -> None:
        with self._cond:
            self.closed = True
            sandboxes = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._cond.notify_all()
        for sandbox in sandboxes:
            sandbox.kill()
        for sandbox in sandboxes:
            sandbox.reap()

    def forget(self) -> None:
        """In a forked child: drop the parent's sandboxes without touching them."""
        self.closed = True
        for sandbox in list(self._all):
            sandbox.close_files()
        self._all.clear()
        self._idle.clear()

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"total": self._total, "idle": len(self._idle), "starting": self._starting}


_pool: SandboxPool | None = None
_pool_lock = threading.Lock()


def get_pool() -> SandboxPool:
    """The process's sandbox pool, created on first use (and again after a fork)."""
    global _pool
    pool = _pool
    if pool is not None and pool.pid == os.getpid() and not pool.closed:
        return pool
    with _pool_lock:
        pool = _pool
        if pool is not None and pool.pid != os.getpid():
            pool.forget()
            pool = None
        if pool is None or pool.closed:
            config = _settings
            pool = SandboxPool(config.size, config.max_size, max_runs=config.max_runs)
            _pool = pool
        return pool


def shutdown_pool() -> None:
    """Kill every sandbox of this process (a later `get_pool()` starts afresh)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is None:
        return
    if pool.pid == os.getpid():
        pool.close()
    else:
        pool.forget()


def _after_fork_in_child() -> None:
    # The parent's lock may have been held by another thread at fork time.
    global _pool_lock, _pool
    _pool_lock = threading.Lock()
    if _pool is not None:
        _pool.forget()
        _pool = None


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(shutdown_pool)
