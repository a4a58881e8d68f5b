"""The connector definition format: one JSON document per connector.

The built-ins are files in `apps/connectors/catalog/<slug>.json`; a Space's own connectors keep
the same document in each `ConnectorVersion.definition`; `manage.py connector import FILE`
reads it. `parse_definition(data)` validates a document and answers a `ConnectorDefinition`,
or raises `DefinitionError` listing every problem with its JSON path. The README documents the
format; in short::

    {
      "slug": "stripe",                      lowercase letters, digits, hyphens
      "name": "Stripe", "description": "…", "category": "Payments", "domain": "stripe.com",
      "iconUrl": "", "docsUrl": "https://docs.stripe.com/api", "version": "1.0",
      "protocol": "rest",                    rest (default); smtp (Email: actions send mail
                                             through the connection's SMTP server); generic
                                             (HTTP: the one action `request` takes any URL)
      "baseUrl": "https://api.stripe.com",   may use {{connection.<field>}}; smtp://… for smtp;
                                             empty for generic (its URLs are absolute)
      "connectionFields": [{"name": "shop", "label": "Shop", "required": true,
                            "description": "…"}],   non-secret settings of a connection
      "headers": {"Stripe-Version": "2024-06-20"},  sent with every action (templates allowed)
      "auth": {
        "default": "API_KEY",
        "methods": [
          {"type": "NO_AUTH"} | {"type": "BASIC"} | {"type": "DIGEST"} | {"type": "BEARER"},
          {"type": "API_KEY", "in": "header" | "query", "name": "X-API-Key", "prefix": ""},
          {"type": "OAUTH_2", "grantTypes": ["authorization_code", "client_credentials"],
           "authorizationUrl": "…", "tokenUrl": "…", "scopes": ["…"], "pkce": true,
           "scopeSeparator": " ", "extraAuthorizeParams": {"access_type": "offline"}},
          {"type": "INPUT", "fields": [{"name": "token", "label": "Token", "secret": true}],
           "headers": {"X-Token": "{{credential.token}}"},
           "query": {"key": "{{credential.token}}"}}
        ]
      },
      "test": {"action": "getAccount", "params": {}},  the action Test connection calls
      "pagination": {"style": "cursor" | "page" | "offset" | "link" | "none", "param": "…",
                     "nextPath": "…", "limitParam": "…"},      a hint for code and docs
      "rateLimit": {"requests": 100, "perSeconds": 1},        a hint for code and docs
      "actions": [{
        "name": "listCustomers",            camelCase identifier, unique in the connector
        "title": "List customers", "description": "…",
        "method": "GET", "path": "/v1/customers/{customer}",   {name} = a path parameter
        "kind": "read" | "write",           default: read for GET/HEAD, write otherwise
        "parameters": [{"name": "customer", "in": "path" | "query" | "header" | "body",
                        "type": "string" | "integer" | "number" | "boolean" | "object" |
                                "array", "required": true, "description": "…",
                        "enum": [...], "default": …}],
        "body": {"encoding": "json" | "form", "required": false, "schema": {…}}
      }],
      "events": [{"name": "charge.succeeded", "title": "Charge succeeded",
                  "path": "charge/succeeded", "description": "…", "payloadSchema": {…}}]
    }

In a call, `params` holds each parameter by name; "body" parameters become fields of the
request body, and `params.body` (when the action declares `body`) is the whole body."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
IDENTIFIER_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
PATH_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
TEMPLATE_RE = re.compile(r"\{\{\s*(connection|credential|secrets)\.([A-Za-z0-9_.-]+)\s*\}\}")

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PARAMETER_LOCATIONS = ("path", "query", "header", "body")
PARAMETER_TYPES = ("string", "integer", "number", "boolean", "object", "array")
AUTH_TYPES = ("NO_AUTH", "BASIC", "DIGEST", "BEARER", "API_KEY", "OAUTH_2", "INPUT")
GRANT_TYPES = ("authorization_code", "client_credentials")
BODY_ENCODINGS = ("json", "form")
PAGINATION_STYLES = ("cursor", "page", "offset", "link", "none")
PROTOCOLS = ("rest", "smtp", "generic")
# The base URL's scheme per protocol: smtp names the mail server (smtp://host:port).
BASE_URL_SCHEMES = {
    "rest": (r"https?://", "http:// or https://"),
    "generic": (r"https?://", "http:// or https://"),
    "smtp": (r"smtp://", "smtp://"),
}
MAX_ACTIONS = 2000
MAX_NAME = 128


class DefinitionError(ValueError):
    """Every problem found, each as "path: message"."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    type: str = "string"
    required: bool = False
    description: str = ""
    enum: tuple = ()
    default: Any = None


@dataclass(frozen=True)
class RequestBody:
    encoding: str = "json"
    required: bool = False
    schema: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    name: str
    method: str
    path: str
    title: str = ""
    description: str = ""
    kind: str = "read"
    parameters: tuple[Parameter, ...] = ()
    body: RequestBody | None = None

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


@dataclass(frozen=True)
class Event:
    name: str
    title: str = ""
    path: str = ""
    description: str = ""
    payload_schema: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AuthSpec:
    """One auth method a connector accepts; `options` keeps the method's own settings
    (API key location and name, OAuth endpoints and scopes, custom fields and templates)."""

    type: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectorDefinition:
    slug: str
    name: str
    base_url: str
    auth_methods: tuple[AuthSpec, ...]
    default_auth: str
    actions: tuple[Action, ...]
    description: str = ""
    category: str = ""
    domain: str = ""
    icon_url: str = ""
    docs_url: str = ""
    version: str = "1"
    protocol: str = "rest"
    connection_fields: tuple[dict, ...] = ()
    headers: dict = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    test: dict = field(default_factory=dict)
    pagination: dict = field(default_factory=dict)
    rate_limit: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)

    def auth(self, type: str) -> AuthSpec | None:
        return next((a for a in self.auth_methods if a.type == type), None)

    @property
    def code_name(self) -> str:
        """The slug as written in workflow code: `hubspot-crm` → `hubspotCrm`."""
        return code_name(self.slug)


def code_name(slug: str) -> str:
    head, *rest = slug.split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def text(self, data: dict, key: str, path: str, *, required=False, max_length=2000) -> str:
        value = data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail(f"{path}.{key}", "must be a string")
            return ""
        if required and not value.strip():
            self.fail(f"{path}.{key}", "is required")
        if len(value) > max_length:
            self.fail(f"{path}.{key}", f"is longer than {max_length} characters")
        return value

    def mapping(self, data: dict, key: str, path: str) -> dict:
        value = data.get(key) or {}
        if not isinstance(value, dict):
            self.fail(f"{path}.{key}", "must be an object")
            return {}
        return value

    def sequence(self, data: dict, key: str, path: str) -> list:
        value = data.get(key) or []
        if not isinstance(value, list):
            self.fail(f"{path}.{key}", "must be an array")
            return []
        return value


def parse_definition(data: Any) -> ConnectorDefinition:
    check = _Checker()
    if not isinstance(data, dict):
        raise DefinitionError(["$: a connector definition is a JSON object"])
    slug = check.text(data, "slug", "$", required=True, max_length=64)
    if slug and not SLUG_RE.fullmatch(slug):
        check.fail("$.slug", "use lowercase letters, digits and single hyphens")
    name = check.text(data, "name", "$", required=True, max_length=120)
    protocol = data.get("protocol") or "rest"
    if protocol not in PROTOCOLS:
        check.fail("$.protocol", f"one of {', '.join(PROTOCOLS)}")
    base_url = check.text(data, "baseUrl", "$", required=protocol != "generic")
    scheme, schemes = BASE_URL_SCHEMES.get(protocol, BASE_URL_SCHEMES["rest"])
    if base_url and not re.match(scheme, base_url):
        check.fail("$.baseUrl", f"must start with {schemes}")
    auth_methods, default_auth = _auth(check, check.mapping(data, "auth", "$"))
    actions = tuple(
        action
        for index, item in enumerate(check.sequence(data, "actions", "$"))
        if (action := _action(check, item, f"$.actions[{index}]")) is not None
    )
    if len(actions) > MAX_ACTIONS:
        check.fail("$.actions", f"at most {MAX_ACTIONS} actions")
    seen: set[str] = set()
    for index, action in enumerate(actions):
        if action.name in seen:
            check.fail(f"$.actions[{index}].name", f"{action.name!r} is used twice")
        seen.add(action.name)
    events = tuple(
        event
        for index, item in enumerate(check.sequence(data, "events", "$"))
        if (event := _event(check, item, f"$.events[{index}]")) is not None
    )
    connection_fields = tuple(_connection_fields(check, data))
    headers = check.mapping(data, "headers", "$")
    for key, value in headers.items():
        if not isinstance(value, str):
            check.fail(f"$.headers.{key}", "must be a string")
    test = check.mapping(data, "test", "$")
    if test.get("action") and test["action"] not in seen:
        check.fail("$.test.action", f"no action named {test['action']!r}")
    pagination = check.mapping(data, "pagination", "$")
    if pagination and pagination.get("style", "none") not in PAGINATION_STYLES:
        check.fail("$.pagination.style", f"one of {', '.join(PAGINATION_STYLES)}")
    definition = ConnectorDefinition(
        slug=slug,
        name=name,
        base_url=base_url,
        auth_methods=auth_methods,
        default_auth=default_auth,
        actions=actions,
        description=check.text(data, "description", "$"),
        category=check.text(data, "category", "$", max_length=60),
        domain=check.text(data, "domain", "$", max_length=253),
        icon_url=check.text(data, "iconUrl", "$", max_length=500),
        docs_url=check.text(data, "docsUrl", "$", max_length=500),
        version=str(data.get("version") or "1"),
        protocol=protocol,
        connection_fields=connection_fields,
        headers=headers,
        events=events,
        test=test,
        pagination=pagination,
        rate_limit=check.mapping(data, "rateLimit", "$"),
        raw=data,
    )
    if check.problems:
        raise DefinitionError(check.problems)
    return definition


def _auth(check: _Checker, auth: dict) -> tuple[tuple[AuthSpec, ...], str]:
    methods = []
    for index, item in enumerate(check.sequence(auth, "methods", "$.auth")):
        path = f"$.auth.methods[{index}]"
        if not isinstance(item, dict) or item.get("type") not in AUTH_TYPES:
            check.fail(f"{path}.type", f"one of {', '.join(AUTH_TYPES)}")
            continue
        options = {k: v for k, v in item.items() if k != "type"}
        _auth_options(check, item["type"], options, path)
        methods.append(AuthSpec(type=item["type"], options=options))
    if not methods:
        methods = [AuthSpec(type="NO_AUTH")]
    types = [m.type for m in methods]
    if len(set(types)) != len(types):
        check.fail("$.auth.methods", "each auth type at most once")
    default = auth.get("default") or types[0]
    if default not in types:
        check.fail("$.auth.default", f"must be one of the methods ({', '.join(types)})")
    return tuple(methods), default


def _auth_options(check: _Checker, type: str, options: dict, path: str) -> None:
    if type == "API_KEY":
        if options.get("in", "header") not in ("header", "query"):
            check.fail(f"{path}.in", "header or query")
        if not isinstance(options.get("name", "X-API-Key"), str):
            check.fail(f"{path}.name", "must be a string")
    elif type == "OAUTH_2":
        grants = options.get("grantTypes") or ["authorization_code"]
        if not isinstance(grants, list) or any(g not in GRANT_TYPES for g in grants):
            check.fail(f"{path}.grantTypes", f"a list of {', '.join(GRANT_TYPES)}")
            grants = []
        if "authorization_code" in grants and not options.get("authorizationUrl"):
            check.fail(f"{path}.authorizationUrl", "is required for authorization_code")
        if not options.get("tokenUrl"):
            check.fail(f"{path}.tokenUrl", "is required")
        if not isinstance(options.get("scopes", []), list):
            check.fail(f"{path}.scopes", "must be an array of strings")
    elif type == "INPUT":
        if not isinstance(options.get("fields", []), list):
            check.fail(f"{path}.fields", "must be an array")
        for key in ("headers", "query"):
            if not isinstance(options.get(key, {}), dict):
                check.fail(f"{path}.{key}", "must be an object of templates")


def _parameter(check: _Checker, item: Any, path: str) -> Parameter | None:
    if not isinstance(item, dict):
        check.fail(path, "a parameter is an object")
        return None
    name = check.text(item, "name", path, required=True, max_length=MAX_NAME)
    location = item.get("in", "query")
    if location not in PARAMETER_LOCATIONS:
        check.fail(f"{path}.in", f"one of {', '.join(PARAMETER_LOCATIONS)}")
    type = item.get("type", "string")
    if type not in PARAMETER_TYPES:
        check.fail(f"{path}.type", f"one of {', '.join(PARAMETER_TYPES)}")
    enum = item.get("enum") or ()
    if not isinstance(enum, list | tuple):
        check.fail(f"{path}.enum", "must be an array")
        enum = ()
    return Parameter(
        name=name,
        location=location,
        type=type,
        required=bool(item.get("required")) or location == "path",
        description=check.text(item, "description", path),
        enum=tuple(enum),
        default=item.get("default"),
    )


def _action(check: _Checker, item: Any, path: str) -> Action | None:
    if not isinstance(item, dict):
        check.fail(path, "an action is an object")
        return None
    name = check.text(item, "name", path, required=True, max_length=MAX_NAME)
    if name and not IDENTIFIER_RE.fullmatch(name):
        check.fail(f"{path}.name", "must be a JavaScript identifier (e.g. listCustomers)")
    method = str(item.get("method", "GET")).upper()
    if method not in METHODS:
        check.fail(f"{path}.method", f"one of {', '.join(METHODS)}")
    action_path = check.text(item, "path", path, required=True)
    if action_path and not action_path.startswith("/"):
        check.fail(f"{path}.path", "must start with /")
    parameters = tuple(
        parameter
        for index, raw in enumerate(check.sequence(item, "parameters", path))
        if (parameter := _parameter(check, raw, f"{path}.parameters[{index}]")) is not None
    )
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        check.fail(f"{path}.parameters", "each parameter name at most once")
    declared = {p.name for p in parameters if p.location == "path"}
    for placeholder in PATH_PARAM_RE.findall(action_path):
        if placeholder not in declared:
            check.fail(f"{path}.path", f"{{{placeholder}}} has no path parameter")
    body = None
    if item.get("body") is not None:
        raw_body = check.mapping(item, "body", path)
        encoding = raw_body.get("encoding", "json")
        if encoding not in BODY_ENCODINGS:
            check.fail(f"{path}.body.encoding", "json or form")
        schema = raw_body.get("schema") or {}
        if not isinstance(schema, dict):
            check.fail(f"{path}.body.schema", "must be a JSON schema object")
            schema = {}
        required = bool(raw_body.get("required"))
        body = RequestBody(encoding=encoding, required=required, schema=schema)
        if "body" in names:
            check.fail(f"{path}.parameters", "a parameter named body clashes with the body")
    kind = item.get("kind") or ("read" if method in ("GET", "HEAD", "OPTIONS") else "write")
    if kind not in ("read", "write"):
        check.fail(f"{path}.kind", "read or write")
    return Action(
        name=name,
        method=method,
        path=action_path,
        title=check.text(item, "title", path, max_length=200) or name,
        description=check.text(item, "description", path, max_length=10_000),
        kind=kind,
        parameters=parameters,
        body=body,
    )


def _event(check: _Checker, item: Any, path: str) -> Event | None:
    if not isinstance(item, dict):
        check.fail(path, "an event is an object")
        return None
    schema = item.get("payloadSchema") or {}
    if not isinstance(schema, dict):
        check.fail(f"{path}.payloadSchema", "must be a JSON schema object")
        schema = {}
    return Event(
        name=check.text(item, "name", path, required=True, max_length=MAX_NAME),
        title=check.text(item, "title", path, max_length=200),
        path=check.text(item, "path", path, max_length=200),
        description=check.text(item, "description", path),
        payload_schema=schema,
    )


def _connection_fields(check: _Checker, data: dict):
    for index, item in enumerate(check.sequence(data, "connectionFields", "$")):
        path = f"$.connectionFields[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            check.fail(path, "a field is an object with a name")
            continue
        if not IDENTIFIER_RE.fullmatch(item["name"]):
            check.fail(f"{path}.name", "letters, digits and underscores")
        yield {
            "name": item["name"],
            "label": str(item.get("label") or item["name"]),
            "required": bool(item.get("required")),
            "description": str(item.get("description") or ""),
        }
