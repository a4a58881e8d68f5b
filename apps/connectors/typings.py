"""TypeScript declarations of a Space's connectors, for the workflow editor's autocomplete.

The editor (static/js/editor.js) adds this text to Monaco's JavaScript language service with
`addExtraLib`, beside the runtime's own declarations (static/js/workflow_types.js, which
declares `interface FastnConnectors { http: …; [slug: string]: any }`). This module merges one
property per connector into that interface, so that `fastn.connector.` (and its alias
`fastn.connectors.`, and `new Fastn().connector.`) offers the Space's connectors by code name,
`fastn.connector.cin7Core.` offers the connector's actions with their title and description,
and the object passed to an action offers its parameters with their types, required flags and
descriptions. Every action resolves to `FastnConnectorResponse` (`{status, headers, body}`).

Names and descriptions come from definitions a Space's developers write (or import from an
OpenAPI document), so nothing from a definition reaches the text unescaped:

- descriptions go only into JSDoc comments, where `*/` is broken up (it would end the comment
  and let the rest run as declarations) and line separators are normalised;
- property names are written bare only when they are plain identifiers, otherwise as JSON
  string literals (ASCII-escaped);
- type names are built here from a connector's code name, which is validated;
- enum values become literal types only when they are strings, finite numbers or booleans.

A built-in's block is made once per process (the catalog does not change while it runs); a
Space connector's block once per version (versions are immutable)."""

from __future__ import annotations

import functools
import json
import math
import re
import threading
from collections import OrderedDict
from typing import Any

from apps.connectors.catalog import builtin_connectors
from apps.connectors.definition import (
    IDENTIFIER_RE,
    Action,
    ConnectorDefinition,
    DefinitionError,
    Parameter,
    code_name,
    parse_definition,
)
from apps.connectors.models import Connector, ConnectorVersion
from apps.spaces.models import Space

NAMESPACE = "FastnConnectorTypes"
# The generic HTTP connector is declared by workflow_types.js with its own request shape.
DECLARED_ELSEWHERE = frozenset({"http"})
DOC_LIMIT = 1500
ENUM_LIMIT = 100
SCHEMA_DEPTH = 4
SCHEMA_BUDGET = 400  # schema nodes turned into types per action; the rest is `any`
TS_TYPES = {"string": "string", "integer": "number", "number": "number",
            "boolean": "boolean", "object": "Record<string, any>", "array": "any[]"}  # fmt: skip
LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x85\v\f]")
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
CODE_NAME = re.compile(r"[A-Za-z0-9]+")

HEADER = """// The connectors this Space can call from workflows, generated from their definitions.
/** What every connector action resolves to. */
interface FastnConnectorResponse<T = any> {
  /** The service's HTTP status. */
  status: number;
  /** The response headers, lower-case names. */
  headers: Record<string, string>;
  /** Parsed JSON when the response is JSON, else the text. */
  body: T;
}

"""


# --- Escaping -----------------------------------------------------------------------------------


def doc_text(text: Any, limit: int = DOC_LIMIT) -> str:
    """Text safe inside a `/** … */` comment: no `*/`, no control characters, one kind of
    line break, at most `limit` characters, and no line that starts a JSDoc tag."""
    value = LINE_BREAKS.sub("\n", str(text or ""))
    value = CONTROL.sub("", value).replace("\t", "  ")
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    value = value.replace("*/", "*\\/")
    # A line starting with "@" would be read as a tag (@deprecated strikes the name through).
    return "\n".join(re.sub(r"^(\s*)@", r"\1\\@", line) for line in value.strip().split("\n"))


def jsdoc(lines: list[str], indent: str) -> str:
    text = "\n\n".join(line for line in lines if line)
    if not text:
        return ""
    body = "\n".join(f"{indent} * {line}".rstrip() for line in text.split("\n"))
    return f"{indent}/**\n{body}\n{indent} */\n"


def property_name(name: str) -> str:
    """A property key: the identifier itself, or a JSON string literal (which TypeScript reads
    as a string literal too; non-ASCII escaped, so no line separator sneaks in)."""
    if IDENTIFIER_RE.fullmatch(name):
        return name
    return json.dumps(name, ensure_ascii=True)


def type_name(code_name: str) -> str:
    """The interface name of a connector: its code name with a capital (`cin7Core` →
    `Cin7Core`), led by an underscore when it starts with a digit. Code names are letters and
    digits only (from slugs), so the name is always a valid identifier."""
    if not CODE_NAME.fullmatch(code_name):
        raise ValueError(f"not a connector code name: {code_name!r}")
    head = code_name[:1].upper() + code_name[1:]
    return f"_{head}" if head[0].isdigit() else head


def literal(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and math.isfinite(value):
        return json.dumps(value)
    if isinstance(value, str) and len(value) <= 200:
        return json.dumps(value, ensure_ascii=True)
    return None


def enum_type(values: tuple | list, fallback: str) -> str:
    literals = [literal(v) for v in list(values)[:ENUM_LIMIT]]
    if not literals or any(item is None for item in literals) or len(values) > ENUM_LIMIT:
        return fallback
    return " | ".join(dict.fromkeys(literals))


# --- Types --------------------------------------------------------------------------------------


def parameter_type(parameter: Parameter) -> str:
    base = TS_TYPES.get(parameter.type, "any")
    return enum_type(parameter.enum, base) if parameter.enum else base


def schema_type(schema: Any, indent: str, budget: list[int], depth: int = 0) -> str:
    """A JSON schema (a request body's) as a TypeScript type, as far as depth and budget go."""
    budget[0] -= 1
    if not isinstance(schema, dict) or depth > SCHEMA_DEPTH or budget[0] < 0:
        return "any"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return enum_type(schema["enum"], "any")
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            types = [schema_type(o, indent, budget, depth + 1) for o in options[:20]]
            return "any" if "any" in types else " | ".join(dict.fromkeys(types))
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if isinstance(k, str)]
        types = [schema_type({**schema, "type": k}, indent, budget, depth) for k in kinds]
        return " | ".join(dict.fromkeys(types)) or "any"
    if kind == "null":
        return "null"
    if kind == "array":
        items = schema_type(schema.get("items"), indent, budget, depth + 1)
        return f"Array<{items}>"
    if kind == "object" or isinstance(schema.get("properties"), dict):
        return object_type(schema, indent, budget, depth)
    return TS_TYPES.get(kind, "any") if isinstance(kind, str) else "any"


def object_type(schema: dict, indent: str, budget: list[int], depth: int) -> str:
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return "Record<string, any>"
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    inner = indent + "  "
    members = []
    for name, sub in properties.items():
        if budget[0] < 0:
            members.append(f"{inner}[key: string]: any;\n")
            break
        description = sub.get("description") if isinstance(sub, dict) else ""
        optional = "" if name in required else "?"
        member_type = schema_type(sub, inner, budget, depth + 1)
        members.append(
            jsdoc([doc_text(description)], inner)
            + f"{inner}{property_name(str(name))}{optional}: {member_type};\n"
        )
    if schema.get("additionalProperties") not in (None, False):
        members.append(f"{inner}[key: string]: any;\n")
    return "{\n" + "".join(members) + f"{indent}}}"


# --- Declarations -------------------------------------------------------------------------------


def parameter_doc(parameter: Parameter) -> str:
    facts = [f"{parameter.type}, in {parameter.location}"]
    facts.append("required" if parameter.required else "optional")
    if parameter.default is not None:
        default = json.dumps(parameter.default, ensure_ascii=True, default=str)
        facts.append(f"default {default[:120]}")
    head = doc_text(parameter.description)
    return (head + "\n\n" if head else "") + doc_text(f"({'; '.join(facts)})")


def params_interface(action: Action, indent: str) -> str:
    inner = indent + "  "
    members = []
    for parameter in action.parameters:
        optional = "" if parameter.required else "?"
        members.append(
            jsdoc([parameter_doc(parameter)], inner)
            + f"{inner}{property_name(parameter.name)}{optional}: {parameter_type(parameter)};\n"
        )
    if action.body is not None:
        schema = action.body.schema
        body_type = schema_type(schema, inner, [SCHEMA_BUDGET]) if schema else "any"
        encoding = "a form" if action.body.encoding == "form" else "JSON"
        members.append(
            jsdoc([f"The whole request body, sent as {encoding}."], inner)
            + f"{inner}body{'' if action.body.required else '?'}: {body_type};\n"
        )
    return f"{indent}interface {action.name}Params {{\n" + "".join(members) + f"{indent}}}\n"


def params_required(action: Action) -> bool:
    return any(p.required for p in action.parameters) or bool(action.body and action.body.required)


def action_doc(definition: ConnectorDefinition, action: Action, code: str) -> list[str]:
    lines = [doc_text(action.title, 200)]
    if action.description and action.description != action.title:
        lines.append(doc_text(action.description))
    lines.append(doc_text(f"`{action.method} {action.path}` ({action.kind}) on {definition.name}"))
    required = [p.name for p in action.parameters if p.required]
    if required:
        lines.append(doc_text("Required: " + ", ".join(required), 400))
    call = f"await fastn.connector.{code}.{action.name}({{ … }})"
    if not IDENTIFIER_RE.fullmatch(code):
        call = f"await fastn.connector[{json.dumps(code)}].{action.name}({{ … }})"
    # Written here from validated names only, so the tag is kept (doc_text would escape it).
    lines.append(f"@example const res = {call}; // {{ status, headers, body }}")
    return lines


def connector_block(definition: ConnectorDefinition, code: str = "") -> tuple[str, str]:
    """(the connector's declarations inside the namespace, its member of FastnConnectors).
    `code` is the name workflows write (the connector's code name by default)."""
    code = code or definition.code_name
    name = type_name(code)
    actions, params = [], []
    for action in definition.actions:
        if not IDENTIFIER_RE.fullmatch(action.name):  # parse_definition checks; belt and braces
            continue
        params.append(params_interface(action, "    "))
        optional = "" if params_required(action) else "?"
        actions.append(
            jsdoc(action_doc(definition, action, code), "    ")
            + f"    {action.name}(params{optional}: {name}.{action.name}Params): "
            "Promise<FastnConnectorResponse>;\n"
        )
    summary = [doc_text(f"{definition.name} ({definition.slug})", 200)]
    if definition.description:
        summary.append(doc_text(definition.description))
    summary.append(doc_text(f"{len(actions)} action{'s' if len(actions) != 1 else ''}."))
    declarations = (
        jsdoc(summary, "  ")
        + f"  interface {name} {{\n"
        + "".join(actions)
        + "  }\n"
        + f"  namespace {name} {{\n"
        + "".join(params)
        + "  }\n"
    )
    member = jsdoc(summary, "  ") + f"  {property_name(code)}: {NAMESPACE}.{name};\n"
    return declarations, member


def render(blocks: list[tuple[str, str]]) -> str:
    declarations = "".join(block for block, _ in blocks)
    members = "".join(member for _, member in blocks)
    return (
        HEADER
        + f"declare namespace {NAMESPACE} {{\n{declarations}}}\n\n"
        + "/** The Space's connectors by code name (see workflow_types.js for `http`). */\n"
        + f"interface FastnConnectors {{\n{members}}}\n"
    )


@functools.cache
def builtin_blocks() -> tuple[tuple[str, str], ...]:
    return tuple(
        connector_block(definition)
        for definition in builtin_connectors().values()
        if definition.code_name not in DECLARED_ELSEWHERE
    )


# Blocks of Space connector versions by version id, least recently used dropped first.
VERSION_CACHE_SIZE = 256
_version_blocks: OrderedDict[Any, tuple[str, str] | None] = OrderedDict()
_version_lock = threading.Lock()


def version_block(version_id, definition: Any, code: str) -> tuple[str, str] | None:
    """One Space connector version's block; None when it does not parse (stored before a
    stricter parser: no types rather than a broken file)."""
    try:
        block = connector_block(parse_definition(definition), code)
    except (DefinitionError, ValueError):  # ValueError: a slug that makes no code name
        block = None
    with _version_lock:
        _version_blocks[version_id] = block
        while len(_version_blocks) > VERSION_CACHE_SIZE:
            _version_blocks.popitem(last=False)
    return block


def cached_block(version_id) -> tuple[bool, tuple[str, str] | None]:
    with _version_lock:
        if version_id not in _version_blocks:
            return False, None
        _version_blocks.move_to_end(version_id)
        return True, _version_blocks[version_id]


def space_connector_typings(space: Space) -> str:
    """The declarations of every connector the Space can call: the built-ins, then its own at
    their latest version (what the editor's Test tab calls). A Space connector whose code name
    a built-in already has is left out, as the runtime resolves that name to the built-in.
    Definitions are read only for versions not seen before."""
    blocks = list(builtin_blocks())
    taken = {d.code_name for d in builtin_connectors().values()} | set(DECLARED_ELSEWHERE)
    own = list(
        Connector.objects.filter(space=space, latest_version__isnull=False)
        .order_by("slug")
        .values_list("slug", "latest_version_id")
    )
    found = {version_id: cached_block(version_id) for _, version_id in own}
    missing = [version_id for version_id, (hit, _) in found.items() if not hit]
    if missing:
        codes = {version_id: code_name(slug) for slug, version_id in own}
        versions = ConnectorVersion.objects.filter(id__in=missing, connector__space=space)
        for version_id, definition in versions.values_list("id", "definition"):
            found[version_id] = (True, version_block(version_id, definition, codes[version_id]))
    for slug, version_id in own:
        code = code_name(slug)
        block = found[version_id][1]
        if block is None or code in taken or not CODE_NAME.fullmatch(code):
            continue
        taken.add(code)
        blocks.append(block)
    return render(blocks)
