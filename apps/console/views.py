from __future__ import annotations

from django.shortcuts import render

from apps.console.sections import BY_KEY
from apps.spaces.access import require
from apps.spaces.models import Capability


@require(Capability.VIEW)
def space_home(request):
    return render(request, "console/home.html")


@require(Capability.VIEW)
def upcoming(request, section: str):
    return render(request, "console/upcoming.html", {"section": BY_KEY[section]})
