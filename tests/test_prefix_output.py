"""scripts/prefix-output.sh: how `make run` shows each program's output (supervisord relays
it). It sits on the path of every log line — gunicorn's access log is one per request — so it
must pass a line on as soon as it ends, and read its input in blocks: `sed -u` read one byte
per system call, about 150 for each access-log line, on the cores the requests needed."""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
PREFIXER = ROOT / "scripts" / "prefix-output.sh"
LINE = "x" * 99
LINES = 40


def start(script: str) -> subprocess.Popen:
    return subprocess.Popen(
        ["bash", str(PREFIXER), "web", "bash", "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen) -> None:
    for child in psutil.Process(process.pid).children(recursive=True):
        child.kill()
    process.kill()
    process.wait()


def read_lines(stream, count: int, timeout: float = 5.0) -> list[bytes]:
    """The first `count` lines of `stream`, waiting at most `timeout` seconds for them."""
    deadline = time.monotonic() + timeout
    buffer = b""
    while buffer.count(b"\n") < count:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            raise AssertionError(f"{count} lines not there within {timeout} s: {buffer!r}")
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            raise AssertionError(f"output closed before {count} lines: {buffer!r}")
        buffer += chunk
    return buffer.splitlines(keepends=True)[:count]


def test_each_line_is_prefixed_and_passed_on_while_the_program_still_runs():
    process = start("echo started; echo 'on stderr' >&2; sleep 30")
    try:
        lines = read_lines(process.stdout, 2)
        assert sorted(lines) == [
            b"web                | on stderr\n",
            b"web                | started\n",
        ]
    finally:
        stop(process)


def test_the_input_is_read_in_blocks_not_byte_by_byte():
    # LINES lines of 100 bytes in one write, then the program waits: the relay has read them
    # in a handful of system calls (sed -u: one per byte, over 4,000).
    process = start(f"printf '{LINE}\\n%.0s' $(seq {LINES}); sleep 30")
    try:
        lines = read_lines(process.stdout, LINES)
        assert lines == [b"web                | " + LINE.encode() + b"\n"] * LINES
        relay = next(
            child
            for child in psutil.Process(process.pid).children(recursive=True)
            if child.name() == "sed"
        )
        assert relay.io_counters().read_count < 200
    finally:
        stop(process)
