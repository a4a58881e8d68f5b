from django.db import connection
from django.http import JsonResponse
from django.urls import include, path

from apps.console import urls as console_urls
from apps.executions.urls import workflow_urls as workflow_run_urls
from apps.spaces import views as spaces_views
from apps.spaces.urls import space_settings_urls
from apps.testcases import urls as testcases_urls
from apps.triggers.urls import activity_urls as trigger_activity_urls


def healthz(request):
    """For load balancers and deploy/healthcheck.sh: cheap (one `SELECT 1`), no auth,
    no session. 503 when the database does not answer; Redis is not checked, because the
    console keeps serving (and accepting standard runs) while it is down."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        connection.close()  # a broken connection is replaced at the next request
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Before allauth's own: the sign-up that knows about invitations.
    path("accounts/signup/", spaces_views.signup, name="account_signup"),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("apps.api.urls")),
    path("oauth/", include("apps.connectors.urls.oauth")),
    path(
        "s/<slug:space_slug>/",
        include(
            [
                *console_urls.urlpatterns,
                path("settings/", include(space_settings_urls)),
                path("settings/secrets/", include("apps.secrets.urls")),
                path("settings/configs/", include("apps.configs.urls")),
                path("workflows/", include("apps.workflows.urls")),
                path("workflows/", include(workflow_run_urls)),
                path("workflows/", include(testcases_urls.workflow_urls)),
                path("workflows/", include("apps.insight.urls")),
                path("settings/environments/", include("apps.environments.urls")),
                path("activity/", include("apps.executions.urls")),
                path("activity/", include(trigger_activity_urls)),
                path("activity/", include(testcases_urls.execution_urls)),
                path("triggers/", include("apps.triggers.urls")),
                path("connectors/typings/", include("apps.connectors.urls.typings")),
                path("connectors/", include("apps.connectors.urls.connectors")),
                path("connections/", include("apps.connectors.urls.connections")),
                path("activity/traces/", include("apps.connectors.urls.traces")),
                path("settings/oauth-apps/", include("apps.connectors.urls.oauth_apps")),
            ]
        ),
    ),
    path("", include("apps.spaces.urls")),
]

handler403 = "apps.console.errors.forbidden"
handler404 = "apps.console.errors.not_found"
handler500 = "apps.console.errors.server_error"
