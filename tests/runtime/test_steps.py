"""The step API in the runtime, without storage (LocalSteps) and against a host that stores
steps (the protocol of apps/runtime/steps.py); the durable store itself is tested in
tests/executions/test_durable.py."""

from __future__ import annotations

import pytest

from apps.runtime import HostError, Limits, run_workflow
from apps.runtime.steps import StepConfig, StepInputError, parse_duration


class NoHost:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def run(code, host=None, **ctx):
    return run_workflow(code, {"input": ctx}, host or NoHost(), Limits(timeout_s=10))


@pytest.mark.parametrize(
    ("text", "ms"),
    [(250, 250), ("500 ms", 500), ("10 seconds", 10_000), ("1 second", 1000),
     ("5 minutes", 300_000), ("2 hours", 7_200_000), ("1 day", 86_400_000),
     ("1 week", 604_800_000), ("1.5 minutes", 90_000)],
)  # fmt: skip
def test_durations(text, ms):
    assert parse_duration(text, "d") == ms


@pytest.mark.parametrize("bad", ["soon", "10 parsecs", -5, True, None, "", {"ms": 1}])
def test_bad_durations_name_the_accepted_forms(bad):
    with pytest.raises(StepInputError, match="milliseconds"):
        parse_duration(bad, "step.sleep")


def test_retry_delays_per_backoff():
    assert [StepConfig(delay_ms=100, backoff="constant").delay_before(n) for n in (1, 2, 3)] == [
        100, 100, 100,
    ]  # fmt: skip
    assert [StepConfig(delay_ms=100, backoff="linear").delay_before(n) for n in (1, 2, 3)] == [
        100, 200, 300,
    ]  # fmt: skip
    assert [StepConfig(delay_ms=100).delay_before(n) for n in (1, 2, 3)] == [100, 200, 400]
    assert StepConfig() == StepConfig.parse(None, "x")  # 5 retries, 10 s, exponential, 10 min


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"retries": {"limit": -1}}, "limit must be a whole number"),
        ({"retries": {"backoff": "random"}}, "backoff must be"),
        ({"retries": {"delay": "later"}}, "is not a duration"),
        ({"timeout": 0}, "timeout must be at least 1 ms"),
        ({"retry": {}}, "unknown config field 'retry'"),
    ],
)
def test_bad_step_configs_are_refused_at_the_call(config, message):
    code = f"""export default async function () {{
  try {{ await fastn.step.do("x", {__import__("json").dumps(config)}, async () => 1); }}
  catch (e) {{ return e.message; }}
}}"""
    result = run(code)
    assert result.status == "completed", result.error
    assert message in result.output


def test_steps_without_storage_run_retry_and_sleep_in_the_isolate():
    code = """export default async function (ctx, step) {
  let tries = 0;
  const value = await step.do("flaky", { retries: { limit: 2, delay: 20 } }, async () => {
    if (++tries < 3) throw new Error("again");
    return tries;
  });
  const started = Date.now();
  await ctx.step.sleep("nap", "200 ms");
  let refused;
  try { await step.waitForEvent("ev", { type: "x" }); } catch (e) { refused = e.code; }
  return { value, slept: Date.now() - started >= 190, refused };
}"""
    result = run(code)
    assert result.output == {"value": 3, "slept": True, "refused": "STEP_NOT_AVAILABLE"}


class StoringHost(NoHost):
    """Answers steps like a durable host whose store fails on the given step."""

    def __init__(self, fail_on):
        self.fail_on = fail_on
        self.stored = []

    def step_begin(self, name, kind, options, line, again):
        return {"state": "run", "attempt": 1, "timeoutMs": 1000}

    def step_started(self, starts):
        pass

    def step_end(self, name, output_json, start=None):
        if name == self.fail_on:
            raise HostError("DB_DOWN", "the database is away", permanent=False)
        self.stored.append(name)
        return {"state": "done"}

    def step_fail(self, name, error, start=None):
        return {"state": "failed", "error": error}


def test_a_step_result_that_could_not_be_stored_fails_the_run_retryably():
    code = """export default async function (ctx, step) {
  await step.do("a", async () => 1);
  await step.do("b", async () => 2);
  await step.do("c", async () => 3);
  return "done";
}"""
    host = StoringHost(fail_on="b")
    result = run(code, host)
    assert result.status == "failed"
    assert result.error["code"] == "STEP_NOT_STORED"
    assert "the database is away" in result.error["message"]
    assert result.retryable is True
    assert host.stored[0] == "a"
