"""Creating, dispatching, running and finishing executions, one module per concern:

- `dispatch`: create the row and send it to its tier's queue;
- `waiting`: the synchronous (instant) run, and the Redis key announcing that a run ended;
- `cancel`: stop a pending or running run;
- `running`: the Celery task's body (claim, run one attempt, record it, finish or retry);
- `lease`: the thread that keeps the leases of a worker's runs fresh;
- `reaper`: runs whose worker died or whose message was lost, and the retention purge;
- `manual`: the runs a person starts in the console (Run dialog, Test tab) and waits for;
- `control`: pause, resume, terminate and restart a durable run, and send it events.

State lives in the database, not in the broker: every transition is a conditional UPDATE, so
a duplicate delivery or a second worker can never run a finished execution again, and the
attempt counter in the row — not Celery — decides when to stop retrying."""

from apps.executions.services.cancel import execution_cancel
from apps.executions.services.control import (
    CONTROLS,
    ControlConflict,
    execution_control,
    execution_pause,
    execution_restart,
    execution_resume,
    execution_terminate,
    instance_event_send,
    restart_now,
    wake,
)
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
    "CONTROLS",
    "ControlConflict",
    "DatabaseUnavailable",
    "QueueUnavailable",
    "claim",
    "execution_cancel",
    "execution_control",
    "execution_create",
    "execution_dispatch",
    "execution_pause",
    "execution_perform",
    "execution_purge_old",
    "execution_reap",
    "execution_restart",
    "execution_resume",
    "execution_run_sync",
    "execution_run_unsaved",
    "execution_terminate",
    "finish_attempt",
    "instance_event_send",
    "notify_end",
    "publish",
    "refuse_pending",
    "restart_now",
    "wake",
    "workflow_run",
    "workflow_test_run",
    "workflow_test_run_new",
    "workflow_unsaved",
]
