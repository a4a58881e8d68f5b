"""{% icon %}: inline SVG from the vendored Lucide set, loud about unknown names, installed where
it reads them."""

from __future__ import annotations

import json
import logging
import re

import pytest
from django.conf import settings
from django.template import Context, Template, TemplateSyntaxError, engines

from apps.console.templatetags.icons import ICONS_DIR, UnknownIcon, icon_parts, icon_svg


def render(source: str, **context) -> str:
    return Template(source).render(Context(context))


# --- Rendering ------------------------------------------------------------------------------


def test_a_known_icon_renders_an_inline_decorative_svg():
    html = render('<button>{% icon "file-text" %} Docs</button>')
    svg = re.fullmatch(r"<button>(<svg [^>]*>)(.*)</svg> Docs</button>", html)
    assert svg, html
    tag, body = svg.groups()
    assert 'class="icon"' in tag and 'data-icon="file-text"' in tag
    assert 'aria-hidden="true"' in tag and 'focusable="false"' in tag and "role=" not in tag
    assert 'stroke="currentColor"' in tag and 'fill="none"' in tag and 'viewBox="0 0 24 24"' in tag
    # Lucide's own fixed size and class give way to the stylesheet's .icon.
    assert 'width="24"' not in tag and "lucide" not in tag
    assert body.startswith("<path d=") and body.count("<path") == 5
    assert "<!--" not in html and "\n" not in html


def test_a_label_makes_the_icon_an_image_with_an_escaped_name():
    html = render('{% icon "x" label=name %}', name='Close "dialog" <now>')
    assert 'role="img" aria-label="Close &quot;dialog&quot; &lt;now&gt;"' in html
    assert "aria-hidden" not in html


def test_size_and_class_become_classes_from_the_stylesheet():
    html = render('{% icon "lock" size="xl" class="muted extra" %}')
    assert 'class="icon icon-xl muted extra"' in html
    css = (settings.BASE_DIR / "static/css/console.css").read_text()
    for size in ("sm", "lg", "xl"):
        assert f".icon-{size} {{" in css
    assert ".icon {" in css


def test_a_name_from_a_variable_renders_too():
    assert 'data-icon="users"' in render("{% icon name %}", name="users")


def test_each_file_is_read_once():
    icon_parts.cache_clear()
    for _ in range(3):
        render('{% icon "zap" %}')
    info = icon_parts.cache_info()
    assert info.misses == 1 and info.hits >= 2


# --- Unknown names fail loudly (outside production) --------------------------------------


def test_an_unknown_literal_name_fails_when_the_template_compiles():
    with pytest.raises(TemplateSyntaxError, match="no icon 'file-txt'"):
        Template('{% if False %}{% icon "file-txt" %}{% endif %}')


def test_an_unknown_name_from_a_variable_raises_at_render():
    template = Template("{% icon name %}")
    with pytest.raises(UnknownIcon, match="no icon 'nope'"):
        template.render(Context({"name": "nope"}))
    with pytest.raises(UnknownIcon):
        template.render(Context({}))  # a missing variable is no icon either
    with pytest.raises(UnknownIcon):
        template.render(Context({"name": ["lock"]}))


@pytest.mark.parametrize("name", ["../../../etc/passwd", "File-Text", "file_text", "", "a/b"])
def test_names_that_are_not_icon_names_never_reach_the_disk(name):
    with pytest.raises(UnknownIcon, match="not an icon name"):
        icon_svg(name)


@pytest.mark.parametrize(
    "source",
    [
        "{% icon %}",
        '{% icon "x" "y" %}',
        '{% icon "x" colour="red" %}',
        '{% icon "x" size="huge" %}',
    ],
)
def test_malformed_tags_fail_when_the_template_compiles(source):
    with pytest.raises(TemplateSyntaxError):
        Template(source)


def test_in_production_an_unknown_icon_is_logged_and_the_page_still_renders(settings, caplog):
    settings.PRODUCTION = True
    template = Template('<p>{% icon "no-such-icon" %} Label {% icon name size="huge" %}</p>')
    with caplog.at_level(logging.ERROR, logger="apps.console.icons"):
        html = template.render(Context({"name": "lock"}))
    placeholder = '<span class="icon icon-missing" aria-hidden="true"></span>'
    assert html == f"<p>{placeholder} Label {placeholder}</p>"
    assert "'no-such-icon'" in caplog.text and "'huge'" in caplog.text


# --- Installation ---------------------------------------------------------------------------


def test_the_icons_are_installed_where_the_tag_reads_them():
    """scripts/bootstrap.sh copies lucide-static's icons (at the version package-lock.json pins)
    into static/vendor/icons/, the folder the tag reads."""
    assert ICONS_DIR == settings.BASE_DIR / "static" / "vendor" / "icons"
    pinned = json.loads((settings.BASE_DIR / "package.json").read_text())["dependencies"]
    lock = json.loads((settings.BASE_DIR / "package-lock.json").read_text())["packages"]
    version = lock["node_modules/lucide-static"]["version"]
    assert pinned["lucide-static"] == version  # an exact pin
    svgs = list(ICONS_DIR.glob("*.svg"))
    assert len(svgs) > 1000, f"{ICONS_DIR} is missing or partial: run scripts/bootstrap.sh"
    header = (ICONS_DIR / "file-text.svg").read_text().splitlines()[0]
    assert header == f"<!-- @license lucide-static v{version} - ISC -->", (
        "static/vendor/icons/ is from another lucide-static version: run scripts/bootstrap.sh"
    )
    assert "ISC License" in (ICONS_DIR / "LICENSE").read_text()
    bootstrap = (settings.BASE_DIR / "scripts/bootstrap.sh").read_text()
    assert (
        "node_modules/lucide-static/icons/*.svg" in bootstrap
        and "static/vendor/icons/" in bootstrap
    )


def template_names() -> list[str]:
    root = settings.BASE_DIR / "templates"
    return sorted(str(path.relative_to(root)) for path in root.rglob("*.html"))


def test_every_template_compiles_with_its_icons():
    """Compiling checks each literal icon name, so a typo anywhere fails here, whether or not
    a test renders the branch that holds it."""
    engine = engines["django"]
    names = template_names()
    used = set()
    for name in names:
        engine.get_template(name)
        source = (settings.BASE_DIR / "templates" / name).read_text()
        used |= set(re.findall(r'{%\s*icon\s+"([a-z0-9-]+)"', source))
    # The editor's tabs and the empty states are among them.
    assert {"file-text", "history", "link", "construction", "key-round", "users"} <= used
    for name in used:
        assert (ICONS_DIR / f"{name}.svg").is_file(), name
