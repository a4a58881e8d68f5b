"""The runtime's host services, backed by the database: what `fastn.*` reaches from a sandbox.

The runtime stays a leaf (DESIGN.md §4): it calls these methods in the caller's thread, and
tenancy is bound here, on the caller's side — a sandbox can name keys, secrets and SQL, never a
Space or a customer."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps.configs.services import config_get
from apps.connectors.calls import ConnectorRun
from apps.connectors.http_client import ConnectorError, HttpPolicy, http_request
from apps.datastore.state import (
    StateBusy,
    StateError,
    StateNotANumber,
    StateScope,
    state_clear_invocation,
    state_compare_and_set,
    state_delete,
    state_get,
    state_incr,
    state_set,
    state_set_if_absent,
)
from apps.datastore.tenantdb import TenantDbError, db_query
from apps.environments.models import DRAFT, TEST
from apps.runtime import HostError
from apps.runtime.steps import LocalSteps
from apps.secrets.errors import SecretError, SecretNotFound
from apps.secrets.services import secret_resolve
from apps.spaces.models import Customer, Space


def call_builtin_connector(connector: str, action: str, params: Any) -> Any:
    """What a run without a Space can call: the generic HTTP connector only (a connector
    with connections needs a Space to find them)."""
    if connector == "http" and action == "request":
        try:
            policy = HttpPolicy(allow_loopback=settings.FASTN_HTTP_ALLOW_LOOPBACK)
            return http_request(params, policy)
        except ConnectorError as exc:
            raise HostError(exc.code, str(exc), permanent=exc.permanent) from None
    raise HostError(
        "NO_SPACE",
        f"fastn.connector.{connector}.{action} needs a Space (its connection lives there): "
        "run with --space SLUG.",
    )


def _state_host_error(exc: StateError) -> HostError:
    if isinstance(exc, StateNotANumber):
        return HostError("STATE_NOT_A_NUMBER", str(exc))
    if isinstance(exc, StateBusy):
        return HostError("STATE_BUSY", str(exc), permanent=False)
    return HostError("STATE_ERROR", str(exc))


class DatabaseHost:
    def __init__(
        self,
        space: Space,
        *,
        customer: Customer | None,
        workflow_key: str,
        invocation_id: str,
        environment: str,
        execution_id: Any = None,
        deadline: float | None = None,
        steps: Any = None,
    ):
        """`execution_id`: the Execution row the run belongs to, if any (traces link to it);
        `deadline`: when the run ends (time.monotonic()), which connector retries respect;
        `steps`: where durable steps are kept (apps/executions/steps.py), if anywhere — a
        run without it keeps them in memory (apps/runtime/steps.py LocalSteps)."""
        self.space = space
        self.step_store = steps if steps is not None else LocalSteps()
        self.customer = customer
        self.environment = environment
        self.invocation_id = invocation_id
        self.wrote_invocation_state = False
        # Connector calls share lookups, connections and credentials for the run.
        self.connectors = ConnectorRun(
            space,
            customer=customer,
            environment=environment,
            execution_id=execution_id,
            deadline=deadline,
        )
        self.state_scope = StateScope(
            space_id=space.id,
            customer_id=customer.id if customer else None,
            workflow_key=workflow_key,
            invocation_id=invocation_id,
        )

    def __enter__(self) -> DatabaseHost:
        return self

    def __exit__(self, *exc_info) -> None:
        # Steps kept back (apps/executions/steps.py) are written whatever ended the run.
        flush = getattr(self.step_store, "flush", None)
        if flush is not None:
            flush()
        # INVOCATION-scoped state lives exactly as long as the run.
        if self.wrote_invocation_state:
            state_clear_invocation(self.space.id, self.invocation_id)

    def state_get(self, key: str, *, scope: str) -> Any:
        try:
            return state_get(self.state_scope, key, scope=scope)
        except StateError as exc:
            raise HostError("STATE_ERROR", str(exc)) from None

    def state_set(self, key: str, value: Any, *, scope: str, ttl: int | None) -> None:
        self.wrote_invocation_state |= scope.upper() == "INVOCATION"
        try:
            state_set(self.state_scope, key, value, scope=scope, ttl=ttl)
        except StateError as exc:
            raise HostError("STATE_ERROR", str(exc)) from None

    def state_delete(self, key: str, *, scope: str) -> None:
        try:
            state_delete(self.state_scope, key, scope=scope)
        except StateError as exc:
            raise HostError("STATE_ERROR", str(exc)) from None

    def state_incr(self, key: str, by: int | float, *, scope: str, ttl: int | None) -> int | float:
        self.wrote_invocation_state |= scope.upper() == "INVOCATION"
        try:
            return state_incr(self.state_scope, key, by, scope=scope, ttl=ttl)
        except StateError as exc:
            raise _state_host_error(exc) from None

    def state_set_if_absent(self, key: str, value: Any, *, scope: str, ttl: int | None) -> bool:
        self.wrote_invocation_state |= scope.upper() == "INVOCATION"
        try:
            return state_set_if_absent(self.state_scope, key, value, scope=scope, ttl=ttl)
        except StateError as exc:
            raise _state_host_error(exc) from None

    def state_compare_and_set(
        self, key: str, expected: Any, value: Any, *, scope: str, ttl: int | None
    ) -> bool:
        self.wrote_invocation_state |= scope.upper() == "INVOCATION"
        try:
            return state_compare_and_set(
                self.state_scope, key, expected, value, scope=scope, ttl=ttl
            )
        except StateError as exc:
            raise _state_host_error(exc) from None

    def secret_get(self, name: str) -> tuple[str, str]:
        try:
            return secret_resolve(self.space, name=name, customer=self.customer)
        except SecretNotFound as exc:
            raise HostError("SECRET_NOT_FOUND", str(exc)) from None
        except SecretError as exc:
            raise HostError("SECRET_UNAVAILABLE", str(exc)) from None

    def env_config_get(self, key: str) -> str | None:
        # Draft runs (the Test tab, runworkflow) read the `test` environment's values.
        environment = TEST if self.environment == DRAFT else self.environment
        return config_get(self.space, environment_slug=environment, key=key)

    def db_query(self, sql: str, params: list) -> dict:
        try:
            return db_query(
                self.space.id, self.customer.id if self.customer else None, sql, params or []
            )
        except TenantDbError as exc:
            # A failure of the database itself (not of the query) may carry `transient`.
            transient = bool(getattr(exc, "transient", False))
            raise HostError("DB_ERROR", str(exc), permanent=not transient) from None

    def connector_call(self, connector: str, action: str, params: Any) -> Any:
        return self.connectors.call(connector, action, params)

    def step_flush(self) -> None:
        flush = getattr(self.step_store, "flush", None)
        if flush is not None:
            flush()

    def step_preload(self) -> dict:
        preload = getattr(self.step_store, "step_preload", None)
        return preload() if preload is not None else {}

    def step_begin(self, name, kind, options, line, again) -> dict:
        return self.step_store.step_begin(name, kind, options, line, again)

    def step_started(self, starts) -> None:
        self.step_store.step_started(starts)

    def step_end(self, name, output_json, start=None) -> dict:
        return self.step_store.step_end(name, output_json, start)

    def step_fail(self, name, error, start=None) -> dict:
        return self.step_store.step_fail(name, error, start)

    def attach_redactor(self, redactor) -> None:
        # Credentials injected into requests are redacted like the secrets the run read.
        self.connectors.attach_redactor(redactor)


class DetachedHost:
    """For `runworkflow` without --space: HTTP works, Space-bound services explain why not."""

    def __enter__(self) -> DetachedHost:
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def refuse(self, what: str):
        raise HostError("NO_SPACE", f"{what} needs a Space: run with --space SLUG.")

    def state_get(self, key, *, scope):
        self.refuse("fastn.state")

    def state_set(self, key, value, *, scope, ttl):
        self.refuse("fastn.state")

    def state_delete(self, key, *, scope):
        self.refuse("fastn.state")

    def state_incr(self, key, by, *, scope, ttl):
        self.refuse("fastn.state")

    def state_set_if_absent(self, key, value, *, scope, ttl):
        self.refuse("fastn.state")

    def state_compare_and_set(self, key, expected, value, *, scope, ttl):
        self.refuse("fastn.state")

    def secret_get(self, name):
        self.refuse("fastn.secrets")

    def env_config_get(self, key):
        self.refuse("fastn.envConfig")

    def db_query(self, sql, params):
        self.refuse("fastn.db")

    def connector_call(self, connector, action, params):
        return call_builtin_connector(connector, action, params)
