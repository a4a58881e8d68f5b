"""Creating, dispatching, running and finishing executions, one module per concern:

- `dispatch`: create the row and send it to its tier's queue;
- `waiting`: the synchronous (instant) run, and the Redis key announcing that a run ended;
- `cancel`: stop a pending or running run;
- `running`: the Celery task's body (claim, run one attempt, record it, finish or retry);
- `lease`: the thread that keeps the leases of a worker's runs fresh;
- `reaper`: runs whose worker died or whose message was lost, and the retention purge;
- `manual`: the runs a person starts in the console (Run dialog, Test tab) and waits for.

State lives in the database, not in the broker: every transition is a conditional UPDATE, so
a duplicate delivery or a second worker can never run a finished execution again, and the
attempt counter in the row — not Celery — decides when to stop retrying."""

from apps.executions.services.cancel import execution_cancel
from apps.executions.services.dispatch import (
    DatabaseUnavailable,
    QueueUnavailable,
    execution_create,
    execution_dispatch,
    publish,
)
from apps.executions.services.manual import (
    workflow_run,
    workflow_test_run,
    workflow_test_run_new,
    workflow_unsaved,
)
from apps.executions.services.reaper import execution_purge_old, execution_reap
from apps.executions.services.running import claim, execution_perform, finish_attempt
from apps.executions.services.waiting import (
    execution_run_sync,
    execution_run_unsaved,
    notify_end,
    refuse_pending,
)

__all__ = [
    "DatabaseUnavailable",
    "QueueUnavailable",
    "claim",
    "execution_cancel",
    "execution_create",
    "execution_dispatch",
    "execution_perform",
    "execution_purge_old",
    "execution_reap",
    "execution_run_sync",
    "execution_run_unsaved",
    "finish_attempt",
    "notify_end",
    "publish",
    "refuse_pending",
    "workflow_run",
    "workflow_test_run",
    "workflow_test_run_new",
    "workflow_unsaved",
]
