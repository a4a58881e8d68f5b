"""Writes of the test cases app: cases (create, update, approve, delete, from an execution),
and runs of cases (start on a worker, perform, wait for the end, the publish check)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import redis
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from apps.executions.services.waiting import redis_client
from apps.runtime.source import code_hash
from apps.spaces.audit import Actor, audit_record
from apps.testcases.expect import ExpectationError, validate_expect
from apps.testcases.mockhost import MockError, validate_mocks
from apps.testcases.models import (
    FEEDBACK_MAX,
    GROUP_MAX,
    NAME_MAX,
    SCENARIO_MAX,
    Mode,
    RunStatus,
    TestCase,
    TestResult,
    TestRun,
)
from apps.workflows.models import Workflow

logger = logging.getLogger("fastn.testcases")

CASE_FIELDS = (
    "name",
    "mode",
    "scenario",
    "group",
    "input",
    "headers",
    "mocks",
    "expect",
    "feedback",
)
# A waiting caller gives a run this long beyond the sum of its cases' timeouts.
WAIT_GRACE_S = 10.0
END_KEY = "fastn:testrun-ended:{}"
END_KEY_TTL_S = 120
TESTS_FILE_VERSION = 1
# Each of a case's input, mocks and expectation, as JSON.
MAX_JSON_BYTES = 1_000_000


class CaseDataError(ValueError):
    """Case data that breaks a rule; `field` names it (as in the form and the file)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _text(data: dict, key: str, limit: int, *, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise CaseDataError(key, "must be a string")
    value = value.strip()
    if required and not value:
        raise CaseDataError(key, "is required")
    if len(value) > limit:
        raise CaseDataError(key, f"is {len(value)} characters long; the limit is {limit}")
    return value


def case_data_clean(data: dict[str, Any]) -> dict[str, Any]:
    """The case fields, checked and normalised; CaseDataError naming the first bad field.
    One set of rules for the editor's form and for `<slug>.tests.json`."""
    mode = data.get("mode", Mode.MOCK)
    if mode not in Mode.values:
        raise CaseDataError("mode", "must be “mock” or “live”")
    headers = data.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise CaseDataError("headers", "must be a JSON object of strings")
    try:
        mocks = validate_mocks(data.get("mocks"))
    except MockError as exc:
        raise CaseDataError("mocks", str(exc)) from None
    try:
        expect = validate_expect(data.get("expect"))
    except ExpectationError as exc:
        raise CaseDataError("expect", str(exc)) from None
    for key in ("input", "mocks", "expect"):
        size = len(json.dumps(data.get(key), ensure_ascii=False).encode("utf-8"))
        if size > MAX_JSON_BYTES:
            raise CaseDataError(key, f"is {size:,} bytes of JSON; the limit is {MAX_JSON_BYTES:,}")
    return {
        "name": _text(data, "name", NAME_MAX, required=True),
        "mode": mode,
        "scenario": _text(data, "scenario", SCENARIO_MAX),
        "group": _text(data, "group", GROUP_MAX),
        "input": data.get("input") if data.get("input") is not None else {},
        "headers": {str(k).lower(): v for k, v in headers.items()},
        "mocks": mocks if mode == Mode.MOCK else [],
        "expect": expect,
        "feedback": _text(data, "feedback", FEEDBACK_MAX),
    }


def _unique_name(workflow: Workflow, name: str, case: TestCase | None) -> None:
    taken = TestCase.objects.filter(workflow=workflow, name=name)
    if case is not None:
        taken = taken.exclude(pk=case.pk)
    if taken.exists():
        raise CaseDataError("name", f"“{name}” is already a test case of this workflow")


def _audit(case: TestCase, action: str, actor: Actor, request=None, **detail) -> None:
    audit_record(
        space=case.space,
        actor=actor,
        action=action,
        resource=case,
        resource_label=f"{case.workflow.slug} / {case.name}",
        request=request,
        detail=detail or None,
    )


def case_create(
    workflow: Workflow, *, data: dict[str, Any], actor: Actor, request=None
) -> TestCase:
    fields = case_data_clean(data)
    _unique_name(workflow, fields["name"], None)
    with transaction.atomic():
        case = TestCase.objects.create(space=workflow.space, workflow=workflow, **fields)
        _audit(case, "testcase.create", actor, request)
    return case


def case_update(case: TestCase, *, data: dict[str, Any], actor: Actor, request=None) -> TestCase:
    """Change a case. A change to what it runs or expects withdraws its approval: an approved
    case is one a person looked at as it is."""
    fields = case_data_clean(data)
    _unique_name(case.workflow, fields["name"], case)
    material = any(
        fields[k] != getattr(case, k) for k in ("mode", "input", "headers", "mocks", "expect")
    )
    with transaction.atomic():
        for key, value in fields.items():
            setattr(case, key, value)
        if material and case.approved:
            case.approved, case.approved_by, case.approved_at = False, None, None
        case.updated_at = timezone.now()
        case.save()
        _audit(case, "testcase.update", actor, request)
    return case


def case_approve(case: TestCase, *, approved: bool, user, actor: Actor, request=None) -> TestCase:
    with transaction.atomic():
        case.approved = approved
        case.approved_by = user if approved else None
        case.approved_at = timezone.now() if approved else None
        case.save(update_fields=["approved", "approved_by", "approved_at"])
        _audit(case, "testcase.approve" if approved else "testcase.unapprove", actor, request)
    return case


def case_delete(case: TestCase, *, actor: Actor, request=None) -> None:
    with transaction.atomic():
        _audit(case, "testcase.delete", actor, request)
        case.delete()


def mocks_from_steps(steps: list[dict]) -> list[dict]:
    """An execution's connector steps as mocks answering what they answered then (the first
    answer of each call; clipped values and failed calls are left for the person to fill)."""
    mocks: dict[str, Any] = {}
    for step in steps or []:
        if step.get("kind") != "connector" or step.get("error"):
            continue
        result = step.get("result")
        if isinstance(result, dict) and result.get("truncated") is True:
            continue
        name = str(step.get("name", "")).removeprefix("connector.")
        if name == "http.request":
            params = (step.get("args") or {}).get("params") or {}
            url = str(params.get("url") or "")
            if not url:
                continue
            name = f"{str(params.get('method') or 'GET').upper()} {url}"
        mocks.setdefault(name, result)
    return [{"call": call, "response": response} for call, response in mocks.items()]


def case_from_execution(execution, *, actor: Actor, request=None) -> TestCase:
    """ "Save as test case": the execution's input, headers and output (or its error) become a
    new MOCK case of its workflow, its connector calls the mocks (answering what they
    answered then). Not approved: a person reviews it first."""
    workflow = execution.workflow
    if workflow is None:
        raise CaseDataError("workflow", "This execution's workflow no longer exists.")
    base = f"From run {execution.queued_at:%Y-%m-%d %H:%M:%S}"
    name, n = base, 2
    while TestCase.objects.filter(workflow=workflow, name=name).exists():
        name, n = f"{base} ({n})", n + 1
    if execution.status == "completed":
        expect = {"kind": "equals", "output": execution.output}
    else:
        code = (execution.error or {}).get("code") or execution.status.upper()
        expect = {
            "kind": "assertions",
            "assertions": [{"path": "$error.code", "op": "equals", "value": code}],
        }
    data = {
        "name": name,
        "mode": Mode.MOCK,
        "scenario": f"Saved from execution {execution.id} ({execution.version_label}, "
        f"{execution.status}).",
        "input": execution.input,
        "headers": execution.headers or {},
        "mocks": mocks_from_steps(execution.steps),
        "expect": expect,
    }
    return case_create(workflow, data=data, actor=actor, request=request)


# --- Runs -----------------------------------------------------------------------------------


def test_run_start(
    workflow: Workflow,
    *,
    cases: list[TestCase],
    code: str,
    version_number: int | None = None,
    purpose: str = TestRun.Purpose.MANUAL,
    actor: Actor,
    dispatch: bool = True,
) -> TestRun:
    """Record a run of `cases` on `code` and (after commit) send it to the instant queue; with
    `dispatch=False` the caller performs it itself (the command line)."""
    run = TestRun.objects.create(
        space=workflow.space,
        workflow=workflow,
        code=code,
        code_hash=code_hash(code),
        version_number=version_number,
        purpose=purpose,
        case_ids=[str(c.id) for c in cases],
        actor_label=actor.label[:254],
    )
    if dispatch:
        transaction.on_commit(lambda: _dispatch(run))
    return run


def _dispatch(run: TestRun) -> None:
    from apps.testcases.tasks import run_test_cases

    try:
        run_test_cases.apply_async(args=[str(run.id)], queue="instant", priority=0, retry=False)
    except (OperationalError, redis.RedisError, OSError) as exc:
        logger.warning("Could not queue test run %s: %s", run.id, exc)
        TestRun.objects.filter(pk=run.pk, status=RunStatus.PENDING).update(
            status=RunStatus.FAILED,
            error="The run queue is unavailable; the test cases did not run. Try again shortly.",
            finished_at=timezone.now(),
        )


def test_run_perform(run_id) -> str:
    """1. claim the pending run (a conditional UPDATE: a duplicate delivery stops here);
    2. run each of its cases that still exists, in order; 3. mark it done (dropping the
    copy of the code) and wake the caller waiting for it."""
    from apps.testcases.runner import case_run

    if not TestRun.objects.filter(pk=run_id, status=RunStatus.PENDING).update(
        status=RunStatus.RUNNING
    ):
        return "skipped"
    run = TestRun.objects.select_related("workflow", "space").get(pk=run_id)
    cases = {str(c.id): c for c in TestCase.objects.filter(id__in=run.case_ids, space=run.space)}
    status, error = RunStatus.DONE, ""
    try:
        for case_id in run.case_ids:
            if case_id in cases:
                case_run(cases[case_id], run)
    except Exception as exc:  # the run must end, and say why, whatever broke
        logger.exception("test run %s failed", run_id)
        status, error = RunStatus.FAILED, f"The test run stopped: {type(exc).__name__}: {exc}"
    # The code is only needed while the run goes on: its hash (kept) says what ran.
    TestRun.objects.filter(pk=run_id).update(
        status=status, error=error, finished_at=timezone.now(), code=""
    )
    try:
        key = END_KEY.format(run_id)
        redis_client().pipeline(transaction=False).lpush(key, "1").expire(
            key, END_KEY_TTL_S
        ).execute()
    except redis.RedisError as exc:
        logger.warning("Could not announce the end of test run %s: %s", run_id, exc)
    return status


def test_run_wait(run: TestRun) -> TestRun:
    """Wait for the run to end (Redis wakes us; the row is the truth), at most the sum of its
    cases' timeouts plus a grace; answers the run as it is then."""
    limit = run.workflow.timeout_seconds * max(1, len(run.case_ids)) + WAIT_GRACE_S
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        run.refresh_from_db(fields=["status", "error", "finished_at"])
        if run.status in (RunStatus.DONE, RunStatus.FAILED):
            return run
        try:
            redis_client().blpop(
                [END_KEY.format(run.id)], timeout=min(1.0, deadline - time.monotonic())
            )
        except redis.RedisError:
            time.sleep(0.2)
    run.refresh_from_db(fields=["status", "error", "finished_at"])
    if run.status not in (RunStatus.DONE, RunStatus.FAILED) and not run.error:
        run.error = "No worker finished the test cases in time. Is the instant worker running?"
    return run


@dataclass
class GateOutcome:
    run: TestRun | None
    failed: list[TestResult]
    missing: int  # approved cases without a result (the run did not finish)


def publish_check(workflow: Workflow, *, code: str, actor: Actor) -> GateOutcome:
    """The publish gate: run the approved cases on the code about to be published and answer
    the failures. No approved case: nothing runs and nothing failed."""
    cases = list(TestCase.objects.filter(workflow=workflow, space=workflow.space, approved=True))
    if not cases:
        return GateOutcome(None, [], 0)
    run = test_run_start(
        workflow, cases=cases, code=code, purpose=TestRun.Purpose.PUBLISH, actor=actor
    )
    run = test_run_wait(run)
    results = list(run.results.select_related("case").order_by("case__group", "case__name"))
    return GateOutcome(run, [r for r in results if not r.passed], len(cases) - len(results))


def cases_export_one(case: TestCase) -> dict[str, Any]:
    """One case as an item of `<slug>.tests.json` (also the data `case_update` takes)."""
    return {
        "name": case.name,
        "mode": case.mode,
        "scenario": case.scenario,
        "group": case.group,
        "input": case.input,
        "headers": case.headers,
        "mocks": case.mocks,
        "expect": case.expect,
        "approved": case.approved,
        "feedback": case.feedback,
    }


def cases_export(workflow: Workflow) -> dict[str, Any] | None:
    """The workflow's cases in the `<slug>.tests.json` format (None when it has none)."""
    cases = list(TestCase.objects.filter(workflow=workflow).order_by("name"))
    if not cases:
        return None
    return {"version": TESTS_FILE_VERSION, "cases": [cases_export_one(c) for c in cases]}


def cases_import(workflow: Workflow, *, cases: list[dict[str, Any]], actor: Actor) -> dict:
    """Create or update the cases of a checked `<slug>.tests.json` by name (cases not in the
    file stay). Answers counts of created, updated and unchanged cases."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    existing = {c.name: c for c in TestCase.objects.filter(workflow=workflow)}
    with transaction.atomic():
        for item in cases:
            fields = case_data_clean(item)
            approved = bool(item.get("approved", False))
            case = existing.get(fields["name"])
            if case is None:
                case = TestCase.objects.create(
                    space=workflow.space,
                    workflow=workflow,
                    approved=approved,
                    approved_at=timezone.now() if approved else None,
                    **fields,
                )
                counts["created"] += 1
                continue
            same = all(getattr(case, k) == v for k, v in fields.items())
            if same and case.approved == approved:
                counts["unchanged"] += 1
                continue
            for key, value in fields.items():
                setattr(case, key, value)
            if case.approved != approved:
                case.approved, case.approved_by = approved, None
                case.approved_at = timezone.now() if approved else None
            case.updated_at = timezone.now()
            case.save()
            counts["updated"] += 1
        audit_record(
            space=workflow.space,
            actor=actor,
            action="testcase.import",
            resource_label=f"{workflow.slug}: {len(cases)} case(s)",
            detail=counts,
        )
    return counts


def json_text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
