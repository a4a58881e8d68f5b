"""`{% icon "name" %}`: an inline SVG icon from the vendored Lucide set.

The SVG files come from the lucide-static npm package, pinned in package-lock.json and copied to
static/vendor/icons/ by scripts/bootstrap.sh (no CDN). They are inlined rather than linked with
<img> so that an icon takes the colour of the text around it (stroke="currentColor"), costs no
request, and never depends on an emoji font on the viewer's machine. Each file is read once per
process. The tag is a template builtin (settings.TEMPLATES), so templates need no `{% load %}`.

    {% icon "file-text" %}                        decorative: aria-hidden, the text beside it speaks
    {% icon "lock" size="xl" class="muted" %}     size: sm | lg | xl (classes in console.css)
    {% icon "x" label="Close" %}                  meaningful on its own: role="img" + aria-label

An unknown name is a programming error. Outside production it raises: at template compile time
for a literal name, at render time for a variable, so a test that renders the page fails. In
production (FASTN_ENV=production) the page still renders: the icon becomes an empty hidden
placeholder, and an error naming the icon is logged to the `apps.console.icons` logger.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path

from django import template
from django.conf import settings
from django.template.base import FilterExpression, token_kwargs
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger("apps.console.icons")
register = template.Library()

ICONS_DIR: Path = settings.BASE_DIR / "static" / "vendor" / "icons"
SIZES = frozenset({"sm", "lg", "xl"})
OPTIONS = frozenset({"size", "class", "label"})
# Lucide's file names; anything else (a path, "..") is refused before it reaches the disk.
NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SVG = re.compile(r"<svg\b(?P<attrs>[^>]*)>(?P<body>.*)</svg>\s*\Z", re.S)
ATTR = re.compile(r'([a-zA-Z:-]+)="([^"]*)"')
# Lucide's own drawing attributes; its width, height and class give way to ours.
KEPT_ATTRS = ("viewBox", "fill", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin")


class UnknownIcon(LookupError):
    pass


@functools.cache
def icon_parts(name: str) -> tuple[SafeString, SafeString]:
    """(drawing attributes, inner markup) of one icon file, read once. Raises UnknownIcon."""
    if not NAME.fullmatch(name):
        raise UnknownIcon(f"{name!r} is not an icon name (lower-case words joined by '-')")
    path = ICONS_DIR / f"{name}.svg"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnknownIcon(
            f"no icon {name!r} in {ICONS_DIR}: see the names at lucide.dev/icons, or run "
            "scripts/bootstrap.sh if the folder is missing"
        ) from None
    match = SVG.search(text)
    if not match:
        raise UnknownIcon(f"{path} is not an <svg> file")
    attrs = dict(ATTR.findall(match["attrs"]))
    drawing = " ".join(f'{key}="{attrs[key]}"' for key in KEPT_ATTRS if key in attrs)
    body = re.sub(r">\s+<", "><", match["body"].strip())
    # Markup of a file vendored from a pinned package, chosen by a validated name: never text
    # from a request.
    return mark_safe(drawing), mark_safe(body)  # noqa: S308


def icon_svg(name: str, *, size: str = "", css_class: str = "", label: str = "") -> SafeString:
    """The <svg> element of icon `name`. Raises UnknownIcon (ValueError for a bad size)."""
    if not isinstance(name, str):  # a variable holding None, a list…: no icon, nor a cache key
        raise UnknownIcon(f"{name!r} is not an icon name")
    drawing, body = icon_parts(name)
    if size and size not in SIZES:
        raise ValueError(f"icon size {size!r} is not one of {sorted(SIZES)}")
    classes = " ".join(part for part in ("icon", size and f"icon-{size}", css_class) if part)
    if label:
        a11y = format_html('role="img" aria-label="{}"', label)
    else:
        a11y = mark_safe('aria-hidden="true"')
    # width/height in em only matter if the stylesheet fails to load: an SVG without them
    # would stretch to 300x150.
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="{}" data-icon="{}" width="1em" '
        'height="1em" {} {} focusable="false">{}</svg>',
        classes,
        name,
        drawing,
        a11y,
        body,
    )


def missing_icon(name: object, error: Exception) -> SafeString:
    """Production's answer to a bad icon: log it and keep the page (and the label) working."""
    logger.error("icon %r cannot be rendered: %s", name, error)
    return mark_safe('<span class="icon icon-missing" aria-hidden="true"></span>')


class IconNode(template.Node):
    def __init__(self, name: FilterExpression, options: dict[str, FilterExpression]):
        self.name = name
        self.options = options

    def render(self, context) -> str:
        name = self.name.resolve(context)
        option = {key: str(value.resolve(context) or "") for key, value in self.options.items()}
        try:
            return icon_svg(
                name,
                size=option.get("size", ""),
                css_class=option.get("class", ""),
                label=option.get("label", ""),
            )
        except (UnknownIcon, ValueError) as error:
            if not settings.PRODUCTION:
                raise
            return missing_icon(name, error)


def literal(expression: FilterExpression) -> str | None:
    """The string a quoted argument without filters stands for, else None."""
    if isinstance(expression.var, str) and not expression.filters:
        return str(expression.var)
    return None


@register.tag
def icon(parser, token) -> IconNode:
    """{% icon "name" [size="sm|lg|xl"] [class="..."] [label="..."] %}"""
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError('{% icon %} needs a name: {% icon "file-text" %}')
    rest = bits[2:]
    options = token_kwargs(rest, parser)
    if rest or set(options) - OPTIONS:
        raise template.TemplateSyntaxError(
            f"{{% icon %}} takes a name and then only {sorted(OPTIONS)} as key=value: {bits}"
        )
    node = IconNode(parser.compile_filter(bits[1]), options)
    # Check what can be checked now, so a typo fails when the template loads, not when some
    # branch of it renders.
    name, size = literal(node.name), options.get("size") and literal(options["size"])
    if name is not None and not settings.PRODUCTION:
        try:
            icon_svg(name, size=size or "")
        except (UnknownIcon, ValueError) as error:
            raise template.TemplateSyntaxError(str(error)) from error
    return node
