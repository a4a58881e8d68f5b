"""OpenAPI 3.x and Swagger 2.0 documents → connector definitions (the data-file format of
`apps.connectors.definition`). Pure: no database, no network; the writes are in
`apps.connectors.services.connectors`.

    document = load_document(raw)                  # size cap, JSON or YAML, JSON-safe copy
    definition, report = openapi_to_definition(document, slug=..., name=..., base_url=...)

Rules (the README repeats them for users):

1. Refused before parsing: more than MAX_DOCUMENT_BYTES (5 MiB). Refused after parsing: not a
   mapping, no `openapi: 3.x` / `swagger: "2.0"`, more than MAX_NODES values once YAML aliases
   are expanded (an alias bomb), nesting deeper than MAX_DEPTH.
2. `$ref`s: only local ones (`#/...`) are followed — nothing is fetched, so an external or
   remote `$ref` is an error naming where it is. A `$ref` that points nowhere, or a chain of
   `$ref`s that comes back to itself without ever reaching a schema (`A → B → A`), is an error.
   Recursive schemas (a Node whose `children` are Nodes) are legal: they are expanded once and
   the recursion is cut there, with a note in the report.
3. Validation with openapi-spec-validator (never fetching anything); its messages come back
   with their JSON path. Nothing is imported from an invalid document.
4. Operations → actions: operationId in camelCase (`list-pets` → `listPets`), else method + path
   (`GET /pets/{id}` → `getPetsById`); duplicates get a number. Parameters in path, query and
   header keep their type, required flag, description, enum and default; cookie parameters and
   the headers the connection sets (Authorization, Accept, Content-Type, the API key's header)
   are skipped with the reason. A JSON request body (OpenAPI 3 `application/json` or `+json`,
   Swagger 2 `in: body`) becomes `body` with its schema; a form body
   (`application/x-www-form-urlencoded`, Swagger 2 `formData`) becomes `body` with encoding
   `form`. An operation whose required body is something else (multipart file uploads, XML,
   octet streams) is skipped; an optional one is imported without a body. TRACE is skipped.
5. Security schemes → auth methods: apiKey in a header or the query → API_KEY; http basic,
   bearer, digest → BASIC, BEARER, DIGEST; oauth2 authorization code / client credentials flows
   (Swagger 2 accessCode / application) → OAUTH_2 with their URLs and scopes. Implicit and
   password flows, OpenID Connect, mutual TLS and cookie API keys are skipped with the reason.
   The default is the first method of the document's top-level `security` that was kept.
6. Base URL: the override if given, else `servers[0].url` (its variables filled with their
   defaults) or `schemes[0]://host/basePath`. A relative or missing server URL needs the
   override. OpenAPI 3.1 `webhooks` become events with their payload schema."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml
from django.utils.text import slugify
from jsonschema.exceptions import best_match
from openapi_spec_validator.validation import (
    OpenAPIV2SpecValidator,
    OpenAPIV30SpecValidator,
    OpenAPIV31SpecValidator,
    OpenAPIV32SpecValidator,
)
from referencing import Registry, Resource
from referencing.exceptions import Unresolvable

from apps.connectors.definition import (
    IDENTIFIER_RE,
    MAX_ACTIONS,
    PARAMETER_TYPES,
    DefinitionError,
    parse_definition,
)

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_NODES = 2_000_000  # values in the document once YAML aliases are expanded
MAX_DEPTH = 200  # nesting of the document itself
MAX_VALIDATION_ERRORS = 20
MAX_SCHEMA_NODES = 20_000  # values in one action's expanded body schema
MAX_REF_DEPTH = 12  # $refs expanded inside one another before the expansion is cut
MESSAGE_MAX = 300
DOCUMENT_URI = "urn:fastn:openapi-document"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON_TYPES = re.compile(r"^application/(?:[\w.+-]+\+)?json(?:;.*)?$|^\*/\*$|^application/\*$")
FORM_TYPE = "application/x-www-form-urlencoded"
# Set by the connection (or by HTTP itself), never by an action's caller.
RESERVED_HEADERS = {"authorization", "accept", "content-type", "content-length", "host", "cookie"}
# Keywords of OpenAPI schemas that mean nothing to a caller and only weigh on the definition.
DROPPED_SCHEMA_KEYS = {"xml", "externalDocs", "discriminator"}  # and every x- extension
# Schema keywords whose value maps names to schemas, and keywords whose value is plain data.
SCHEMA_MAPS = {"properties", "patternProperties", "definitions", "$defs", "dependentSchemas"}
VALUE_KEYWORDS = {"enum", "const", "default", "example", "examples", "required"}
VALIDATORS = {
    ("swagger", "2.0"): OpenAPIV2SpecValidator,
    ("openapi", "3.0"): OpenAPIV30SpecValidator,
    ("openapi", "3.1"): OpenAPIV31SpecValidator,
    ("openapi", "3.2"): OpenAPIV32SpecValidator,
}


class OpenAPIImportError(ValueError):
    """The document cannot be imported; `problems` says why, each with where it is."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else problems
        super().__init__("; ".join(self.problems))


@dataclass
class ImportedAction:
    name: str
    method: str
    path: str
    parameters: int
    body: str  # "", "json" or "form"
    source: str  # "GET /pets/{id}" as the document writes it


@dataclass
class ImportReport:
    """What an import did, shown on the report page and printed by `connector import`."""

    title: str = ""
    spec_version: str = ""  # "OpenAPI 3.0.4", "Swagger 2.0"
    base_url: str = ""
    actions: list[ImportedAction] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)  # "API_KEY (header api_key) from api_key"
    events: list[str] = field(default_factory=list)
    # (where, why): "DELETE /pets/{id} · parameter session (cookie)", "cookie parameters…"
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def skip(self, where: str, why: str) -> None:
        self.skipped.append((where, why))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ImportReport:
        data = dict(data or {})
        actions = [ImportedAction(**a) for a in data.pop("actions", [])]
        skipped = [tuple(s) for s in data.pop("skipped", [])]
        return cls(actions=actions, skipped=skipped, **data)


# --- 1. Reading ------------------------------------------------------------------------------


class _Loader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):
    """YAML's safe loader without its timestamp type: `version: 2024-01-01` stays a string, as
    a JSON reader of the same document would see it."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_document(raw: bytes | str) -> dict:
    """The document as JSON-compatible data: JSON first, else YAML. Raises
    OpenAPIImportError for a document over 5 MiB (before reading a byte of it), one that does
    not parse, or one too big or too deep once read."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_DOCUMENT_BYTES:
        raise OpenAPIImportError(
            f"The document is {size / 1024 / 1024:.1f} MiB: the most an import takes is "
            f"{MAX_DOCUMENT_BYTES // 1024 // 1024} MiB. Remove the paths you do not need."
        )
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise OpenAPIImportError("The document is not UTF-8 text.") from None
    if not raw.strip():
        raise OpenAPIImportError("The document is empty.")
    try:
        data = _parse(raw)
    except RecursionError:
        raise OpenAPIImportError("The document is nested too deeply to read.") from None
    if not isinstance(data, dict):
        raise OpenAPIImportError("An OpenAPI document is a JSON or YAML object (a mapping).")
    return _json_safe(data)


def _parse(raw: str) -> Any:
    """JSON when it looks like JSON, else YAML (a superset of JSON, so a JSON document with a
    slip is reported with the JSON reader's message, which is the clearer one)."""
    json_error = ""
    if raw.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            json_error = f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
    try:
        return yaml.load(raw, Loader=_Loader)  # noqa: S506 - a safe loader (see _Loader)
    except yaml.YAMLError as exc:
        if json_error:
            raise OpenAPIImportError(f"The document is not valid JSON ({json_error}).") from None
        mark = getattr(exc, "problem_mark", None)
        place = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "it does not parse"
        raise OpenAPIImportError(f"The document is not valid YAML ({place}{problem}).") from None


def _json_safe(data: dict) -> dict:
    """A copy with string keys and JSON values only, counting every value as it goes: YAML
    aliases share one object between places, and a few nested ones expand to billions."""
    budget = [MAX_NODES]

    def copy(value: Any, depth: int) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise OpenAPIImportError(
                f"The document holds more than {MAX_NODES:,} values once its YAML aliases are "
                "expanded: it cannot be imported."
            )
        if depth > MAX_DEPTH:
            raise OpenAPIImportError(f"The document is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(value, dict):
            return {str(k): copy(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [copy(v, depth + 1) for v in value]
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, float) and value != value:  # NaN has no JSON spelling
            return None
        if value is None or isinstance(value, str | int | float | bool):
            return value
        return str(value)

    return copy(data, 0)


# --- 2. $refs --------------------------------------------------------------------------------


def _walk(node: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    stack = [(path, node)]
    while stack:
        where, value = stack.pop()
        yield where, value
        if isinstance(value, dict):
            stack.extend((f"{where}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(value))


class _Refs:
    """Local `$ref` lookups through `referencing` (JSON pointers with their escapes)."""

    def __init__(self, document: dict):
        registry = Registry().with_resource(DOCUMENT_URI, Resource.opaque(document))
        self.resolver = registry.resolver(base_uri=DOCUMENT_URI)

    def target(self, ref: str) -> Any:
        return self.resolver.lookup(ref).contents

    def check(self, document: dict) -> None:
        """Every `$ref` is local, points somewhere, and no chain of them loops."""
        problems: list[str] = []
        refs = {}
        for where, node in _walk(document):
            if not isinstance(node, dict) or "$ref" not in node:
                continue
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                problems.append(
                    f"{where}: external $ref {ref!r}: only references inside the document are "
                    "followed; bundle the document into one file first (for example with "
                    "`redocly bundle` or `swagger-cli bundle`)"
                )
                continue
            refs.setdefault(ref, where)
        for ref, where in refs.items():
            try:
                self.target(ref)
            except Unresolvable:
                problems.append(f"{where}: $ref {ref!r} points to nothing in the document")
        if problems:
            raise OpenAPIImportError(problems[:MAX_VALIDATION_ERRORS])
        for ref, where in refs.items():
            chain = [ref]
            node = self.target(ref)
            while isinstance(node, dict) and isinstance(node.get("$ref"), str):
                chain.append(node["$ref"])
                if node["$ref"] in chain[:-1]:
                    raise OpenAPIImportError(
                        f"{where}: cyclic $ref: {' → '.join(chain)} never reaches a value"
                    )
                node = self.target(node["$ref"])

    def deref(self, node: Any) -> Any:
        """A parameter, request body or security scheme behind its `$ref`s (checked not to
        loop by `check`)."""
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            node = self.target(node["$ref"])
        return node


class _SchemaExpander:
    """Inline a schema's `$ref`s for one action. A `$ref` met again inside its own expansion
    is recursion: it becomes an open object described as such, and the report says so."""

    def __init__(self, refs: _Refs, report: ImportReport, where: str):
        self.refs, self.report, self.where = refs, report, where
        self.budget = MAX_SCHEMA_NODES

    def expand(self, schema: Any) -> Any:
        return self._expand(schema, ())

    def _expand(self, node: Any, stack: tuple[str, ...]) -> Any:
        """`node` is a schema (or a list of schemas, or a keyword's plain value)."""
        self.budget -= 1
        if self.budget < 0:
            return None
        if isinstance(node, list):
            return [self._expand(v, stack) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            return self._expand_ref(ref, stack)
        out = {}
        for key, value in node.items():
            if key in DROPPED_SCHEMA_KEYS or key.startswith("x-"):
                continue
            if key in SCHEMA_MAPS and isinstance(value, dict):
                # Names of properties are data, not keywords: none is dropped.
                out[key] = {name: self._expand(sub, stack) for name, sub in value.items()}
            elif key in VALUE_KEYWORDS:
                out[key] = value
            else:
                out[key] = self._expand(value, stack)
        return out

    def _expand_ref(self, ref: str, stack: tuple[str, ...]) -> Any:
        name = ref.rsplit("/", 1)[-1]
        if ref in stack:
            self.report.note(
                f"{self.where}: the schema {name} contains itself; it is expanded once and the "
                "inner reference is left as an open object."
            )
            return {"type": "object", "description": f"A {name} (recursive, not expanded)"}
        if len(stack) >= MAX_REF_DEPTH:
            self.report.note(
                f"{self.where}: schemas nested more than {MAX_REF_DEPTH} references deep are "
                "left as open objects."
            )
            return {"type": "object", "description": f"A {name} (not expanded)"}
        return self._expand(self.refs.target(ref), (*stack, ref))

    def finish(self, schema: Any) -> dict:
        expanded = self.expand(schema)
        if self.budget < 0:
            self.report.note(
                f"{self.where}: the body schema has more than {MAX_SCHEMA_NODES:,} values "
                "once expanded; it is kept as an open object."
            )
            return {"type": "object"}
        return expanded if isinstance(expanded, dict) else {}


# --- 3. Validation ---------------------------------------------------------------------------


def _spec_version(document: dict) -> tuple[str, str, str]:
    """(keyword, "major.minor", label) of the document, or OpenAPIImportError."""
    if "swagger" in document:
        if str(document["swagger"]) != "2.0":
            raise OpenAPIImportError(
                f"swagger: {document['swagger']!r} is not supported: Swagger 2.0 and OpenAPI "
                "3.x are."
            )
        return "swagger", "2.0", "Swagger 2.0"
    version = document.get("openapi")
    if version is None:
        raise OpenAPIImportError(
            "This is not an OpenAPI document: it has neither an `openapi` (3.x) nor a "
            "`swagger` (2.0) field at the top."
        )
    match = re.fullmatch(r"(3)\.(\d+)(?:\.\d+)?(?:-[\w.]+)?", str(version))
    if not match or ("openapi", f"3.{match[2]}") not in VALIDATORS:
        raise OpenAPIImportError(
            f"openapi: {version!r} is not supported: OpenAPI 3.0, 3.1, 3.2 and Swagger 2.0 are."
        )
    return "openapi", f"3.{match[2]}", f"OpenAPI {version}"


def _validator_class(keyword: str, version: str):
    base = VALIDATORS[(keyword, version)]
    # No resolver handlers: the validator must not fetch http(s):// or file:// references
    # (they were refused already; this makes sure of it).
    return type(f"Offline{base.__name__}", (base,), {"resolver_handlers": {}})


def _validate(document: dict, keyword: str, version: str) -> None:
    validator = _validator_class(keyword, version)(document)
    problems = []
    try:
        for error in validator.iter_errors():
            problems.append(_validation_message(error))
            if len(problems) >= MAX_VALIDATION_ERRORS:
                problems.append("… and more: fix these first.")
                break
    except RecursionError:
        raise OpenAPIImportError(
            "The document's references nest too deeply to validate (cyclic $refs?)."
        ) from None
    except Unresolvable as exc:
        raise OpenAPIImportError(f"A $ref cannot be resolved: {exc.ref!r}.") from None
    if problems:
        raise OpenAPIImportError(problems)


def _validation_message(error) -> str:
    """ "$.paths./pets.get.responses: {} should be non-empty" — the deepest useful error."""
    specific = best_match(error.context) if getattr(error, "context", None) else None
    chosen = specific or error
    parts = list(getattr(error, "absolute_path", []) or [])
    if specific is not None:
        parts += list(specific.path)
    where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    message = chosen.message
    if len(message) > MESSAGE_MAX:
        message = message[:MESSAGE_MAX] + "…"
    return f"{where}: {message}"


# --- 4. Conversion ---------------------------------------------------------------------------


def openapi_to_definition(
    document: dict, *, slug: str = "", name: str = "", base_url: str = ""
) -> tuple[dict, ImportReport]:
    """The connector definition of an OpenAPI 3.x / Swagger 2.0 document, and the report of
    what was imported and what was skipped. Raises OpenAPIImportError, naming every problem
    with its path, when the document cannot be imported."""
    if not isinstance(document, dict):
        raise OpenAPIImportError("An OpenAPI document is a JSON or YAML object (a mapping).")
    keyword, version, label = _spec_version(document)
    refs = _Refs(document)
    refs.check(document)
    _validate(document, keyword, version)
    converter = _Converter(document, refs, swagger=keyword == "swagger")
    converter.report.spec_version = label
    definition = converter.convert(slug=slug, name=name, base_url=base_url)
    try:
        parse_definition(definition)
    except DefinitionError as exc:  # a gap in this converter, said plainly rather than a 500
        raise OpenAPIImportError(
            [f"The converted definition is not valid: {p}" for p in exc.problems]
        ) from None
    return definition, converter.report


class _Converter:
    def __init__(self, document: dict, refs: _Refs, *, swagger: bool):
        self.doc, self.refs, self.swagger = document, refs, swagger
        self.report = ImportReport()
        self.api_key_header = ""  # skipped as an action parameter: the connection sends it

    def convert(self, *, slug: str, name: str, base_url: str) -> dict:
        info = self.doc.get("info") or {}
        title = str(info.get("title") or "").strip()
        self.report.title = title
        name = (name or title or "Imported API")[:120]
        slug = slug or slugify(name)[:64].strip("-") or "imported-api"
        base = self._base_url(base_url)
        self.report.base_url = base
        auth = self._auth(base)
        definition: dict[str, Any] = {
            "slug": slug,
            "name": name,
            "description": str(info.get("description") or "")[:2000],
            "version": str(info.get("version") or "1")[:32],
            "baseUrl": base,
            "domain": urlsplit(base).hostname or "",
            "auth": auth,
            "actions": self._actions(),
        }
        docs = (self.doc.get("externalDocs") or {}).get("url")
        if isinstance(docs, str) and docs.startswith(("http://", "https://")):
            definition["docsUrl"] = docs[:500]
        events = self._events()
        if events:
            definition["events"] = events
        return definition

    # Base URL ---------------------------------------------------------------------------

    def _base_url(self, override: str) -> str:
        if override:
            url = override.strip()
        elif self.swagger:
            host = self.doc.get("host")
            if not host:
                raise OpenAPIImportError(
                    "The document has no `host`: enter the API's base URL (for example "
                    "https://api.example.com/v1)."
                )
            schemes = self.doc.get("schemes") or ["https"]
            scheme = "https" if "https" in schemes else schemes[0]
            url = f"{scheme}://{host}{self.doc.get('basePath') or ''}"
        else:
            servers = self.doc.get("servers") or []
            if not servers:
                raise OpenAPIImportError(
                    "The document lists no `servers`: enter the API's base URL (for example "
                    "https://api.example.com/v1)."
                )
            server = servers[0]
            url = str(server.get("url") or "")
            for var, spec in (server.get("variables") or {}).items():
                url = url.replace("{" + var + "}", str((spec or {}).get("default", "")))
            if len(servers) > 1:
                self.report.note(
                    f"The document lists {len(servers)} servers; the first ({url}) is the base URL."
                )
        if not re.match(r"https?://[^/\s]+", url):
            raise OpenAPIImportError(
                f"The server URL {url!r} is not an absolute http(s) URL: enter the API's base "
                "URL (for example https://api.example.com/v1)."
            )
        return url.rstrip("/")

    # Auth -------------------------------------------------------------------------------

    def _schemes(self) -> dict:
        if self.swagger:
            return self.doc.get("securityDefinitions") or {}
        return (self.doc.get("components") or {}).get("securitySchemes") or {}

    def _auth(self, base: str) -> dict:
        methods: dict[str, dict] = {}  # by type: a definition has each type at most once
        origin: dict[str, str] = {}
        for key, raw in self._schemes().items():
            scheme = self.refs.deref(raw) or {}
            where = f"security scheme {key}"
            method = self._auth_method(scheme, where, base)
            if method is None:
                continue
            if method["type"] in methods:
                self.report.skip(
                    where,
                    f"a connector has one {method['type']} method; {origin[method['type']]} "
                    "is kept",
                )
                continue
            methods[method["type"]] = method
            origin[method["type"]] = key
            self.report.auth.append(f"{_describe_auth(method)} from {key}")
        if "API_KEY" in methods and methods["API_KEY"]["in"] == "header":
            self.api_key_header = methods["API_KEY"]["name"].lower()
        if not methods:
            self.report.auth.append("NO_AUTH (the document declares no usable security scheme)")
            return {"default": "NO_AUTH", "methods": [{"type": "NO_AUTH"}]}
        default = next(iter(methods))
        for requirement in self.doc.get("security") or []:
            kept = [origin_type for origin_type, k in origin.items() if k in (requirement or {})]
            if kept:
                default = kept[0]
                break
        return {"default": default, "methods": list(methods.values())}

    def _auth_method(self, scheme: dict, where: str, base: str) -> dict | None:
        kind = scheme.get("type")
        if kind == "apiKey":
            location = scheme.get("in")
            if location not in ("header", "query"):
                self.report.skip(where, f"an API key sent in a {location} is not supported")
                return None
            return {"type": "API_KEY", "in": location, "name": str(scheme.get("name") or "")}
        if kind == "basic":  # Swagger 2
            return {"type": "BASIC"}
        if kind == "http":
            http = str(scheme.get("scheme") or "").lower()
            mapped = {"basic": "BASIC", "bearer": "BEARER", "digest": "DIGEST"}.get(http)
            if mapped is None:
                self.report.skip(where, f"the HTTP auth scheme {http!r} is not supported")
                return None
            return {"type": mapped}
        if kind == "oauth2":
            return self._oauth(scheme, where, base)
        if kind == "openIdConnect":
            self.report.skip(
                where,
                "OpenID Connect discovery is not supported: add an OAuth 2.0 method with the "
                "provider's URLs by hand",
            )
            return None
        self.report.skip(where, f"the security scheme type {kind!r} is not supported")
        return None

    def _oauth(self, scheme: dict, where: str, base: str) -> dict | None:
        if self.swagger:
            flow = {"accessCode": "authorizationCode", "application": "clientCredentials"}.get(
                scheme.get("flow"), scheme.get("flow")
            )
            flows = {flow: scheme}
        else:
            flows = scheme.get("flows") or {}
        for unsupported, why in (
            ("implicit", "the implicit flow is not supported (tokens in the browser's URL; "
                         "OAuth 2.1 drops it): use the authorization code flow"),
            ("password", "the password flow is not supported (the connector would hold the "
                         "user's password)"),
        ):  # fmt: skip
            if unsupported in flows:
                self.report.skip(f"{where} · {unsupported} flow", why)
        code, client = flows.get("authorizationCode"), flows.get("clientCredentials")
        if not code and not client:
            return None
        method: dict[str, Any] = {"type": "OAUTH_2", "grantTypes": []}
        scopes: list[str] = []
        if code:
            method["grantTypes"].append("authorization_code")
            method["authorizationUrl"] = urljoin(base + "/", str(code.get("authorizationUrl")))
            method["tokenUrl"] = urljoin(base + "/", str(code.get("tokenUrl") or ""))
            method["pkce"] = True
            scopes += list((code.get("scopes") or {}).keys())
        if client:
            method["grantTypes"].append("client_credentials")
            token = urljoin(base + "/", str(client.get("tokenUrl") or ""))
            if code and token != method["tokenUrl"]:
                self.report.note(
                    f"{where}: the client credentials flow's token URL ({token}) differs from "
                    f"the authorization code flow's; {method['tokenUrl']} is used for both."
                )
            method.setdefault("tokenUrl", token)
            scopes += [s for s in (client.get("scopes") or {}) if s not in scopes]
        refresh = (code or client).get("refreshUrl")
        if refresh:
            method["refreshUrl"] = urljoin(base + "/", str(refresh))
        method["scopes"] = scopes
        return method

    # Actions ----------------------------------------------------------------------------

    def _actions(self) -> list[dict]:
        actions: list[dict] = []
        names: set[str] = set()
        for path, raw_item in (self.doc.get("paths") or {}).items():
            item = self.refs.deref(raw_item) or {}
            if not isinstance(item, dict):
                continue
            shared = item.get("parameters") or []
            for method in HTTP_METHODS:
                operation = item.get(method)
                if not isinstance(operation, dict):
                    continue
                where = f"{method.upper()} {path}"
                if method == "trace":
                    self.report.skip(where, "TRACE requests are not supported")
                    continue
                if len(actions) >= MAX_ACTIONS:
                    self.report.skip(where, f"a connector has at most {MAX_ACTIONS} actions")
                    continue
                action = self._action(path, method, operation, shared, where)
                if action is None:
                    continue
                action["name"] = _unique(action["name"], names, self.report, where)
                names.add(action["name"])
                actions.append(action)
                self.report.actions.append(ImportedAction(
                    name=action["name"], method=action["method"], path=action["path"],
                    parameters=len(action["parameters"]),
                    body=(action.get("body") or {}).get("encoding", ""), source=where,
                ))  # fmt: skip
        if not actions:
            self.report.note("The document describes no operation that could be imported.")
        return actions

    def _action(self, path, method, operation, shared, where) -> dict | None:
        if not path.startswith("/"):
            self.report.skip(where, "the path does not start with /")
            return None
        action: dict[str, Any] = {
            "name": _action_name(operation.get("operationId"), method, path),
            "method": method.upper(),
            "path": path,
            "kind": "read" if method in ("get", "head", "options") else "write",
        }
        summary = str(operation.get("summary") or "").strip()
        description = str(operation.get("description") or "").strip()
        if summary:
            action["title"] = summary[:200]
        if description:
            action["description"] = description[:10_000]
        if operation.get("deprecated"):
            action["description"] = ("Deprecated. " + action.get("description", "")).strip()
        raw_parameters = self._merged_parameters(shared, operation.get("parameters") or [])
        parameters, body = self._parameters(raw_parameters, where, operation)
        if body is False:
            return None
        if not self.swagger and "requestBody" in operation:
            body = self._request_body(operation["requestBody"], where)
            if body is False:
                return None
        if body and method in ("get", "head") and not (body["schema"].get("properties")):
            body = None  # Stripe and others declare an empty form body on GETs: nothing to send
        taken = {p["name"] for p in parameters}
        for placeholder in re.findall(r"\{([^}]+)\}", path):
            if placeholder not in taken:  # the validator allows it in 3.0; a call cannot
                parameters.append({"name": placeholder, "in": "path", "type": "string",
                                   "required": True})  # fmt: skip
                taken.add(placeholder)
                self.report.note(f"{where}: the path parameter {{{placeholder}}} is not "
                                 "declared; it is added as a string.")  # fmt: skip
        if body and "body" in taken:
            self.report.skip(f"{where} · parameter body", "the name `body` is the request body")
            parameters = [p for p in parameters if p["name"] != "body"]
        action["parameters"] = parameters
        if body:
            action["body"] = body
        return action

    def _merged_parameters(self, shared: list, own: list) -> list[dict]:
        """Path-level parameters, overridden by the operation's own of the same name and
        location."""
        merged: dict[tuple, dict] = {}
        for raw in [*shared, *own]:
            parameter = self.refs.deref(raw)
            if isinstance(parameter, dict):
                merged[(parameter.get("name"), parameter.get("in"))] = parameter
        return list(merged.values())

    def _parameters(self, raw_parameters, where, operation):
        """(parameters, body): body is None, a body dict (Swagger 2 body/formData), or False
        when the operation cannot be imported."""
        parameters: list[dict] = []
        form_fields: dict[str, dict] = {}
        form_required: list[str] = []
        body: Any = None
        for parameter in raw_parameters:
            name, location = str(parameter.get("name") or ""), parameter.get("in")
            label = f"{where} · parameter {name} ({location})"
            if location == "cookie":
                self.report.skip(label, "cookie parameters are not supported: connectors "
                                        "send no cookies")  # fmt: skip
                continue
            if location == "header" and (
                name.lower() in RESERVED_HEADERS or name.lower() == self.api_key_header
            ):
                self.report.skip(label, "the connection sets this header")
                continue
            if location == "body":  # Swagger 2
                body = self._swagger_body(parameter, where, operation)
                if body is False:
                    return parameters, False
                continue
            if location == "formData":  # Swagger 2
                if parameter.get("type") == "file":
                    if parameter.get("required"):
                        self.report.skip(where, "it uploads a file (multipart/form-data), "
                                                "which connectors do not send")  # fmt: skip
                        return parameters, False
                    self.report.skip(label, "file uploads are not supported")
                    continue
                form_fields[name] = _schema_of_swagger_parameter(parameter)
                if parameter.get("required"):
                    form_required.append(name)
                continue
            if location not in ("path", "query", "header"):
                self.report.skip(label, f"parameters in {location!r} are not supported")
                continue
            if name in {p["name"] for p in parameters}:
                self.report.skip(label, "another parameter of this action has the same name")
                continue
            parameters.append(self._parameter(parameter, name, location))
        if form_fields:
            consumes = operation.get("consumes") or self.doc.get("consumes") or []
            if consumes and FORM_TYPE not in consumes:
                self.report.note(f"{where}: the form fields are sent URL-encoded "
                                 f"(the document says {', '.join(consumes)}).")  # fmt: skip
            schema: dict[str, Any] = {"type": "object", "properties": form_fields}
            if form_required:
                schema["required"] = form_required
            body = {"encoding": "form", "required": bool(form_required), "schema": schema}
        return parameters, body

    def _parameter(self, parameter: dict, name: str, location: str) -> dict:
        if self.swagger or "schema" not in parameter:
            schema = _schema_of_swagger_parameter(parameter)
        else:
            schema = self.refs.deref(parameter.get("schema")) or {}
        out: dict[str, Any] = {
            "name": name,
            "in": location,
            "type": _type_of(schema),
            "required": bool(parameter.get("required")) or location == "path",
        }
        description = str(parameter.get("description") or "").strip()
        if description:
            out["description"] = description[:2000]
        if isinstance(schema.get("enum"), list) and out["type"] != "array":
            out["enum"] = schema["enum"]
        if "default" in schema:
            out["default"] = schema["default"]
        return out

    def _swagger_body(self, parameter: dict, where: str, operation: dict):
        consumes = operation.get("consumes") or self.doc.get("consumes") or ["application/json"]
        if not any(JSON_TYPES.match(c) for c in consumes):
            return self._unsupported_body(where, consumes, bool(parameter.get("required")))
        expander = _SchemaExpander(self.refs, self.report, where)
        return {
            "encoding": "json",
            "required": bool(parameter.get("required")),
            "schema": expander.finish(parameter.get("schema") or {}),
        }

    def _request_body(self, raw: Any, where: str):
        request_body = self.refs.deref(raw) or {}
        content = request_body.get("content") or {}
        required = bool(request_body.get("required"))
        json_type = next((t for t in content if JSON_TYPES.match(t)), None)
        if json_type is not None:
            encoding, media = "json", content[json_type] or {}
        elif FORM_TYPE in content:
            encoding, media = "form", content[FORM_TYPE] or {}
        else:
            return self._unsupported_body(where, list(content), required)
        expander = _SchemaExpander(self.refs, self.report, where)
        return {
            "encoding": encoding,
            "required": required,
            "schema": expander.finish(media.get("schema") or {}),
        }

    def _unsupported_body(self, where: str, media_types: list, required: bool):
        kinds = ", ".join(media_types) or "no media type"
        if required:
            self.report.skip(where, f"its request body is {kinds}; connectors send JSON or "
                                    "URL-encoded forms")  # fmt: skip
            return False
        self.report.note(f"{where}: the optional request body ({kinds}) is left out.")
        return None

    # Events (OpenAPI 3.1 webhooks) ------------------------------------------------------

    def _events(self) -> list[dict]:
        events = []
        for key, raw_item in (self.doc.get("webhooks") or {}).items():
            item = self.refs.deref(raw_item) or {}
            operation = next((item[m] for m in HTTP_METHODS if isinstance(item.get(m), dict)), None)
            if operation is None:
                continue
            where = f"webhook {key}"
            schema: dict = {}
            content = (self.refs.deref(operation.get("requestBody")) or {}).get("content") or {}
            json_type = next((t for t in content if JSON_TYPES.match(t)), None)
            if json_type:
                expander = _SchemaExpander(self.refs, self.report, where)
                schema = expander.finish((content[json_type] or {}).get("schema") or {})
            event = {"name": str(key)[:128], "path": str(key)[:200], "payloadSchema": schema}
            if operation.get("summary"):
                event["title"] = str(operation["summary"])[:200]
            if operation.get("description"):
                event["description"] = str(operation["description"])[:2000]
            events.append(event)
            self.report.events.append(str(key))
        for path, item in (self.doc.get("paths") or {}).items():
            for method in HTTP_METHODS:
                operation = (item or {}).get(method) if isinstance(item, dict) else None
                if isinstance(operation, dict) and operation.get("callbacks"):
                    self.report.skip(
                        f"{method.upper()} {path} · callbacks",
                        "callbacks are not imported: declare the events on the connector or "
                        "use a webhook trigger",
                    )
        return events


# --- Helpers ---------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    """`listPets`, `list_pets`, `List-Pets` → ["list", "Pets"]-like words."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


def _camel(words: list[str]) -> str:
    if not words:
        return ""
    head, *rest = words
    name = head[:1].lower() + head[1:]
    return name + "".join(w[:1].upper() + w[1:] for w in rest)


def _action_name(operation_id: Any, method: str, path: str) -> str:
    name = _camel(_words(str(operation_id))) if operation_id else ""
    if not name:
        words = [method]
        for segment in path.strip("/").split("/"):
            placeholder = re.fullmatch(r"\{(.+)\}", segment)
            if placeholder:
                words += ["by", *_words(placeholder[1])]
            else:
                words += _words(segment)
        name = _camel(words)
    if not IDENTIFIER_RE.fullmatch(name):
        name = "op" + name[:1].upper() + name[1:]
    return name[:120]


def _unique(name: str, taken: set[str], report: ImportReport, where: str) -> str:
    if name not in taken:
        return name
    number = 2
    while f"{name}{number}" in taken:
        number += 1
    report.note(f"{where}: the action name {name} is taken; this one is {name}{number}.")
    return f"{name}{number}"


def _schema_of_swagger_parameter(parameter: dict) -> dict:
    keys = ("type", "format", "items", "enum", "default", "minimum", "maximum", "pattern")
    schema = {k: parameter[k] for k in keys if k in parameter}
    if parameter.get("description"):
        schema["description"] = parameter["description"]
    return schema


def _type_of(schema: dict) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):  # OpenAPI 3.1: ["string", "null"]
        kind = next((k for k in kind if k != "null"), None)
    if kind in PARAMETER_TYPES:
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _describe_auth(method: dict) -> str:
    kind = method["type"]
    if kind == "API_KEY":
        return f"API_KEY ({method['in']} {method['name']})"
    if kind == "OAUTH_2":
        return f"OAUTH_2 ({', '.join(method['grantTypes'])}; {len(method['scopes'])} scopes)"
    return kind
