"""The sandbox processes: deadlines, cancellation, the pool, isolation from the caller."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from apps.runtime import HostError, Limits, get_pool, run_workflow, shutdown_pool
from apps.runtime.pool import SandboxPool
from tests.runtime.conftest import InMemoryHost

ROOT = Path(__file__).resolve().parents[2]
TRIVIAL = "export default async () => ({ ok: true });"
SPIN_AFTER_AWAIT = "export default async () => { await null; while (true) {} };"
PR_SET_CHILD_SUBREAPER = 36


def _ok(result) -> bool:
    return result.status == "completed" and result.output == {"ok": True}


def test_timeout_kills_the_sandbox_and_the_next_run_is_not_stalled():
    pool = get_pool()
    run_workflow(TRIVIAL, {}, InMemoryHost())
    started = time.monotonic()
    result = run_workflow(SPIN_AFTER_AWAIT, {}, InMemoryHost(), Limits(timeout_s=1))
    elapsed = time.monotonic() - started
    assert result.status == "timeout"
    assert result.error["message"] == "Workflow exceeded its timeout of 1s"
    assert 1 <= elapsed < 2
    started = time.monotonic()
    after = run_workflow(TRIVIAL, {}, InMemoryHost())
    assert _ok(after)
    # Another warm sandbox serves the next run while the replacement starts.
    assert time.monotonic() - started < 0.5
    deadline = time.monotonic() + 5
    while pool.stats()["total"] < pool.size and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pool.stats()["total"] >= pool.size


def test_cancel_during_a_spin_returns_promptly():
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    started = time.monotonic()
    result = run_workflow(SPIN_AFTER_AWAIT, {}, InMemoryHost(), Limits(timeout_s=30), cancel=cancel)
    elapsed = time.monotonic() - started
    timer.join()
    assert result.status == "cancelled"
    assert result.error["code"] == "CANCELLED"
    assert result.retryable is False
    assert elapsed < 0.3 + 0.5
    assert _ok(run_workflow(TRIVIAL, {}, InMemoryHost()))


def test_cancel_while_a_host_call_is_pending_and_before_start():
    cancel = threading.Event()

    class SlowHost(InMemoryHost):
        def state_get(self, key, *, scope):
            cancel.set()
            return super().state_get(key, scope=scope)

    code = (
        "export default async () => { await fastn.state.get('a'); await new Promise(() => {}); };"
    )
    result = run_workflow(code, {}, SlowHost(), Limits(timeout_s=30), cancel=cancel)
    assert result.status == "cancelled"
    assert [step["name"] for step in result.steps] == ["state.get"]
    already = run_workflow(TRIVIAL, {}, InMemoryHost(), cancel=cancel)
    assert already.status == "cancelled"


def test_logs_written_before_a_synchronous_spin_are_kept():
    code = (
        "export default function () {\n"
        "  console.log('one');\n  console.warn('two');\n  for (;;) {}\n}"
    )
    result = run_workflow(code, {}, InMemoryHost(), Limits(timeout_s=0.5))
    assert result.status == "timeout"
    assert [(e["level"], e["message"]) for e in result.logs] == [("log", "one"), ("warn", "two")]


def test_concurrent_runs_from_several_threads_do_not_mix():
    code = (
        "export default async (ctx) => {\n"
        "  await fastn.state.set('who', ctx.input.me);\n"
        "  console.log('I am', ctx.input.me);\n"
        "  return [ctx.input.me, await fastn.state.get('who')];\n"
        "}\n"
    )
    failures: list[str] = []

    def worker(me: int) -> None:
        host = InMemoryHost()
        for round_ in range(8):
            result = run_workflow(code, {"input": {"me": me}}, host)
            if (
                result.status != "completed"
                or result.output != [me, me]
                or result.logs[0]["message"] != f"I am {me}"
            ):
                failures.append(f"{me}/{round_}: {result}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_pool_grows_under_load_up_to_its_max_and_serves_everyone(monkeypatch):
    from apps.runtime import api

    pool = SandboxPool(size=1, max_size=3)
    monkeypatch.setattr(api, "get_pool", lambda: pool)
    code = "export default async () => new Promise((r) => setTimeout(() => r(1), 150));"
    sizes: list[int] = []
    results = []

    def worker() -> None:
        results.append(run_workflow(code, {}, InMemoryHost()))
        sizes.append(pool.stats()["total"])

    try:
        threads = [threading.Thread(target=worker) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [r.status for r in results] == ["completed"] * 5
        assert max(sizes) == 3  # grew for the waiting callers, and no further
        assert pool.stats()["total"] == 3
    finally:
        pool.close()


def test_a_sandbox_that_died_while_idle_is_replaced_transparently():
    pool = get_pool()
    assert _ok(run_workflow(TRIVIAL, {}, InMemoryHost()))
    for sandbox in list(pool._idle):
        os.kill(sandbox.pid, signal.SIGKILL)
    time.sleep(0.05)
    assert _ok(run_workflow(TRIVIAL, {}, InMemoryHost()))


def test_sandboxes_get_a_minimal_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://user:hunter2@db/app")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "very-secret")
    pool = SandboxPool(size=1, max_size=1)
    try:
        sandbox = pool.acquire()
        assert sandbox is not None
        environ = Path(f"/proc/{sandbox.pid}/environ").read_bytes().split(b"\0")
        names = sorted(item.split(b"=", 1)[0].decode() for item in environ if item)
        assert names == ["LANG", "PATH"]
        process = psutil.Process(sandbox.pid)
        assert process.cmdline()[1:] == ["-I", str(ROOT / "apps" / "runtime" / "sandbox.py")]
        # Own session: a Ctrl-C meant for the worker does not reach the sandboxes.
        assert os.getsid(sandbox.pid) == sandbox.pid
        modules = run_workflow(
            "export default async () => [typeof process, typeof require, typeof globalThis.fastn];",
            {},
            InMemoryHost(),
        )
        assert modules.output == ["undefined", "function", "object"]
        pool.release(sandbox)
    finally:
        pool.close()


def test_host_exceptions_do_not_leak_tracebacks(caplog):
    class BrokenHost(InMemoryHost):
        def state_get(self, key, *, scope):
            raise RuntimeError("database password is hunter2")

    code = (
        "export default async () => {\n"
        "  try { await fastn.state.get('a'); } catch (e) { return [e.message, e.code]; }\n"
        "};\n"
    )
    with caplog.at_level("ERROR", logger="apps.runtime"):
        result = run_workflow(code, {}, BrokenHost())
    assert result.output == ["state.get failed: internal error", "HOST_ERROR"]
    assert "hunter2" not in json.dumps(result.steps)
    assert "RuntimeError" in caplog.text  # the operator still gets the traceback

    uncaught = run_workflow("export default async () => fastn.state.get('a');", {}, BrokenHost())
    assert uncaught.error["message"] == "Error: state.get failed: internal error"
    assert "Traceback" not in json.dumps(uncaught.error)


def test_host_error_from_db_keeps_code_and_message():
    host = InMemoryHost(db={"DROP TABLE x": HostError("FORBIDDEN_SQL", "DROP is not allowed here")})
    code = (
        "export default async () => {\n"
        "  try { await fastn.db.query('DROP TABLE x'); }\n"
        "  catch (e) { return e.code + ': ' + e.message; }\n"
        "};\n"
    )
    assert run_workflow(code, {}, host).output == "FORBIDDEN_SQL: DROP is not allowed here"


def test_static_errors_are_answered_without_a_sandbox(monkeypatch):
    from apps.runtime import api

    def no_pool():
        raise AssertionError("the pool must not be used")

    monkeypatch.setattr(api, "get_pool", no_pool)
    result = run_workflow("const x = 1;\n", {}, InMemoryHost())
    assert result.error["code"] == "NO_DEFAULT_EXPORT"
    result = run_workflow("import a from 'b';\nexport default a;\n", {}, InMemoryHost())
    assert result.error["code"] == "SYNTAX_ERROR"


def test_invalid_limits_and_ctx_are_caller_errors():
    with pytest.raises(ValueError, match="timeout_s"):
        Limits(timeout_s=0)
    with pytest.raises(ValueError, match="memory_mb"):
        Limits(memory_mb=0)
    with pytest.raises(ValueError, match="ctx must be JSON-serialisable"):
        run_workflow(TRIVIAL, {"input": object()}, InMemoryHost())


def test_large_ctx_and_output_round_trip():
    ctx = {
        "input": {
            "rows": [{"id": i, "name": f"row {i}", "tags": ["a", "é", "😀"]} for i in range(5000)]
        }
    }
    result = run_workflow("export default async (ctx) => ctx.input;", ctx, InMemoryHost())
    assert result.status == "completed"
    assert result.output == ctx["input"]


def test_host_calls_of_every_size_cross_the_channel_intact():
    # The request and reply areas hold 65536 UTF-16 units: longer requests go in chunks
    # (a surrogate pair may straddle two), longer replies by the slower path.
    code = textwrap.dedent(
        """
        export default async function () {
          const sizes = [0, 1, 65500, 65535, 65536, 65537, 140000];
          const out = [];
          for (const n of sizes) {
            for (const pad of ["", "x"]) {
              const value = pad + "😀é".repeat(Math.floor(n / 3)) + "a".repeat(n % 3);
              await fastn.state.set("k", value);
              const back = await fastn.state.get("k");
              out.push(back === value ? "ok" : "bad " + n + " " + String(back).length);
            }
          }
          const many = await Promise.all(
            Array.from({ length: 50 }, (_, i) => fastn.state.set("p" + i, "v".repeat(i * 3000))),
          );
          const got = await Promise.all(
            Array.from({ length: 50 }, (_, i) => fastn.state.get("p" + i)),
          );
          out.push(many.length, got.every((v, i) => v === "v".repeat(i * 3000)));
          return out;
        }
        """
    )
    host = InMemoryHost()
    result = run_workflow(code, {}, host, Limits(max_step_value_bytes=100))
    assert result.status == "completed", result.error
    assert result.output == ["ok"] * 14 + [50, True]
    assert host.state[("ORG", "k")][0] == "x" + "😀é" * (140000 // 3) + "a" * (140000 % 3)
    calls = [step["name"] for step in result.steps]
    assert calls[:28] == ["state.set", "state.get"] * 14
    assert calls[28:] == ["state.set"] * 50 + ["state.get"] * 50


def test_timers_fire_while_a_slow_host_call_is_pending():
    code = textwrap.dedent(
        """
        export default async function () {
          const started = Date.now();
          const ticks = [];
          for (const ms of [20, 60, 100]) setTimeout(() => ticks.push(ms), ms);
          const slow = fastn.connector.slow.wait({});
          const winner = await Promise.race([
            slow.then(() => "host"),
            new Promise((resolve) => setTimeout(() => resolve("timer"), 40)),
          ]);
          const elapsed = Date.now() - started;
          const answer = await slow;
          return { winner, elapsed, ticks, answer };
        }
        """
    )

    def wait(_params: object) -> str:
        time.sleep(0.4)
        return "done"

    result = run_workflow(code, {}, InMemoryHost(connectors={"slow.wait": wait}))
    assert result.status == "completed", result.error
    assert result.output["winner"] == "timer"
    assert result.output["elapsed"] < 300
    assert result.output["ticks"] == [20, 60, 100]
    assert result.output["answer"] == "done"


def test_many_calls_issued_without_awaiting_do_not_block_either_side():
    code = textwrap.dedent(
        """
        export default async function () {
          const calls = [];
          for (let i = 0; i < 3000; i++) calls.push(fastn.state.get("big"));
          const values = await Promise.all(calls);
          return values.every((v) => v === "b".repeat(4000)) ? values.length : -1;
        }
        """
    )
    host = InMemoryHost(state={("ORG", "big"): "b" * 4000})
    result = run_workflow(code, {}, host, Limits(timeout_s=30))
    assert result.status == "completed", result.error
    assert result.output == 3000


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_forked_child_builds_its_own_pool():
    assert _ok(run_workflow(TRIVIAL, {}, InMemoryHost()))
    parent_pids = {sandbox.pid for sandbox in get_pool()._all}
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            result = run_workflow(TRIVIAL, {}, InMemoryHost())
            child_pids = {sandbox.pid for sandbox in get_pool()._all}
            report = {"ok": _ok(result), "shared": bool(child_pids & parent_pids)}
            shutdown_pool()
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        report = json.loads(reader.read() or b"{}")
    os.waitpid(pid, 0)
    assert report == {"ok": True, "shared": False}
    assert _ok(run_workflow(TRIVIAL, {}, InMemoryHost()))


def test_sandboxes_exit_when_their_parent_is_killed():
    script = textwrap.dedent(
        """
        from apps.runtime import Limits, get_pool, run_workflow
        print(run_workflow("export default async () => 1;", {}, None).status, flush=True)
        print(" ".join(str(s.pid) for s in get_pool()._all), flush=True)
        spin = "export default async () => { await null; while (true) {} };"
        run_workflow(spin, {}, None, Limits(timeout_s=60))
        """
    )
    # Become the orphans' new parent, so that they can be reaped here (and counted).
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", script],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert child.stdout.readline().strip() == b"completed"
            pids = {int(pid) for pid in child.stdout.readline().split()}
            assert pids
            time.sleep(0.3)  # let the spinning run start
        finally:
            child.kill()
            child.wait()
            child.stdout.close()
        deadline = time.monotonic() + 5
        while pids and time.monotonic() < deadline:
            for pid in list(pids):
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(pid, os.WNOHANG)[0] == pid:
                        pids.discard(pid)
            time.sleep(0.05)
        assert pids == set(), "orphaned sandboxes kept running"
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


def test_shutdown_pool_kills_everything_and_a_new_pool_starts_on_demand():
    assert _ok(run_workflow(TRIVIAL, {}, InMemoryHost()))
    pids = [sandbox.pid for sandbox in get_pool()._all]
    shutdown_pool()
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert _ok(run_workflow(TRIVIAL, {}, InMemoryHost()))


def test_limits_are_applied_inside_the_sandbox_during_a_run(monkeypatch):
    from apps.runtime import api

    pool = SandboxPool(size=1, max_size=1)
    monkeypatch.setattr(api, "get_pool", lambda: pool)
    try:
        assert _ok(run_workflow(TRIVIAL, {}, InMemoryHost()))
        (sandbox,) = pool._all
        cancel = threading.Event()
        results = []
        runner = threading.Thread(
            target=lambda: results.append(
                run_workflow(
                    SPIN_AFTER_AWAIT, {}, InMemoryHost(), Limits(timeout_s=20), cancel=cancel
                )
            )
        )
        runner.start()
        try:
            process = psutil.Process(sandbox.pid)
            deadline = time.monotonic() + 5
            while process.cpu_percent(0.05) < 50 and time.monotonic() < deadline:
                pass  # wait until it spins
            limits = Path(f"/proc/{sandbox.pid}/limits").read_text().splitlines()
        finally:
            cancel.set()
            runner.join()
        assert results[0].status == "cancelled"
        cpu = next(line for line in limits if line.startswith("Max cpu time")).split()
        data = next(line for line in limits if line.startswith("Max data size")).split()
        core = next(line for line in limits if line.startswith("Max core file size")).split()
        assert cpu[3] != "unlimited" and int(cpu[3]) >= 20
        assert data[3] != "unlimited"
        assert core[4] == "0"
    finally:
        pool.close()


def test_the_sandbox_module_imports_only_the_standard_library_and_mini_racer():
    import ast

    tree = ast.parse((ROOT / "apps" / "runtime" / "sandbox.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"py_mini_racer"}
