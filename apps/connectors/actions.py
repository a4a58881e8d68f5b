"""A connector action's `params`, checked against its definition and turned into a request.

`validate_params(definition, action, params)` answers the values to send, or raises
`HostError("INVALID_REQUEST")` naming the parameter and what was expected ("limit must be
an integer, got string"). `build_request(binding, action, values, run)` fills the base URL's
and headers' templates, the `{path}` placeholders (URL-encoded), the query, the header
parameters and the body (JSON or form), ready for `apply_auth` and `send_prepared`."""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from apps.connectors.auth import Binding, RunContext, render
from apps.connectors.definition import PATH_PARAM_RE, Action, ConnectorDefinition, Parameter
from apps.runtime import HostError
from fastn_console.strictjson import json_type

MAX_LISTED = 40


def invalid(message: str) -> HostError:
    return HostError("INVALID_REQUEST", message)


def listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else "")


def suggestion(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f" Did you mean {close[0]}?" if close else ""


# --- validation -----------------------------------------------------------------------------


def validate_params(definition: ConnectorDefinition, action: Action, params: Any) -> dict:
    """The params to send, by name; `body` (the whole body) when the action declares one."""
    where = f"{definition.code_name}.{action.name}"
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise invalid(f"{where}: params must be an object, got {json_type(params)}")
    known = [p.name for p in action.parameters] + (["body"] if action.body else [])
    for name in params:
        if name not in known:
            takes = f"it takes {listing(known)}" if known else "it takes no parameters"
            raise invalid(f"{where}: unknown parameter {name!r}; {takes}.{suggestion(name, known)}")
    values: dict[str, Any] = {}
    for parameter in action.parameters:
        value = params.get(parameter.name)
        if value is None and parameter.default is not None and parameter.required:
            value = parameter.default
        if value is None:
            if parameter.required:
                raise invalid(
                    f"{where}: {parameter.name} is required ({_expected(parameter.type)})"
                )
            continue
        _check_type(where, parameter, value)
        values[parameter.name] = value
    if action.body is not None:
        body = params.get("body")
        if body is None and action.body.required and not _has_body_fields(action, values):
            raise invalid(f"{where}: body is required (an object)")
        if body is not None:
            if action.body.encoding == "form" and not isinstance(body, dict):
                raise invalid(
                    f"{where}: body must be an object (form fields), got {json_type(body)}"
                )
            values["body"] = body
    return values


def _has_body_fields(action: Action, values: dict) -> bool:
    return any(p.location == "body" and p.name in values for p in action.parameters)


def _expected(type: str) -> str:
    return {
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "boolean": "a boolean",
        "object": "an object",
        "array": "an array",
    }[type]


def _check_type(where: str, parameter: Parameter, value: Any) -> None:
    type = parameter.type
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and float(value).is_integer(),
        "number": isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value),
        "boolean": isinstance(value, bool),
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
    }[type]
    if not ok:
        got = json_type(value)
        if type == "integer" and got == "number":
            got = repr(value)
        raise invalid(f"{where}: {parameter.name} must be {_expected(type)}, got {got}")
    if parameter.enum and value not in parameter.enum:
        choices = ", ".join(json.dumps(choice) for choice in parameter.enum[:MAX_LISTED])
        raise invalid(
            f"{where}: {parameter.name} must be one of {choices}, got {json.dumps(value)[:100]}"
        )


# --- the request ----------------------------------------------------------------------------


@dataclass
class Outgoing:
    """A request being built: auth adds to its headers and query before it is sent."""

    method: str
    url: str  # base URL + path, without the query
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    body_value: Any = None  # what the body holds, for the trace
    private_headers: set[str] = field(default_factory=set)
    timeout_s: float | None = None  # the code's own timeout (fastn.connector.http.request)

    def set_header(self, name: str, value: str) -> None:
        lowered = name.lower()
        self.headers = [(n, v) for n, v in self.headers if n.lower() != lowered]
        self.headers.append((name, value))

    def add_query(self, name: str, value: str) -> None:
        self.query.append((name, value))

    def set_query(self, name: str, value: str) -> None:
        """One value for `name` (auth: applying it again after a refresh replaces it)."""
        self.query = [(n, v) for n, v in self.query if n != name]
        self.query.append((name, value))

    def full_url(self) -> str:
        if not self.query:
            return self.url
        # %20 rather than "+", as the generic HTTP connector writes it.
        encoded = urlencode(self.query, quote_via=quote, safe="")
        return f"{self.url}{'&' if '?' in self.url else '?'}{encoded}"


def scalar(value: Any) -> str:
    """A path, query or header value as text: JavaScript's way for numbers and booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def build_request(binding: Binding, action: Action, values: dict, run: RunContext) -> Outgoing:
    """1. base URL and path: templates filled, `{name}` placeholders URL-encoded;
    2. the definition's headers (templates filled), then header parameters;
    3. query parameters (arrays repeat the name);
    4. the body: `params.body` merged with the body parameters, JSON or form-encoded (nested
       values in brackets)."""
    definition = binding.definition
    base = render(definition.base_url, binding, run, where=f"{definition.name}'s base URL")

    def path_value(match) -> str:
        return quote(scalar(values[match.group(1)]), safe="")

    path = PATH_PARAM_RE.sub(path_value, action.path)
    request = Outgoing(method=action.method, url=base.rstrip("/") + path)
    for name, template in definition.headers.items():
        request.set_header(name, render(template, binding, run, where=f"The header {name}"))
    fields: dict[str, Any] = {}
    for parameter in action.parameters:
        if parameter.name not in values:
            continue
        value = values[parameter.name]
        if parameter.location == "query":
            for item in value if isinstance(value, list) else [value]:
                request.add_query(parameter.name, scalar(item))
        elif parameter.location == "header":
            request.set_header(parameter.name, scalar(value))
        elif parameter.location == "body":
            fields[parameter.name] = value
    _encode_body(request, action, values.get("body"), fields)
    return request


def form_pairs(name: str, value: Any) -> list[tuple[str, str]]:
    """A form field, nested values in brackets as Stripe and Rack-style servers read them:
    `metadata[plan]=pro`, `items[0][price]=p_1`."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in form_pairs(f"{name}[{key}]", item)]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in form_pairs(f"{name}[{index}]", item)]
    return [(name, scalar(value))]


def _encode_body(request: Outgoing, action: Action, body: Any, fields: dict) -> None:
    if body is None and not fields:
        return
    if fields:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise invalid(
                f"{action.name}: body must be an object to merge "
                f"{', '.join(fields)} into it, got {json_type(body)}"
            )
        body = {**body, **fields}
    encoding = action.body.encoding if action.body else "json"
    request.body_value = body
    if encoding == "form":
        pairs = [pair for name, value in body.items() for pair in form_pairs(str(name), value)]
        request.body = urlencode(pairs).encode("ascii")
        request.set_header("Content-Type", "application/x-www-form-urlencoded")
    elif isinstance(body, str):
        # A JSON body the code serialised itself.
        request.body = body.encode("utf-8")
        request.set_header("Content-Type", "application/json")
    else:
        try:
            text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise invalid(f"{action.name}: body cannot be encoded as JSON: {exc}") from None
        request.body = text.encode("utf-8")
        request.set_header("Content-Type", "application/json")
