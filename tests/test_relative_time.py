from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from django.template import Context, Template

from apps.console.templatetags import formatting


def ago(value) -> str:  # timesince joins number and unit with a no-break space
    return formatting.ago(value).replace("\xa0", " ")


def until(value) -> str:
    return formatting.until(value).replace("\xa0", " ")


NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@time_machine.travel(NOW, tick=False)
def test_ago_says_just_now_under_a_minute_never_zero_minutes():
    assert ago(NOW) == "just now"
    assert ago(NOW - timedelta(seconds=59)) == "just now"
    assert ago(NOW + timedelta(seconds=5)) == "just now"  # another host's clock
    assert ago(NOW - timedelta(minutes=1)) == "1 minute ago"
    assert ago(NOW - timedelta(minutes=5, seconds=10)) == "5 minutes ago"
    assert ago(NOW - timedelta(days=2, hours=3)) == "2 days ago"
    assert ago(None) == ""


@time_machine.travel(NOW, tick=False)
def test_until_says_in_under_a_minute_and_now():
    assert until(NOW + timedelta(days=6, hours=2)) == "in 6 days"
    assert until(NOW + timedelta(seconds=20)) == "in under a minute"
    assert until(NOW - timedelta(seconds=1)) == "now"


@time_machine.travel(NOW, tick=False)
def test_every_template_has_the_filters_without_loading_them():
    rendered = Template("{{ t|ago }} / {{ e|until }}").render(
        Context({"t": NOW, "e": NOW + timedelta(hours=3)})
    )
    assert rendered == "just now / in 3\xa0hours"
