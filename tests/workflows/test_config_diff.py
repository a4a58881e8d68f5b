"""The configuration half of the Compare dialog: two versions, or a version and the unsaved
draft, setting by setting."""

from __future__ import annotations

import re

from django.urls import reverse

from apps.workflows import services
from apps.workflows.config_diff import config_changes, flat_config
from tests.conftest import login


def compare_url(workflow, number: int, space=None) -> str:
    space = space or workflow.space
    return reverse(
        "workflow_compare",
        kwargs={"space_slug": space.slug, "workflow_id": workflow.id, "number": number},
    )


def rows_of(html: str) -> dict[str, tuple[str, str, str]]:
    """{field: (changed, old, new)} from the rendered table."""
    found = {}
    pattern = (
        r'<tr data-field="(\w+)" data-changed="(\w+)".*?<td class="wf-cfg-old">(.*?)</td>\s*'
        r'<td class="wf-cfg-new">(?:<span class="muted" aria-hidden="true">→ </span>)?(.*?)</td>'
    )
    for key, changed, old, new in re.findall(pattern, html, re.S):
        found[key] = (changed, old.strip(), new.strip())
    return found


def two_versions(make_workflow, actor):
    workflow = make_workflow()
    services.workflow_publish(workflow, actor=actor)
    fields = services.fields_of(workflow)
    fields.update(timeout_seconds=120, description="Now with docs", retry_enabled=True,
                  retry_backoff_coefficient=2.0)  # fmt: skip
    services.workflow_update(workflow, expected_revision=None, actor=actor, **fields)
    services.workflow_publish(workflow, actor=actor)
    return workflow


def test_rows_mark_what_changed_and_show_values_as_people_read_them():
    old = flat_config({"name": "A", "description": "", "tier": "instant", "timeout_seconds": 60,
                       "enabled": True, "retry": {"enabled": False, "max_attempts": 3,
                       "initial_interval_ms": 5000, "backoff_coefficient": 2,
                       "max_interval_ms": 60000}})  # fmt: skip
    new = {**old, "tier": "standard", "timeout_seconds": 900, "enabled": False,
           "retry_backoff_coefficient": 2.0, "retry_initial_interval_ms": 1500}  # fmt: skip
    rows = {row.key: row for row in config_changes(old, new)}
    assert [r.label for r in config_changes(old, new)][:5] == [
        "Name", "Description", "Tier", "Timeout", "Status"]  # fmt: skip
    assert (rows["tier"].old, rows["tier"].new, rows["tier"].changed) == (
        "Instant", "Standard", True)  # fmt: skip
    assert (rows["timeout_seconds"].old, rows["timeout_seconds"].new) == ("1 min", "15 min")
    assert (rows["enabled"].old, rows["enabled"].new) == ("Enabled", "Disabled")
    assert rows["retry_backoff_coefficient"].changed is False  # 2 == 2.0
    assert (rows["retry_initial_interval_ms"].old, rows["retry_initial_interval_ms"].new) == (
        "5 s", "1,500 ms")  # fmt: skip
    assert rows["description"].old == "—" and not rows["name"].changed


def test_an_old_version_missing_a_setting_is_shown_as_a_dash():
    rows = {r.key: r for r in config_changes(flat_config({"name": "A"}), {"name": "A"})}
    assert rows["retry_max_attempts"].old == "—" and not rows["retry_max_attempts"].changed


def test_compare_two_versions(client, cast, make_workflow, actor):
    workflow = two_versions(make_workflow, actor)
    login(client, cast.viewer)  # reading is enough
    response = client.get(compare_url(workflow, 1), {"to": "2"})
    assert response.status_code == 200
    html = response.content.decode()
    rows = rows_of(html)
    assert rows["timeout_seconds"] == ("true", "1 min", "2 min")
    assert rows["description"] == ("true", "—", "Now with docs")
    assert rows["retry_enabled"] == ("true", "Off", "On")
    assert rows["tier"] == ("false", "Instant", "Instant")
    assert rows["name"] == ("false", "Echo", "Echo")
    assert "3 of 10 settings changed" in html


def test_compare_with_the_unsaved_draft_uses_the_panel_values(client, cast, make_workflow, actor):
    workflow = two_versions(make_workflow, actor)
    login(client, cast.developer)
    panel = {"to": "draft", "name": "Echo <b>2</b>", "description": "Now with docs",
             "tier": "standard", "timeout_seconds": "12x", "retry_max_attempts": "3",
             "retry_initial_interval_ms": "5000", "retry_backoff_coefficient": "2",
             "retry_max_interval_ms": "60000", "enabled": "on"}  # fmt: skip
    html = client.get(compare_url(workflow, 2), panel).content.decode()
    rows = rows_of(html)
    assert rows["name"] == ("true", "Echo", "Echo &lt;b&gt;2&lt;/b&gt;")  # escaped
    assert rows["tier"] == ("true", "Instant", "Standard")
    assert rows["timeout_seconds"] == ("true", "2 min", "12x")  # as typed
    assert rows["retry_enabled"] == ("true", "On", "Off")  # unchecked box: not sent
    assert rows["enabled"][0] == "false"
    assert ">Draft<" in html


def test_compare_without_panel_values_uses_the_saved_draft(client, cast, make_workflow, actor):
    workflow = two_versions(make_workflow, actor)
    login(client, cast.viewer)
    html = client.get(compare_url(workflow, 2)).content.decode()
    assert "No configuration changes" in html and "Saved draft" in html


def test_compare_is_404_for_unknown_versions_and_outsiders(client, cast, make_workflow, actor):
    workflow = two_versions(make_workflow, actor)
    login(client, cast.owner)
    assert client.get(compare_url(workflow, 9)).status_code == 404
    assert client.get(compare_url(workflow, 1), {"to": "9"}).status_code == 404
    assert client.get(compare_url(workflow, 1), {"to": "x"}).status_code == 404
    theirs = make_workflow("Theirs", space=cast.other_space)
    services.workflow_publish(theirs, actor=actor)
    assert client.get(compare_url(theirs, 1, space=cast.space)).status_code == 404
    login(client, cast.outsider)
    assert client.get(compare_url(workflow, 1), {"to": "2"}).status_code == 404
