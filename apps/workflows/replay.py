"""The editor opened from a past run ("Open in editor" on an execution, `?execution=<id>`) loads
the code that ran and its input into the Test tab.

Runs belong to the executions app, which sits above this one (it imports workflows to run
them). So that workflows never imports it, executions registers how to find a run at start-up
(`ExecutionsConfig.ready`); until then no run is found and the editor opens as usual."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apps.workflows.models import Workflow

# (request, workflow) → the execution named by `?execution=` (its `version`, `draft_code`,
# `input`, `headers`, `id`, `version_label`), or None when there is none of this workflow.
ReplayFinder = Callable[[Any, Workflow], Any]

_finder: ReplayFinder | None = None


def register_replay_finder(finder: ReplayFinder) -> None:
    global _finder
    _finder = finder


def replay_for(request, workflow: Workflow):
    return _finder(request, workflow) if _finder is not None else None
