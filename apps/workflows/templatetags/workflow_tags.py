"""Template helpers of the workflow pages. Durations, times, JSON and status badges are in
`{% load formatting %}` (apps/console/templatetags/formatting.py), shared by every page."""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag(takes_context=True)
def execution_url(context, execution) -> str:
    """The execution's detail page, or "" while the executions pages are not wired in."""
    try:
        return reverse(
            "execution_detail",
            kwargs={"space_slug": context["request"].space.slug, "execution_id": execution.id},
        )
    except NoReverseMatch:
        return ""
