"""Console sections whose issue has not landed yet. Each gets a real URL and an honest empty
state, so the sidebar never has a broken link."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str
    path: str
    title: str
    group: str
    blurb: str


UPCOMING = [
    Section("workflow_builder", "workflows/build/", "Build with AI", "Integrations · Workflows",
            "Describe what you need and an agent writes, tests and documents the workflow."),
    Section("alerts", "activity/alerts/", "Alerts", "Activity",
            "Rules on error rate, latency and failures, delivered by email, Slack or webhook."),
]  # fmt: skip

BY_KEY = {section.key: section for section in UPCOMING}
