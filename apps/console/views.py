from __future__ import annotations

from django.shortcuts import render

from apps.console.sections import BY_KEY
from apps.console.selectors import home_summary
from apps.spaces.access import require
from apps.spaces.models import Capability


@require(Capability.VIEW)
def space_home(request):
    """A first-run guide for an empty Space; otherwise recent workflows, the latest runs and
    the last 24 hours' failures, with quick links the member's role can use."""
    return render(request, "console/home.html", {"home": home_summary(request.space)})


@require(Capability.VIEW)
def upcoming(request, section: str):
    return render(request, "console/upcoming.html", {"section": BY_KEY[section]})
