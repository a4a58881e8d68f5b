"""The sandbox cannot reach what it never needs: probed from inside a real sandbox process.

The probe is `sandbox.py --probe`, started by the pool's own `Sandbox.spawn` (same
interpreter flags, environment, working directory and session as every sandbox): it
confines itself exactly like a serving sandbox, then tries what an escaped workflow would
(read the keys and the database, connect to loopback, write outside its temp dir, fork,
exec) and reports each outcome. No JavaScript is involved, so the test does not depend on
finding a V8 escape. The pool never passes `--probe`, and a serving sandbox drops any
frame but `run` (checked below), so nothing a workflow does reaches it.

CI runs as root, where the full confinement applies. Without root the sandbox runs as the
console's own user; the tests that need the separate user say so when they skip.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from apps.runtime import Limits, run_workflow
from apps.runtime import pool as pool_module
from apps.runtime.confine import MAX_OPEN_FILES, SANDBOX_USER
from apps.runtime.pool import Sandbox, SandboxPool
from tests.runtime.conftest import InMemoryHost

ROOT = Path(__file__).resolve().parents[2]
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(
    not IS_ROOT,
    reason="needs root: without it the sandbox runs as the console's own user, so it can read "
    "that user's files (the pool logs this once)",
)
REFUSED = {"EACCES", "EPERM"}


@dataclass
class ConsoleFiles:
    """A var/ directory laid out with the modes the console gives it."""

    var: Path
    master_key: Path
    secret_key: Path
    database: Path
    open_dir_keys: list[Path]  # key files in a directory others may enter
    public: Path  # a world-readable file: the probe must be able to read it
    drop: Path  # a world-writable directory outside any temp dir


@pytest.fixture
def console_files() -> Iterator[ConsoleFiles]:
    from apps.secrets.crypto import read_or_create_key_file

    # Not under /tmp: the sandbox has a private /tmp and would not even see the files.
    base = Path(tempfile.mkdtemp(prefix=".confinement-test-", dir=ROOT))
    try:
        base.chmod(0o755)
        var = base / "var"
        var.mkdir(mode=0o700)  # settings.private_var_dir
        master_key = var / "master.key"
        read_or_create_key_file(master_key)  # the console's own key-file creation
        secret_key = var / "secret_key"
        descriptor = os.open(secret_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(descriptor, b"not-a-real-secret-key")
        os.close(descriptor)
        database = var / "fastn.sqlite3"
        with sqlite3.connect(database) as connection:
            connection.execute("CREATE TABLE secrets (value TEXT)")
            connection.execute("INSERT INTO secrets VALUES ('hunter2')")
        connection.close()
        open_dir = base / "open"
        open_dir.mkdir(mode=0o755)
        open_dir_keys = []
        for source in (master_key, secret_key):
            copy = open_dir / source.name
            shutil.copyfile(source, copy)
            copy.chmod(0o600)
            open_dir_keys.append(copy)
        public = base / "public.txt"
        public.write_text("anyone may read this\n")
        public.chmod(0o644)
        drop = base / "drop"
        drop.mkdir()
        drop.chmod(0o777)
        yield ConsoleFiles(var, master_key, secret_key, database, open_dir_keys, public, drop)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_probe(**spec: Any) -> dict[str, Any]:
    sandbox = Sandbox.spawn(("--probe",))
    try:
        sandbox.send({"t": "probe", **spec})
        frame = sandbox.recv(30)
        assert frame is not None and frame.kind == "probe", (
            f"no probe report; stderr: {sandbox.stderr_text()}"
        )
        return json.loads(frame.blob)
    finally:
        sandbox.reap()


def _namespaces_missing(report: dict[str, Any]) -> bool:
    words = ("namespace", "filesystem", "read-only")
    return any(word in item for item in report["missing"] for word in words)


@needs_root
def test_the_keys_and_the_database_are_out_of_reach(console_files):
    files = console_files
    targets = [files.master_key, files.secret_key, files.database, *files.open_dir_keys]
    report = run_probe(read=[str(path) for path in [*targets, files.public]])
    # The probe can read what is world-readable: the refusals below are not an artefact.
    assert report["read"][str(files.public)] == "ok"
    for path in targets:
        # EACCES, not ENOENT: the file is there, the sandbox's user may not open it.
        assert report["read"][str(path)] in REFUSED, (path, report["read"][str(path)])


def test_no_network_not_even_loopback():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        report = run_probe(connect=[["127.0.0.1", port]])
        assert report["connect"][f"127.0.0.1:{port}"] in REFUSED | {"ENETUNREACH"}
        # Nor a Unix socket (a database's socket file is reachable by path otherwise).
        assert report["unix_socket"] in REFUSED
        # A connected pair with no way out stays possible: asyncio's loop needs one.
        assert report["socketpair"] == "ok"
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody ever connected


def test_no_new_processes_but_threads_still_work():
    report = run_probe()
    assert report["fork"] in REFUSED
    assert report["spawn"] in REFUSED
    assert report["exec"] in REFUSED
    assert report["thread"] == "ok"  # V8 and the watcher need threads
    assert report["seccomp"] == 2  # a filter is installed
    assert report["no_new_privs"] == 1
    assert report["core"] == [0, 0]
    assert report["nofile"] == [MAX_OPEN_FILES, MAX_OPEN_FILES]


def test_no_write_access_outside_its_private_temp_dir(console_files):
    name = f"fastn-probe-{uuid.uuid4().hex}"
    outside = [console_files.drop / name, console_files.var / name, ROOT / name]
    private = [Path("/tmp") / name, Path("/dev/shm") / name, Path("/var/tmp") / name]
    report = run_probe(write=[str(path) for path in outside + private])
    try:
        if _namespaces_missing(report):
            pytest.skip(f"no mount namespace here: {report['missing']}")
        for path in outside:
            # EROFS: everything outside the private tmpfs is mounted read-only, even a
            # world-writable directory; EACCES for var/, which it may not even enter.
            assert report["write"][str(path)] in REFUSED | {"EROFS"}, path
            assert not path.exists()
        for path in private:
            if path.parent.is_dir():
                assert report["write"][str(path)] == "ok", path
                # Private: what the sandbox wrote is gone with it, never seen outside.
                assert not path.exists(), path
    finally:
        for path in outside + private:
            path.unlink(missing_ok=True)


@needs_root
def test_it_runs_as_the_unprivileged_sandbox_user():
    report = run_probe()
    assert report["uid"] == report["euid"] != 0
    assert report["groups"] == []
    assert report["dumpable"] == 0
    assert report["nproc"][0] > 0 and report["nproc"][1] != -1  # bounded
    try:
        expected = pwd.getpwnam(SANDBOX_USER)
    except KeyError:
        pytest.skip(f"user {SANDBOX_USER} does not exist: run scripts/bootstrap.sh as root")
    assert (report["uid"], report["gid"]) == (expected.pw_uid, expected.pw_gid)
    assert not [item for item in report["missing"] if "user (" in item]


@needs_root
def test_pool_sandboxes_are_confined_and_still_run_workflows(monkeypatch):
    from apps.runtime import api

    pool = SandboxPool(size=1, max_size=1)
    monkeypatch.setattr(api, "get_pool", lambda: pool)
    try:
        code = "export default async (ctx) => ({ sum: ctx.input.a + ctx.input.b });"
        result = run_workflow(code, {"input": {"a": 1, "b": 2}}, InMemoryHost(), Limits())
        assert result.status == "completed" and result.output == {"sum": 3}
        (sandbox,) = pool._all
        status = Path(f"/proc/{sandbox.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        assert fields["Uid"].split()[0] != "0"
        assert fields["Seccomp"].strip() == "2"
        assert fields["NoNewPrivs"].strip() == "1"
        if not _namespaces_missing({"missing": sandbox.missing}):
            for namespace in ("net", "mnt", "ipc"):
                ours = os.readlink(f"/proc/self/ns/{namespace}")
                assert os.readlink(f"/proc/{sandbox.pid}/ns/{namespace}") != ours, namespace
        # The confinement did not break what a run needs: host calls, timers, errors.
        host = InMemoryHost(secrets={"TOKEN": ("text", "abcd-1234")})
        code = (
            "export default async () => {\n"
            "  await new Promise((r) => setTimeout(r, 5));\n"
            "  const t = await fastn.secrets.get('TOKEN');\n"
            "  await fastn.state.set('k', t.length);\n"
            "  return [t.length, await fastn.state.get('k')];\n"
            "};\n"
        )
        assert run_workflow(code, {}, host).output == [9, 9]
        failed = run_workflow("export default async () => { null.x; };", {}, host)
        assert failed.error["code"] == "RUNTIME_ERROR"
    finally:
        pool.close()


def test_it_cannot_signal_or_inspect_the_other_sandboxes():
    """Every sandbox runs as the same user: one must not be able to kill or read another."""
    pool = SandboxPool(size=1, max_size=1)
    try:
        other = pool.acquire()
        assert other is not None and other.wait_ready(30)
        paths = [f"/proc/{other.pid}/environ", f"/proc/{other.pid}/mem"]
        report = run_probe(signal=[other.pid], read=paths)
        assert other.alive()
        assert report["signal_self"] == "ok"
        assert report["signal"][str(other.pid)] in REFUSED
        if not _namespaces_missing(report):
            # Its /proc holds only itself (and, as root, the other is not dumpable).
            for path in paths:
                assert report["read"][path] in REFUSED | {"ENOENT"}, path
        pool.release(other)
    finally:
        pool.close()


def test_the_console_processes_are_out_of_sight():
    """The caller's environment holds DATABASE_URL and the keys in production; without
    root it runs as the same user as the sandbox, so /proc must not show it at all."""
    paths = [f"/proc/{os.getpid()}/environ", f"/proc/{os.getpid()}/mem", "/proc/1/cmdline"]
    report = run_probe(read=[*paths, "/proc/self/status"])
    if _namespaces_missing(report):
        pytest.skip(f"no mount namespace here: {report['missing']}")
    assert report["read"]["/proc/self/status"] == "ok"  # the memory watcher needs it
    for path in paths:
        assert report["read"][path] in REFUSED | {"ENOENT"}, path


def test_a_serving_sandbox_ignores_a_probe_frame(monkeypatch):
    from apps.runtime import api

    assert "--probe" not in pool_module._sandbox_command()
    pool = SandboxPool(size=1, max_size=1)
    monkeypatch.setattr(api, "get_pool", lambda: pool)
    try:
        assert run_workflow("export default async () => 1;", {}, InMemoryHost()).output == 1
        (sandbox,) = pool._idle
        assert sandbox.wait_ready(30)
        sandbox.send({"t": "probe", "read": ["/etc/hostname"]})
        assert sandbox.recv(0.3) is None  # dropped, unanswered
        assert sandbox.alive()
        result = run_workflow("export default async () => 'still serving';", {}, InMemoryHost())
        assert result.output == "still serving"
        assert [s.pid for s in pool._all] == [sandbox.pid]
    finally:
        pool.close()


def test_missing_protections_are_logged_once_per_process(monkeypatch, caplog):
    monkeypatch.setattr(pool_module, "_confinement_reported", False)
    missing = ["a separate user (not started as root, it runs as uid 1000 ...)"]
    with caplog.at_level(logging.WARNING, logger="apps.runtime"):
        pool_module._report_confinement([])
        pool_module._report_confinement(missing)
        pool_module._report_confinement(missing)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "sandbox processes run without: a separate user" in warnings[0].getMessage()


def test_errno_names_are_what_the_probe_reports():
    # The probe reports errno names; keep the refusal set honest on this platform.
    assert {errno.errorcode[errno.EACCES], errno.errorcode[errno.EPERM]} == REFUSED


def test_the_console_keeps_var_and_its_keys_owner_only(tmp_path):
    """settings.py tightens an existing var/ to 0700 and writes the secret key 0600; the
    master key file is 0600 (apps.secrets.crypto): the sandbox's user cannot get in."""
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)  # as `mkdir -p var/redis` in scripts/run.sh leaves it
    environment = {
        "PATH": os.environ.get("PATH", os.defpath),
        "FASTN_ENV": "embedded",
        "FASTN_VAR_DIR": str(var),
        "DJANGO_SETTINGS_MODULE": "fastn_console.settings",
    }
    script = (
        "from fastn_console import settings\n"
        "from apps.secrets.crypto import read_or_create_key_file\n"
        "read_or_create_key_file(settings.VAR_DIR / 'master.key')\n"
    )
    subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, check=True, timeout=60
    )
    assert var.stat().st_mode & 0o777 == 0o700
    for name in ("secret_key", "master.key"):
        assert (var / name).stat().st_mode & 0o777 == 0o600, name
