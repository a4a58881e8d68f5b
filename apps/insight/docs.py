"""The Docs view: a workflow's generated reference, as JSON-ready content and as Markdown.

`docs_content(...)` gathers what `apps.insight.analysis.analyze` found in the code (purpose,
inputs, headers, connector actions and HTTP requests, secrets, configs, state keys, tables,
outputs), the access of each action (READ/WRITE: the connector catalog's action metadata,
the HTTP method, else a guess from the action's verb, each said as such) and the workflow's
own facts (triggers, tier, timeout, retry).
The content is stored (apps/insight/models.py) and rendered by the template and by
`docs_markdown`, so stored docs never need the analysis again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

MD_SPECIAL = str.maketrans({"|": "\\|", "\n": " ", "\r": " "})


def _lines(lines: Iterable[int]) -> list[int]:
    return sorted(set(lines))


def _fields(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"name": str(item.name), "lines": _lines(item.lines)} for item in items]


def http_access(methods: Iterable[str]) -> str:
    """READ for GET/HEAD, WRITE for other methods; both when the code picks it at run time."""
    kinds = set()
    for method in methods:
        if method in ("GET", "HEAD"):
            kinds.add("READ")
        elif method.isalpha():
            kinds.add("WRITE")
        else:
            kinds.update(("READ", "WRITE"))
    return " / ".join(sorted(kinds))


def docs_content(
    analysis: Any,
    *,
    workflow: dict[str, Any],
    triggers: list[dict[str, Any]],
    action_info: Callable[[str, str], Any],
    steps: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything the Docs view and the Markdown show. `workflow` holds name, slug,
    description, tier, tier_label, timeout_seconds and retry (dict or None when off);
    `action_info(slug, action)` answers the catalog's ActionInfo or None; `steps` the
    durable steps (`durable_steps`)."""
    http = [{"method": use.method, "url": use.url, "line": use.line} for use in analysis.http]
    actions = []
    for use in analysis.connectors:
        connector, action = str(use.connector), str(use.action)
        info = action_info(connector, action)
        if connector == "http" and action == "request":
            # The generic request reads or writes by its method, whatever the catalog says.
            access, basis = http_access(h["method"] for h in http) or use.kind, "method"
        elif info is not None:
            access, basis = info.kind.upper(), "catalog"
        else:
            access, basis = str(use.kind), "name"
        actions.append(
            {
                "connector": connector,
                "connector_name": info.connector if info is not None else "",
                "action": action,
                "title": info.title if info is not None else "",
                "description": info.description if info is not None else "",
                "access": access,
                "basis": basis,  # catalog | method (http) | name (a guess from the verb)
                "lines": _lines(use.lines),
            }
        )
    return {
        **workflow,
        "purpose": str(analysis.purpose or ""),
        "triggers": triggers,
        "inputs": _fields(analysis.inputs),
        "headers": _fields(analysis.headers),
        "connectors": actions,
        "http": http,
        "secrets": _fields(analysis.secrets),
        "configs": _fields(analysis.configs),
        "state_keys": _fields(analysis.state_keys),
        "tables": [
            {
                "name": str(table.name),
                "operations": [str(op) for op in table.operations],
                "lines": _lines(table.lines),
            }
            for table in analysis.tables
        ],
        "outputs": [_output(shape) for shape in analysis.outputs],
        "steps": steps or [],
    }


STEP_KINDS = {
    "step_do": "step.do",
    "step_sleep": "step.sleep",
    "step_sleep_until": "step.sleepUntil",
    "step_wait_for_event": "step.waitForEvent",
}
# What a reader of a durable workflow's docs must know (README "Durable workflows").
REPLAY_NOTE = (
    "The run resumes after each sleep, wait or long retry delay by running the function again "
    "from the top: finished steps return their stored results without running, but code "
    "outside steps — fastn.* calls included — runs again on every replay. Keep side effects "
    "inside step.do."
)


def durable_steps(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """The durable steps of a step graph (apps/insight/stepgraph.py), in code order, helpers'
    steps included: kind, name, line and what configures it."""
    found: list[dict[str, Any]] = []

    def walk(nodes: list[Any]) -> None:
        for node in nodes:
            if not isinstance(node, dict):
                continue
            kind = STEP_KINDS.get(node.get("type", ""))
            if kind is not None:
                name, line = str(node.get("name", "")), node.get("starts")
                found.append({"kind": kind, "name": name, "line": line,
                              "detail": _step_detail(node)})  # fmt: skip
            for key in ("nodes", "branches", "try_block", "catch_block", "finally_block"):
                child = node.get(key)
                if isinstance(child, dict):
                    walk([child])
                elif isinstance(child, list):
                    walk(child)

    walk(graph.get("nodes", []))
    for function in graph.get("functions", {}).values():
        walk(function.get("nodes", []))
    return sorted(found, key=lambda step: step["line"] or 0)


def _step_detail(node: dict[str, Any]) -> str:
    if node["type"] == "step_do":
        config = node.get("config")
        return json.dumps(config, separators=(", ", ": ")) if config else "default retries"
    if node["type"] == "step_sleep":
        return f"for {node.get('duration')}"
    if node["type"] == "step_sleep_until":
        return f"until {node.get('timestamp')}"
    options = node.get("options") or {}
    timeout = options.get("timeout")
    return f"event {options.get('event_type', '?')}" + (f", timeout {timeout}" if timeout else "")


def _output(output: Any) -> dict[str, Any]:
    if isinstance(output.shape, dict):
        fields = [{"name": str(k), "type": str(v)} for k, v in output.shape.items()]
        return {"line": output.line, "fields": fields, "type": "object"}
    return {"line": output.line, "fields": [], "type": str(output.shape)}


# --- Markdown ----------------------------------------------------------------------------------


def _code(text: str) -> str:
    """An inline code span that survives backticks in the text."""
    text = str(text).replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    return str(text).translate(MD_SPECIAL)


def _where(lines: list[int]) -> str:
    if not lines:
        return "–"
    return ", ".join(str(n) for n in lines)


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def docs_markdown(content: dict[str, Any], *, generated: str) -> str:
    """The reference as a Markdown document (`generated`: a line saying when and from what)."""
    md: list[str] = [f"# {content.get('name') or content.get('slug')}", ""]
    facts = [f"Slug {_code(content.get('slug', ''))}", f"Tier: {content.get('tier_label', '')}"]
    facts.append(f"Timeout: {content.get('timeout_seconds')} s")
    retry = content.get("retry")
    facts.append(
        "Retry: off"
        if not retry
        else f"Retry: {retry['max_attempts']} attempts, {retry['initial_interval_ms']} ms × "
        f"{retry['backoff_coefficient']:g} up to {retry['max_interval_ms']} ms"
    )
    md += [" · ".join(facts), ""]
    if content.get("description"):
        md += [content["description"], ""]
    md += ["## Purpose", "", content.get("purpose") or "_No leading comment in the code._", ""]

    md += ["## Triggers", ""]
    if content.get("triggers"):
        md += _table(
            ["Kind", "Name", "Details", "Runs", "Enabled"],
            [_trigger_row(t) for t in content["triggers"]],
        )
    else:
        md.append("No trigger attached: the workflow runs through the API or by hand.")
    md.append("")

    sections = (
        ("Inputs (`ctx.input`)", "inputs", "Field", "No input fields are read."),
        ("Headers (`ctx.headers`)", "headers", "Header", "No headers are read."),
        ("Secrets", "secrets", "Secret", "No secrets are read."),
        ("Configuration values", "configs", "Key", "No configuration values are read."),
        ("State keys", "state_keys", "Key", "No state keys are used."),
    )
    for title, key, head, empty in sections[:2]:
        md += _field_section(title, content.get(key, []), head, empty)

    md += ["## Connectors and actions", ""]
    if content.get("connectors"):
        md += _table(
            ["Connector", "Action", "Access", "Lines"],
            [_action_row(a) for a in content["connectors"]],
        )
    else:
        md.append("No connector actions are called.")
    md.append("")
    if content.get("http"):
        md += ["### HTTP requests (`fastn.connector.http.request`)", ""]
        md += _table(
            ["Method", "URL", "Line"],
            [
                [h["method"], _code(h["url"] or "(built at run time)"), str(h["line"])]
                for h in content["http"]
            ],
        )
        md.append("")
    for title, key, head, empty in sections[2:]:
        md += _field_section(title, content.get(key, []), head, empty)

    if content.get("steps"):
        md += ["## Durable steps", "", REPLAY_NOTE, ""]
        md += _table(
            ["Step", "Name", "Details", "Line"],
            [[s["kind"], _code(s["name"]), s["detail"], str(s["line"] or "–")]
             for s in content["steps"]],
        )  # fmt: skip
        md.append("")

    md += ["## Tables (`fastn.db`)", ""]
    tables = content.get("tables", [])
    if tables:
        md += _table(
            ["Table", "Operations", "Lines"],
            [[_code(t["name"]), ", ".join(t["operations"]), _where(t["lines"])] for t in tables],
        )
    else:
        md.append("No tables are used.")
    md.append("")

    md += ["## Output", ""]
    outputs = content.get("outputs", [])
    if not outputs:
        md.append("No `return`: the output is `null`.")
    for output in outputs:
        where = f"line {output['line']}" if output.get("line") else "a return"
        if output["fields"]:
            fields = ", ".join(f"{_code(f['name'])}: {f['type']}" for f in output["fields"])
            md.append(f"- {where}: object with {fields}")
        else:
            md.append(f"- {where}: {output['type']}")
    md += ["", "---", "", f"_{generated}_", ""]
    return "\n".join(md)


def _trigger_row(trigger: dict) -> list[str]:
    enabled = "yes" if trigger["enabled"] else "no"
    return [
        trigger["kind_label"],
        trigger["name"],
        trigger["detail"],
        trigger["environment"],
        enabled,
    ]


BASIS_NOTE = {"catalog": "", "method": " (by HTTP method)", "name": " (guessed from the name)"}


def _action_row(action: dict) -> list[str]:
    title = f" — {action['title']}" if action["title"] else ""
    access = (action["access"] or "unknown") + BASIS_NOTE.get(action["basis"], "")
    return [action["connector"], _code(action["action"]) + title, access, _where(action["lines"])]


def _field_section(title: str, items: list[dict], head: str, empty: str) -> list[str]:
    out = [f"## {title}", ""]
    if items:
        out += _table(
            [head, "Used on lines"], [[_code(i["name"]), _where(i["lines"])] for i in items]
        )
    else:
        out.append(empty)
    out.append("")
    return out
