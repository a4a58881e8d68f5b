"""The error a host service raises for a failure the workflow may catch."""

from __future__ import annotations

from typing import Any


class HostError(Exception):
    """Raised by host services; user code sees `Error(message)` with `.code` set.

    `permanent=False` marks a transient failure that may succeed later (a network error,
    a timeout, a service's 429 or 5xx): the JS error gets `retryable = true`, and a run that
    lets it escape ends retryable (the executions' retry policy may try it again).

    `details`, a JSON object, adds fields to the JS error (a connector failure's `step` and
    `datasourceDebug`: `err.step`, `err.datasourceDebug`; `code`, `message`, `name`, `stack`
    and `retryable` are not overwritten), to the step's recorded error, and — when the error
    ends the run — to `RunResult.error["details"]` with the error's `code`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        permanent: bool = True,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.permanent = permanent
        self.details = details
