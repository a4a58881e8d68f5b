"""`run_workflow(progress=...)`: a running run hands its logs and steps to the caller as they
happen — capped and redacted exactly like the final trace, which stays the authority."""

from __future__ import annotations

import time

from apps.runtime import Limits, run_workflow
from tests.runtime.conftest import InMemoryHost

WAIT = "await new Promise((resolve) => setTimeout(resolve, 1200));"


class Recorder:
    """A progress callback that remembers what it heard and when."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, list, list]] = []

    def __call__(self, logs, steps) -> None:
        self.calls.append((time.monotonic(), list(logs), list(steps)))

    @property
    def logs(self) -> list:
        return [entry for _, logs, _ in self.calls for entry in logs]

    @property
    def steps(self) -> list:
        return [step for _, _, steps in self.calls for step in steps]


def test_logs_and_steps_arrive_while_the_run_waits_and_match_the_final_trace():
    code = f"""export default async () => {{
      console.log("first");
      await fastn.state.set("phase", "waiting");
      {WAIT}
      console.warn("second");
      return 1;
    }}"""
    heard = Recorder()
    result = run_workflow(code, {}, InMemoryHost(), Limits(timeout_s=10), progress=heard)
    ended = time.monotonic()
    assert result.status == "completed"
    # Heard as they happened: the log, then the step, both long before the end.
    (log_time, first_logs, _), (step_time, _, first_steps) = heard.calls[:2]
    assert [e["message"] for e in first_logs] == ["first"]
    assert [s["name"] for s in first_steps] == ["state.set"]
    assert ended - step_time > 0.5 and log_time <= step_time
    # Everything that was streamed is exactly what the final trace holds.
    assert heard.logs == result.logs[: len(heard.logs)]
    assert heard.steps == result.steps
    assert [e["message"] for e in result.logs] == ["first", "second"]


def test_what_was_logged_before_a_host_call_is_heard_before_the_call_is_served():
    """The caller may spend long serving a call (a slow HTTP request): the sandbox sends the
    logs ahead of the call and the runtime hands them over before serving it."""
    heard = Recorder()
    seen_by_the_call = []

    def slow_service(params):
        seen_by_the_call.append([e["message"] for e in heard.logs])
        return {"ok": True}

    code = """export default async () => {
      console.log("before the call");
      await fastn.state.set("k", 1);
      await fastn.connector.slow.call({});
      console.log("after the call");
    }"""
    host = InMemoryHost(connectors={"slow.call": slow_service})
    result = run_workflow(code, {}, host, Limits(timeout_s=5), progress=heard)
    assert result.status == "completed"
    assert seen_by_the_call == [["before the call"]]
    assert heard.steps == result.steps
    assert [s["name"] for s in heard.steps] == ["state.set", "connector.slow.call"]


def test_without_a_callback_nothing_changes():
    code = "export default async () => { console.log('hi'); return await fastn.state.get('k'); }"
    result = run_workflow(code, {}, InMemoryHost(), Limits(timeout_s=5))
    assert result.status == "completed" and [e["message"] for e in result.logs] == ["hi"]


def test_the_live_stream_keeps_the_log_caps():
    code = f"""export default async () => {{
      for (let i = 0; i < 4; i++) console.log("line " + i);
      {WAIT}
      for (let i = 4; i < 9; i++) console.log("line " + i);
      {WAIT}
    }}"""
    heard = Recorder()
    limits = Limits(timeout_s=10, max_log_entries=6)
    result = run_workflow(code, {}, InMemoryHost(), limits, progress=heard)
    assert result.status == "completed"
    assert [e["message"] for e in heard.logs] == [f"line {i}" for i in range(6)]
    assert result.logs[:6] == heard.logs
    assert result.logs[6]["message"].startswith("Log limit reached")

    bytes_code = f"""export default async () => {{
      console.log("a".repeat(30));
      {WAIT}
      console.log("b".repeat(30));
      {WAIT}
    }}"""
    heard = Recorder()
    limits = Limits(timeout_s=10, max_log_bytes=45)
    result = run_workflow(bytes_code, {}, InMemoryHost(), limits, progress=heard)
    assert [e["message"] for e in heard.logs] == ["a" * 30, "b" * 15]
    assert result.logs[:2] == heard.logs


def test_secrets_are_redacted_in_the_live_stream():
    secret = "tok-5ecret-value-42"
    code = f"""export default async () => {{
      const token = await fastn.secrets.get("API_TOKEN");
      console.log("token is " + token + " / " + btoa(token));
      await fastn.state.set("copy", token);
      {WAIT}
    }}"""
    heard = Recorder()
    host = InMemoryHost(secrets={"API_TOKEN": ("text", secret)})
    result = run_workflow(code, {}, host, Limits(timeout_s=10), progress=heard)
    assert result.status == "completed"
    assert heard.calls and heard.calls[0][0] < time.monotonic() - 0.5
    streamed = repr(heard.calls)
    assert secret not in streamed and "dG9rLTVlY3JldC12YWx1ZS00Mg" not in streamed
    assert heard.logs[0]["message"] == "token is [REDACTED] / [REDACTED]"
    assert [s["result"] for s in heard.steps] == ["[REDACTED]", None]
    assert heard.steps[1]["args"]["value"] == "[REDACTED]"
    assert heard.steps == result.steps and heard.logs == result.logs


def test_a_failing_progress_callback_does_not_break_the_run(caplog):
    def broken(logs, steps):
        raise RuntimeError("observer down")

    code = f"export default async () => {{ console.log('x'); {WAIT} return 7; }}"
    result = run_workflow(code, {}, InMemoryHost(), Limits(timeout_s=10), progress=broken)
    assert result.status == "completed" and result.output == 7
    assert [e["message"] for e in result.logs] == ["x"]
    assert "progress callback failed" in caplog.text
