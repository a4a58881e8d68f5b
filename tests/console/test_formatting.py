"""The one set of presentation filters (`{% load formatting %}`): its rules, and that no page
formats these things any other way."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import timezone

from apps.console.templatetags.formatting import (
    ago,
    duration,
    json_tree,
    pretty_json,
    status_badge,
    when,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "—"),
        ("", "—"),
        ("soon", "—"),
        (-5, "—"),
        (float("nan"), "—"),
        (0, "0ms"),
        (0.2, "<1ms"),
        (1, "1ms"),
        (79, "79ms"),
        (79.4, "79ms"),
        (999.4, "999ms"),
        (999.6, "1s"),
        (1000, "1s"),
        (1500, "1.5s"),
        (2000, "2s"),
        (2140, "2.1s"),
        (59_900, "59.9s"),
        (59_960, "1m"),
        (60_000, "1m"),
        (65_000, "1m 5s"),
        (90_000, "1m 30s"),
        (3_599_400, "59m 59s"),
        (3_600_000, "1h"),
        (7_500_000, "2h 5m"),
        ("2500", "2.5s"),
    ],
)
def test_duration_rules(ms, text):
    assert duration(ms) == text


def test_pending_is_neutral_and_running_is_info():
    assert status_badge("pending") == "badge-neutral"
    assert status_badge("running") == "badge-info"
    assert status_badge("completed") == "badge-success"
    assert status_badge("failed") == "badge-danger"
    assert status_badge("timeout") == "badge-warning"
    assert status_badge("cancelled") == "badge-neutral"
    assert status_badge("waiting") == "badge-waiting"
    assert status_badge("paused") == "badge-warning"
    assert status_badge("anything else") == "badge-neutral"


def test_every_status_of_executions_and_steps_has_its_own_badge():
    from apps.executions.models import Status, StepStatus

    assert all(status_badge(status) != "badge-neutral" or status in ("pending", "cancelled")
               for status in Status.values)  # fmt: skip
    assert len({status_badge(status, "step") for status in StepStatus.values}) == 5
    assert "badge-neutral" not in {status_badge(status, "step") for status in StepStatus.values}


def test_when_is_human_with_the_exact_moment_in_the_tooltip(settings):
    settings.TIME_ZONE = "UTC"
    moment = datetime(2026, 5, 4, 16, 38, 29, 854662, tzinfo=UTC)
    with timezone.override("UTC"):
        html = str(when(moment))
        clock = str(when(moment, "time"))
    assert ">4 May 2026, 16:38:29</time>" in html
    assert 'title="2026-05-04 16:38:29.854 UTC"' in html
    assert f'datetime="{moment.isoformat()}"' in html
    assert ">16:38:29</time>" in clock
    assert when(None) == "—"


def test_when_follows_the_server_time_zone():
    moment = datetime(2026, 5, 4, 23, 30, tzinfo=UTC)
    with timezone.override("Asia/Kolkata"):
        html = str(when(moment))
    assert ">5 May 2026, 05:00:00</time>" in html and "IST" in html


def test_ago():
    now = timezone.now()
    assert ago(now - timedelta(seconds=20)) == "just now"
    assert ago(now - timedelta(minutes=5, seconds=3)) == "5\xa0minutes ago"
    assert ago(now - timedelta(days=2, hours=3)) == "2\xa0days ago"
    assert ago(None) == ""


def test_json_filters_escape_and_keep_unicode():
    assert pretty_json({"a": [1, "é"]}) == '{\n  "a": [\n    1,\n    "é"\n  ]\n}'
    tree = str(json_tree({"<b>": "</script>"}))
    assert "<b>" not in tree and "</script>" not in tree and "&lt;b&gt;" in tree
    big = list(range(5000))
    assert str(json_tree(big)).startswith('<pre class="jt-raw">')


def test_filters_render_through_the_template_library():
    out = Template("{% load formatting %}{{ d|duration }} {{ s|status_badge }}").render(
        Context({"d": 2000, "s": "pending"})
    )
    assert out == "2s badge-neutral"


def test_no_other_template_library_formats_durations_or_badges():
    """One place per presentation concern: the old filter names are gone from every template
    and no other templatetags module defines these filters."""
    templates = "\n".join(p.read_text() for p in (ROOT / "templates").rglob("*.html"))
    assert not re.search(r"\|(ms|pretty|status_class)\b", templates)
    assert "{% load executions %}" not in templates
    names = ("def duration", "def ms(", "def status_badge", "def status_class", "def pretty")
    for module in (ROOT / "apps").glob("*/templatetags/*.py"):
        if module.name == "formatting.py":
            continue
        text = module.read_text()
        assert not any(name in text for name in names), module


def test_draft_and_actor_are_defined_once():
    sources = {
        p: p.read_text() for p in (ROOT / "apps").rglob("*.py") if "migrations" not in p.parts
    }
    drafts = [p for p, text in sources.items() if re.search(r"^DRAFT\s*=", text, re.M)]
    actors = [p for p, text in sources.items() if re.search(r"^def actor\(", text, re.M)]
    assert [p.relative_to(ROOT).as_posix() for p in drafts] == ["apps/environments/models.py"]
    assert [p.relative_to(ROOT).as_posix() for p in actors] == ["apps/spaces/audit.py"]
