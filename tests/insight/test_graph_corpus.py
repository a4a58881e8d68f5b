"""Every workflow in tests/insight/corpus has its expected graph (node kinds, labels, lines,
parents, host calls, edges with labels and the main path) next to it; a difference fails with
a line diff. Refresh one on purpose with `python -m tests.insight.corpus_format NAME` and
review the diff before committing."""

from __future__ import annotations

import difflib
import json

import pytest

from tests.insight.corpus_format import CORPUS, describe, graph_of

CASES = sorted(p.stem for p in CORPUS.glob("*.js"))


def test_the_corpus_is_large_enough_and_complete():
    assert len(CASES) >= 25
    missing = [name for name in CASES if not (CORPUS / f"{name}.json").exists()]
    assert not missing, f"no expected graph for {missing}"


@pytest.mark.parametrize("name", CASES)
def test_graph_matches_the_expected_one(name):
    expected = json.loads((CORPUS / f"{name}.json").read_text())
    actual = describe(graph_of(name, expected))
    wanted = {key: expected.get(key) for key in actual}
    if actual != wanted:
        diff = difflib.unified_diff(
            json.dumps(wanted, indent=2, ensure_ascii=False).splitlines(),
            json.dumps(actual, indent=2, ensure_ascii=False).splitlines(),
            fromfile=f"{name}.json (expected)",
            tofile=f"{name}.js (parsed)",
            lineterm="",
        )
        pytest.fail("the graph differs from the expected one:\n" + "\n".join(diff))


def test_the_corpus_holds_every_demo_sample_as_seeded():
    from apps.demo.samples import SAMPLES

    names = {
        "echo": "demo_echo",
        "dedupe-lead": "demo_dedupe_lead",
        "github-repo": "demo_github_repo",
    }
    assert {s["slug"] for s in SAMPLES} == set(names)
    for sample in SAMPLES:
        assert (CORPUS / f"{names[sample['slug']]}.js").read_text() == sample["code"]
