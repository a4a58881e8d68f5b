from django.apps import AppConfig
from django.conf import settings

from apps.runtime import PoolSettings, configure_pool


class ExecutionsConfig(AppConfig):
    name = "apps.executions"
    label = "executions"

    def ready(self) -> None:
        # Executions are the runtime's one caller, and the runtime reads no settings itself:
        # every process that may run a workflow builds its sandbox pool from these.
        configure_pool(
            PoolSettings(
                size=settings.FASTN_SANDBOX_POOL_SIZE,
                max_size=settings.FASTN_SANDBOX_POOL_MAX,
                max_runs=settings.FASTN_SANDBOX_MAX_RUNS,
                python=settings.FASTN_SANDBOX_PYTHON,
            )
        )
        # The editor of the workflows app opens a past run through this hook: workflows sits
        # below executions and must not import it (apps/workflows/replay.py).
        from apps.executions.selectors import execution_to_replay
        from apps.workflows.replay import register_replay_finder

        register_replay_finder(execution_to_replay)
