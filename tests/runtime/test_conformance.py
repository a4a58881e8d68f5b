"""Every program of the conformance table, through the real sandbox pool."""

from __future__ import annotations

import time

import pytest

from apps.runtime import Limits, run_workflow
from tests.runtime.cases import CASES, assert_case, run_case
from tests.runtime.conftest import host_from_setup

TRIVIAL = "export default async () => ({ ok: true });"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, id=case.id, marks=[pytest.mark.slow] if case.slow else [])
        for case in CASES
    ],
)
def test_conformance(case):
    host = host_from_setup(case.host)
    started = time.monotonic()
    result = run_case(case, host)
    elapsed = time.monotonic() - started
    assert_case(case, result, host)
    if case.status == "timeout":
        timeout = Limits(**case.limits).timeout_s
        assert timeout <= elapsed < timeout + 1, elapsed
    if case.slow:
        # A killed or exhausted sandbox must not cost the next run anything but time.
        after = run_workflow(TRIVIAL, {}, host)
        assert (after.status, after.output) == ("completed", {"ok": True})


def test_the_table_is_big_enough():
    assert len(CASES) >= 45
