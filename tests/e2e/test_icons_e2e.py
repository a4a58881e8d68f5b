"""Icons in a real browser: the editor's tabs, the placeholder page and the empty states draw SVG
icons from {% icon %} (visible, sized, in the text's colour), and no page an Owner can reach
holds an emoji, which renders as an empty box where no emoji font is installed."""

from __future__ import annotations

import re
from collections import deque
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.configs.services import config_create
from apps.environments.services import environment_create
from apps.executions.models import Execution
from apps.secrets.services import secret_create
from apps.spaces.audit import Actor
from apps.spaces.services import apikey_create, customer_create
from apps.workflows import services
from tests.e2e.helpers import browser_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Unicode's own emoji classes, as the browser's JavaScript engine knows them: pictographs (🔒,
# ⚙, ▶, ⬛), characters shown as emoji by default (flags too) and the emoji variation selector.
FIND_EMOJI = r"""(text) => [...new Set(
  text.match(/[\p{Extended_Pictographic}\p{Emoji_Presentation}\uFE0F]/gu) || []
)].map((c) => c + " U+" + c.codePointAt(0).toString(16).toUpperCase())"""

# True when the element is an <svg> that draws something, has a size on screen, and strokes in
# the colour of its text (currentColor).
DRAWN_SVG = """(el) => {
  if (el.tagName.toLowerCase() !== "svg") return "not an svg: " + el.tagName;
  const box = el.getBoundingClientRect(), drawing = el.getBBox(), style = getComputedStyle(el);
  if (!(box.width > 0 && box.height > 0)) return "no size on screen";
  if (!(drawing.width > 0 && drawing.height > 0)) return "draws nothing";
  if (style.stroke !== style.color) return `stroke ${style.stroke}, text ${style.color}`;
  return "ok";
}"""


def emoji_in(page, text: str) -> list[str]:
    return page.evaluate(FIND_EMOJI, text)


def assert_icon(locator, name: str) -> None:
    expect(locator).to_have_count(1)
    expect(locator).to_have_attribute("data-icon", name)
    expect(locator).to_have_attribute("aria-hidden", "true")
    assert locator.evaluate(DRAWN_SVG) == "ok", name


def test_editor_tabs_placeholder_and_empty_states_draw_svg_icons(live_server, page, cast):
    workflow = services.workflow_create(cast.space, name="Echo", actor=Actor.for_user(cast.owner))
    base = f"{live_server.url}/s/{cast.space.slug}"
    browser_login(page, live_server, "owner@example.com")

    page.goto(f"{base}/workflows/{workflow.id}/")
    tabs = {"test": "play", "docs": "file-text", "cases": "list-checks", "executions": "history",
            "api": "link"}  # fmt: skip
    labels = {"test": "Test", "docs": "Docs", "cases": "Test Cases", "executions": "Executions",
              "api": "API"}  # fmt: skip
    for key, name in tabs.items():
        tab = page.locator(f"#tab-{key}")
        expect(tab).to_have_accessible_name(labels[key])  # the icon adds nothing to read aloud
        assert_icon(tab.locator("svg"), name)
    assert_icon(page.get_by_test_id("run").locator("svg"), "play")
    page.click("#tab-docs")
    expect(page.locator("[data-testid=insight-canvas] svg")).to_be_visible()  # Flow, no icon
    page.click("#tab-cases")
    assert_icon(page.locator("#wf-tab-cases .empty-icon svg"), "list-checks")
    page.click("#tab-executions")
    expect(page.get_by_role("heading", name="No runs yet")).to_be_visible()
    assert_icon(page.locator("#wf-executions .empty-icon svg"), "history")
    assert emoji_in(page, page.content()) == []

    pages = [
        ("activity/alerts/", "Alerts is not available yet", "construction"),
        ("connectors/?q=nothing-matches-this", "No connectors match", "search-x"),
        ("settings/secrets/", "No secrets yet", "lock-keyhole"),
        ("settings/configs/", "No configs yet", "sliders-horizontal"),
        ("settings/customers/", "No customers yet", "users"),
        ("settings/api-keys/", "No API keys yet", "key-round"),
    ]
    for path, heading, name in pages:
        page.goto(f"{base}/{path}")
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        assert_icon(page.locator(".empty-state .empty-icon svg"), name)
        assert emoji_in(page, page.content()) == [], path


# --- Every page: no emoji -------------------------------------------------------------------


def seed(cast) -> None:
    """One of each thing a page lists, so detail pages and tables render too."""
    owner = Actor.for_user(cast.owner)
    workflow = services.workflow_create(cast.space, name="Echo", actor=owner)
    version = services.workflow_publish(workflow, actor=owner)
    now = timezone.now()
    common = {"space": cast.space, "workflow": workflow, "workflow_name": "Echo", "tier": "instant",
              "timeout_seconds": 10, "version": version, "version_number": 1, "attempts": 1,
              "queued_at": now - timedelta(minutes=2), "started_at": now - timedelta(minutes=2),
              "finished_at": now - timedelta(minutes=1), "duration_ms": 12.0}  # fmt: skip
    Execution.objects.create(
        **common, triggered_by="api", status="completed", input={"name": "Ada"},
        output={"hi": "Ada"}, logs=[{"level": "log", "message": "hello"}],
    )  # fmt: skip
    Execution.objects.create(
        **common, triggered_by="manual", status="failed",
        error={"code": "WORKFLOW_ERROR", "message": "Error: boom"},
    )  # fmt: skip
    customer = customer_create(cast.space, name="Acme Co", external_id="acme", actor=owner)
    secret_create(cast.space, name="TOKEN", type="text", value="s3cret-value", actor=owner)
    secret_create(
        cast.space, name="TOKEN", type="text", value="s3cret-2", customer=customer, actor=owner
    )
    config_create(cast.space, key="BASE_URL", values={"test": "http://127.0.0.1/"}, actor=owner)
    environment_create(cast.space, name="Staging", actor=owner)
    apikey_create(cast.space, name="CI", mode="test", created_by=cast.owner, actor=owner)


# Links a crawl must not follow: leaving the session, JSON and CSV, static files.
SKIP = re.compile(r"^/(accounts/logout|api/|static/)|\.csv$|\.json$")
LINK = re.compile(r"""\s(href|hx-get)="([^"#]*)["#]""")
MUST_REACH = [
    "", "no-such-page/", "workflows/", "workflows/build/", "connectors/", "activity/alerts/",
    "activity/executions/", "settings/secrets/", "settings/configs/", "settings/customers/",
    "settings/api-keys/", "settings/people/", "settings/environments/", "settings/audit-log/",
]  # fmt: skip
UUID = "[0-9a-f-]{36}"
MUST_REACH_OBJECTS = [
    f"workflows/{UUID}/", f"workflows/{UUID}/executions/", f"workflows/{UUID}/run/",
    f"activity/executions/{UUID}/", f"settings/customers/{UUID}/", f"settings/configs/{UUID}/",
    f"settings/environments/{UUID}/", f"settings/secrets/{UUID}/rotate/",
]  # fmt: skip
MAX_PAGES = 300
MAX_PER_PATH = 4  # distinct query strings of one path (filters, tabs, pages)


def links(html: str, base: str) -> list[tuple[str, bool]]:
    """(absolute URL, fetched by htmx) of every same-site link and hx-get in the HTML."""
    found = []
    for attribute, target in LINK.findall(html):
        target = target.replace("&amp;", "&")
        if not target or target.startswith(("javascript:", "mailto:", "{")):
            continue
        url = urljoin(base, target)
        if urlsplit(url).netloc == urlsplit(base).netloc and not SKIP.search(urlsplit(url).path):
            found.append((url, attribute == "hx-get"))
    return found


def crawl(page, start: list[str]) -> dict[str, str]:
    """Every HTML page and htmx fragment reachable by GET from `start`, as the logged-in browser
    fetches them: URL -> body."""
    seen_paths: dict[str, int] = {}
    queue = deque((url, False) for url in start)
    queued = set(start)
    bodies: dict[str, str] = {}
    while queue and len(bodies) < MAX_PAGES:
        url, htmx = queue.popleft()
        headers = {"HX-Request": "true"} if htmx else {}
        response = page.request.get(url, headers=headers, max_redirects=5)
        assert response.status < 500, (url, response.status)
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        body = response.text()
        bodies[url] = body
        for link, by_htmx in links(body, response.url):
            path = urlsplit(link).path
            if link in queued or seen_paths.get(path, 0) >= MAX_PER_PATH:
                continue
            seen_paths[path] = seen_paths.get(path, 0) + 1
            queued.add(link)
            queue.append((link, by_htmx))
    return bodies


def test_no_page_an_owner_can_reach_holds_an_emoji(live_server, page, cast):
    """Crawl the console as its Owner, from the Space's home, following every link and hx-get,
    and look for emoji in each page's HTML as the server sends it."""
    seed(cast)
    browser_login(page, live_server, "owner@example.com")
    home = f"{live_server.url}/s/{cast.space.slug}/"
    bodies = crawl(page, [f"{live_server.url}/", home, f"{home}no-such-page/"])  # + the 404 page

    paths = {urlsplit(url).path.removeprefix(f"/s/{cast.space.slug}/") for url in bodies}
    # The crawl reached the pages this issue is about, and the ones behind objects.
    for expected in MUST_REACH:
        assert expected in paths, f"the crawl never reached {expected!r}: {sorted(paths)}"
    for pattern in MUST_REACH_OBJECTS:
        assert any(re.fullmatch(pattern, path) for path in paths), pattern

    found = {url: emoji_in(page, body) for url, body in bodies.items()}
    assert {url: chars for url, chars in found.items() if chars} == {}
    # The check itself sees emoji: the old editor's tab labels would have failed it.
    assert emoji_in(page, "📄 Docs ⬛ Executions 🔗 API ✏️ 🚧 ▶ Run → ✓") == [
        "📄 U+1F4C4", "⬛ U+2B1B", "🔗 U+1F517", "✏ U+270F", "\ufe0f U+FE0F", "🚧 U+1F6A7",
        "▶ U+25B6",
    ]  # fmt: skip
