"""Template helpers of the workflow pages: durations, run results as a collapsible JSON tree."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

TREE_NODE_LIMIT = 1500


@register.filter
def ms(value) -> str:
    """1500 → "1.5s", 79 → "79ms", 90000 → "1m 30s"."""
    if value is None or value == "":
        return "—"
    value = float(value)
    if value < 1000:
        return f"{value:.0f}ms"
    seconds = value / 1000
    if seconds < 60:
        return f"{seconds:.1f}".rstrip("0").rstrip(".") + "s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest}s" if rest else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if minutes else f"{hours}h"


@register.filter
def pretty(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def status_class(status: str) -> str:
    return {
        "completed": "badge-success",
        "failed": "badge-danger",
        "timeout": "badge-warning",
        "cancelled": "badge-neutral",
        "running": "badge-info",
        "pending": "badge-info",
    }.get(status, "badge-neutral")


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


def _scalar(value: Any) -> SafeString:
    kind = (
        "null"
        if value is None
        else "bool"
        if isinstance(value, bool)
        else "num"
        if isinstance(value, int | float)
        else "str"
    )
    return format_html('<span class="jt-{}">{}</span>', kind, json.dumps(value, ensure_ascii=False))


def _node(value: Any, budget: list[int], depth: int, key: SafeString | str = "") -> SafeString:
    """One value; `key` (`"name": `) goes inside a container's summary so that it stays on
    the line of its opening bracket."""
    budget[0] -= 1
    if not isinstance(value, dict | list):
        return format_html("{}{}", key, _scalar(value))
    items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    is_dict = isinstance(value, dict)
    open_, close = ("{", "}") if is_dict else ("[", "]")
    if not items:
        return format_html('{}<span class="jt-punct">{}{}</span>', key, open_, close)
    noun = ("key" if is_dict else "item") + ("" if len(items) == 1 else "s")
    rows = format_html_join(
        "",
        "<li>{}</li>",
        (
            (
                _node(
                    v,
                    budget,
                    depth + 1,
                    format_html(
                        '<span class="jt-key">{}</span>: ', json.dumps(k, ensure_ascii=False)
                    )
                    if is_dict
                    else "",
                ),
            )
            for k, v in items
        ),
    )
    return format_html(
        '<details class="jt-node"{}><summary>{}<span class="jt-punct">{}</span>'
        '<span class="jt-size">{} {}</span></summary><ul>{}</ul><span class="jt-punct">{}</span>'
        "</details>",
        mark_safe(" open") if depth < 3 else "",
        key,
        open_,
        len(items),
        noun,
        rows,
        close,
    )


def _count(value: Any, limit: int) -> int:
    seen, stack = 0, [value]
    while stack and seen <= limit:
        item = stack.pop()
        seen += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return seen


@register.filter
def json_tree(value: Any) -> SafeString:
    """The value as nested <details> (collapsible, first levels open); plain pretty JSON when
    it is too big to be useful as a tree."""
    if _count(value, TREE_NODE_LIMIT) > TREE_NODE_LIMIT:
        return format_html('<pre class="jt-raw">{}</pre>', pretty(value))
    return format_html('<div class="json-tree">{}</div>', _node(value, [TREE_NODE_LIMIT], 0))
