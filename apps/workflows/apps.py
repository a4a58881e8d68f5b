from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "apps.workflows"
    label = "workflows"

    def ready(self):
        # The Environments page lists what is deployed where; environments sits below this app
        # and must not import it (apps/environments/usage.py).
        from apps.environments.usage import register_usage_reader
        from apps.workflows.selectors import environment_usage

        register_usage_reader(environment_usage)
