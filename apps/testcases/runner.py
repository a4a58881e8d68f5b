"""Running one test case in the sandbox and judging it: the body of the `testcases.run` task
(on a worker, for the console) and of `manage.py workflow test` (in the command's process).

The run goes through the same runtime as every execution (`apps.runtime.run_workflow`: a
sandbox process, the workflow's timeout, the memory cap). A MOCK case gets a MockHost
(apps/testcases/mockhost.py): its connector and HTTP calls are answered by its mocks and
nothing reaches the network; a LIVE case gets the host of a Test-tab run (DatabaseHost, the
draft's environment or `test` for a published version), so its calls and state are real."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.conf import settings

from apps.environments.models import DRAFT, TEST
from apps.executions.host import DatabaseHost
from apps.runtime import Limits, run_workflow
from apps.testcases.expect import ExpectationError, judge
from apps.testcases.mockhost import MockHost
from apps.testcases.models import Mode, TestCase, TestResult, TestRun


def case_context(case: TestCase, run: TestRun, invocation: str) -> dict[str, Any]:
    workflow = run.workflow
    return {
        "input": case.input,
        "headers": case.headers,
        "execution": {"id": invocation, "attempt": 1},
        "workflow": {
            "id": str(workflow.id),
            "slug": workflow.slug,
            "version": run.version_number or "draft",
        },
        "tier": workflow.tier,
        "environment": TEST if run.version_number else DRAFT,
        "trigger": {"type": "test", "testCase": case.name},
        "tenant": None,
    }


def case_run(case: TestCase, run: TestRun) -> TestResult:
    """1. build the host (mocks, or the real one); 2. run the code in a sandbox;
    3. judge the result against the expectation; an unmocked call fails the case even if the
    code caught its error; 4. record the result (kept per code hash and version)."""
    workflow = run.workflow
    invocation = f"testcase-{uuid.uuid4()}"
    timeout = workflow.timeout_seconds
    real = DatabaseHost(
        run.space,
        customer=None,
        workflow_key=str(workflow.id),
        invocation_id=invocation,
        environment=TEST if run.version_number else DRAFT,
        deadline=time.monotonic() + timeout,
    )
    host = MockHost(case.mocks or [], real) if case.mode == Mode.MOCK else real
    with host:
        result = run_workflow(
            run.code,
            case_context(case, run, invocation),
            host,
            Limits(timeout_s=timeout, memory_mb=settings.FASTN_MEMORY_MB),
        )
    try:
        verdict = judge(case.expect, status=result.status, output=result.output, error=result.error)
    except ExpectationError as exc:
        verdict = judge(
            {"kind": "equals", "output": None},
            status="failed",
            output=None,
            error={"code": "BAD_EXPECTATION", "message": str(exc)},
        )
    failures = list(verdict.failures)
    unmocked = getattr(host, "unmocked", [])
    if unmocked:
        # The run's own failure, when the unmocked call caused it, would say the same again.
        failures = [f for f in failures if "No mock for " not in f]
        failures = [f"Unmocked call: {call}" for call in dict.fromkeys(unmocked)] + failures
    return TestResult.objects.create(
        space=run.space,
        run=run,
        case=case,
        code_hash=run.code_hash,
        version_number=run.version_number,
        passed=verdict.passed and not unmocked,
        run_status=result.status,
        output=result.output,
        error=result.error,
        failures=failures,
        diff=verdict.diff,
        logs=result.logs,
        steps=result.steps,
        duration_ms=result.duration_ms,
    )
