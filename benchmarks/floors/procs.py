"""Start the servers a benchmark measures, wait until they are ready, and stop them for good.

Each service runs in a session of its own (`start_new_session`), with its output in a log
file (never an unread pipe, which would block it once full). `stop()` sends SIGTERM to the
service, waits, then SIGKILLs whatever is left of it and of every descendant seen while it
ran (a Celery worker's sandboxes live in sessions of their own), and answers the pids that
were still alive at the end — the caller raises if that list is not empty.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_web_args(port: int) -> list[str]:
    """The Procfile's `web` flags, with its defaults and the same environment overrides."""
    return [
        "--bind", f"127.0.0.1:{port}",
        "--workers", os.environ.get("WEB_CONCURRENCY") or "2",
        "--threads", os.environ.get("WEB_THREADS") or "4",
        "--access-logfile", "-",
        "--error-logfile", "-",
    ]  # fmt: skip


class Service:
    def __init__(self, name: str, argv: list[str], *, cwd: Path, env: dict, log_dir: Path):
        self.name = name
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self._seen: dict[int, psutil.Process] = {}

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._remember()
        return self

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _remember(self) -> None:
        """Record the service and its descendants, so that stop() can find them all."""
        if self.process is None:
            return
        try:
            root = psutil.Process(self.process.pid)
            self._seen.setdefault(root.pid, root)
            for child in root.children(recursive=True):
                self._seen.setdefault(child.pid, child)
        except psutil.Error:
            pass

    def processes(self) -> list[psutil.Process]:
        """The service's process and its live descendants (remembered for stop())."""
        self._remember()
        return [proc for proc in self._seen.values() if _alive(proc)]

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.process.returncode}:\n{self.log_text()[-3000:]}"
            )

    def wait_http(self, port: int, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                try:
                    conn.request("GET", path)
                    if conn.getresponse().status < 500:
                        self._remember()
                        return
                finally:
                    conn.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s")
            time.sleep(0.1)

    def wait_log(self, needle: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log_text():
            self._check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name}: no {needle!r} after {timeout:.0f} s:\n{self.log_text()[-3000:]}"
                )
            time.sleep(0.05)
        self._remember()

    def stop(self, grace: float = 15.0) -> list[int]:
        """SIGTERM, wait up to `grace` seconds, SIGKILL the rest. Answers the pids still
        alive afterwards (should be none)."""
        if self.process is None:
            return []
        self._remember()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        deadline = time.monotonic() + 3
        for proc in self._seen.values():  # descendants normally exit with their parent
            with contextlib.suppress(psutil.Error):
                proc.wait(max(0.0, deadline - time.monotonic()))
        for proc in self._seen.values():
            with contextlib.suppress(psutil.Error):
                if proc.is_running():  # is_running() also checks the pid was not reused
                    proc.kill()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)
        leftovers = []
        for proc in self._seen.values():
            with contextlib.suppress(psutil.Error):
                proc.wait(2)
            with contextlib.suppress(psutil.Error):
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    leftovers.append(proc.pid)
        return leftovers


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def process_cpu(proc: psutil.Process) -> float:
    """CPU seconds of a process and of its children that it has already reaped."""
    try:
        times = proc.cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


class CpuMeter:
    """CPU seconds per group of processes between two snapshots.

    A group's figure is the change of the sum, over its live processes, of their own CPU plus
    that of the children they have reaped: a process that ends inside the window still counts,
    through its parent. `split` carves a part out of a group (e.g. a worker's sandboxes): that
    part counts the processes matching the predicate that are alive at the end (their CPU
    inside the window), and the group keeps the rest — including matching processes that
    ended inside the window, whose CPU went to their parent."""

    def __init__(self, groups: dict, split: dict | None = None) -> None:
        self.groups = groups  # name -> callable answering [psutil.Process]
        self.split = split or {}  # part name -> (group name, predicate(process) -> bool)

    def snapshot(self) -> dict:
        snap: dict = {"machine": _machine_busy()}
        for name, find in self.groups.items():
            snap[name] = {(p.pid, _created(p)): (process_cpu(p), p) for p in find()}
        return snap

    def delta(self, before: dict, after: dict) -> dict[str, float]:
        out = {"machine": after["machine"] - before["machine"]}
        for name in self.groups:
            out[name] = sum(v for v, _ in after[name].values()) - sum(
                v for v, _ in before[name].values()
            )
        for part, (origin, matches) in self.split.items():
            total = 0.0
            for key, (value, proc) in after[origin].items():
                with contextlib.suppress(psutil.Error):
                    if matches(proc):
                        total += value - before[origin].get(key, (0.0, None))[0]
            out[part] = total
            out[origin] -= total
        return out


def _created(proc: psutil.Process) -> float:
    try:
        return proc.create_time()
    except psutil.Error:
        return 0.0


def _machine_busy() -> float:
    times = psutil.cpu_times()
    return sum(
        getattr(times, field, 0.0)
        for field in ("user", "nice", "system", "irq", "softirq", "steal")
    )


class Services:
    """A group of services stopped together, in reverse order, whatever happens."""

    def __init__(self) -> None:
        self.items: list[Service] = []

    def add(self, service: Service) -> Service:
        self.items.append(service)
        service.start()
        return service

    def stop_all(self) -> None:
        leftovers: dict[str, list[int]] = {}
        for service in reversed(self.items):
            left = service.stop()
            if left:
                leftovers[service.name] = left
        self.items.clear()
        if leftovers:
            raise RuntimeError(f"processes left behind after SIGKILL: {leftovers}")

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()
