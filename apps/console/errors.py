"""HTML error pages. /api/ errors never reach these: ApiErrorMiddleware answers them as JSON."""

from django.http import HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def forbidden(request, exception=None):
    template = "console/forbidden.html" if getattr(request, "space", None) else None
    return render(request, template or "console/forbidden_plain.html", status=403)


def not_found(request, exception=None):
    return render(request, "console/not_found.html", status=404)


def server_error(request):
    # No context processors: the database may be what failed.
    body = loader.get_template("console/server_error.html").render()
    return HttpResponseServerError(body)
