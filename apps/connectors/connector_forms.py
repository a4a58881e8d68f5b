"""Forms of Integrations → Connectors: the filters of the Connectors page, a custom
connector's details and auth methods, one action with its parameter rows, and the OpenAPI
import. Each form turns what a person typed into the definition format
(`apps.connectors.definition`), whose parser has the last word."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from django import forms
from django.utils.text import slugify

from apps.connectors.definition import (
    AUTH_TYPES,
    IDENTIFIER_RE,
    METHODS,
    PARAMETER_LOCATIONS,
    PARAMETER_TYPES,
    DefinitionError,
    parse_definition,
)
from apps.connectors.models import AuthMethod, Visibility
from apps.connectors.openapi import MAX_DOCUMENT_BYTES

AUTH_CHOICES = [(t, AuthMethod(t).label) for t in AUTH_TYPES]
GRANT_CHOICES = [("authorization_code", "Authorization code (with PKCE)"),
                 ("client_credentials", "Client credentials")]  # fmt: skip
MAX_PARAMETERS = 100
TEMPLATE_LINE = re.compile(r"^\s*([^:\s][^:]*?)\s*:\s*(.+?)\s*$")


class ListFilterForm(forms.Form):
    """The Connectors page's query string: tab, search, category."""

    kind = forms.ChoiceField(
        choices=[("", "All"), ("managed", "Managed"), ("personal", "Personal")], required=False
    )
    q = forms.CharField(required=False, max_length=100)
    category = forms.CharField(required=False, max_length=60)


def _lines(text: str, label: str) -> tuple[dict[str, str], list[str]]:
    """ "Name: value" lines → {name: value}, and the lines that are not of that shape."""
    out, bad = {}, []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        match = TEMPLATE_LINE.match(line)
        if not match:
            bad.append(f"{label}: “{line.strip()[:60]}” is not “Name: value”.")
            continue
        out[match[1]] = match[2]
    return out, bad


class ConnectorForm(forms.Form):
    """Name, slug, description, domain, visibility, icon, category, base URL and the auth
    methods (one default) with each method's options."""

    name = forms.CharField(max_length=120)
    slug = forms.CharField(
        max_length=64, required=False,
        help_text="Used in code: fastn.connector.<slug>.<action>. Made from the name unless you "
                  "type one; it cannot change later.",
    )  # fmt: skip
    description = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    category = forms.CharField(
        max_length=60, required=False, widget=forms.TextInput(attrs={"list": "categories"})
    )
    domain = forms.CharField(max_length=253, required=False, help_text="e.g. api.example.com")
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PRIVATE)
    icon_url = forms.URLField(
        max_length=500, required=False, label="Icon URL", assume_scheme="https",
        help_text="Shown on the card when it is served by this console (a /static/ path); any "
                  "other address is kept in the definition and exports.",
    )  # fmt: skip
    base_url = forms.CharField(
        max_length=2000, label="Base URL",
        help_text="Every action's path is appended to it. It may use {{connection.<field>}}.",
    )  # fmt: skip
    docs_url = forms.URLField(
        max_length=500, required=False, label="Docs URL", assume_scheme="https"
    )
    auth_types = forms.MultipleChoiceField(
        choices=AUTH_CHOICES, widget=forms.CheckboxSelectMultiple, label="Auth methods",
        error_messages={"required": "Choose at least one auth method (No Auth for none)."},
    )  # fmt: skip
    default_auth = forms.ChoiceField(choices=AUTH_CHOICES, label="Default auth method")
    api_key_in = forms.ChoiceField(
        choices=[("header", "Header"), ("query", "Query parameter")], initial="header",
        label="Sent in", required=False,
    )  # fmt: skip
    api_key_name = forms.CharField(
        max_length=128, required=False, initial="X-API-Key", label="Header or parameter name"
    )
    api_key_prefix = forms.CharField(
        max_length=40, required=False, label="Prefix", help_text="e.g. “Token ” (optional)"
    )
    oauth_grant_types = forms.MultipleChoiceField(
        choices=GRANT_CHOICES, widget=forms.CheckboxSelectMultiple, required=False,
        label="Grant types", initial=["authorization_code"],
    )  # fmt: skip
    oauth_authorization_url = forms.URLField(
        max_length=500, required=False, label="Authorization URL", assume_scheme="https"
    )
    oauth_token_url = forms.URLField(
        max_length=500, required=False, label="Token URL", assume_scheme="https"
    )
    oauth_scopes = forms.CharField(
        max_length=2000, required=False, label="Scopes", help_text="Separated by spaces."
    )
    oauth_pkce = forms.BooleanField(required=False, initial=True, label="Use PKCE")
    custom_fields = forms.CharField(
        required=False, label="Credential fields", widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: name or “name: Label”. Asked when connecting; stored "
                  "encrypted.",
    )  # fmt: skip
    custom_headers = forms.CharField(
        required=False, label="Header templates", widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, “Header-Name: template”, e.g. “X-Token: {{credential.token}}”; "
                  "templates may use {{credential.x}}, {{connection.x}} and {{secrets.NAME}}.",
    )  # fmt: skip
    custom_query = forms.CharField(
        required=False, label="Query templates", widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, “param: template”.",
    )  # fmt: skip

    def __init__(self, *args, slug_locked: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.slug_locked = slug_locked
        if slug_locked:
            self.fields["slug"].disabled = True
            self.fields["slug"].help_text = "The slug cannot change: workflows call it by name."

    @classmethod
    def initial_from(cls, definition: dict, visibility: str) -> dict:
        auth = definition.get("auth") or {}
        methods = {m.get("type"): m for m in auth.get("methods") or [] if isinstance(m, dict)}
        api_key, oauth = methods.get("API_KEY", {}), methods.get("OAUTH_2", {})
        custom = methods.get("INPUT", {})
        return {
            "name": definition.get("name", ""),
            "slug": definition.get("slug", ""),
            "description": definition.get("description", ""),
            "category": definition.get("category", ""),
            "domain": definition.get("domain", ""),
            "visibility": visibility,
            "icon_url": definition.get("iconUrl", ""),
            "base_url": definition.get("baseUrl", ""),
            "docs_url": definition.get("docsUrl", ""),
            "auth_types": list(methods) or ["NO_AUTH"],
            "default_auth": auth.get("default") or next(iter(methods), "NO_AUTH"),
            "api_key_in": api_key.get("in", "header"),
            "api_key_name": api_key.get("name", "X-API-Key"),
            "api_key_prefix": api_key.get("prefix", ""),
            "oauth_grant_types": oauth.get("grantTypes", ["authorization_code"]),
            "oauth_authorization_url": oauth.get("authorizationUrl", ""),
            "oauth_token_url": oauth.get("tokenUrl", ""),
            "oauth_scopes": " ".join(oauth.get("scopes", [])),
            "oauth_pkce": oauth.get("pkce", True),
            "custom_fields": "\n".join(
                f"{f['name']}: {f['label']}"
                if f.get("label") not in (None, f["name"])
                else f["name"]
                for f in custom.get("fields", [])
                if isinstance(f, dict) and f.get("name")
            ),
            "custom_headers": "\n".join(f"{k}: {v}" for k, v in custom.get("headers", {}).items()),
            "custom_query": "\n".join(f"{k}: {v}" for k, v in custom.get("query", {}).items()),
        }

    def clean_slug(self) -> str:
        if self.slug_locked:
            return self.slug_locked
        slug = (self.cleaned_data.get("slug") or "").strip()
        if not slug:
            slug = slugify(self.data.get("name", ""))[:64].strip("-")
        return slug

    def clean_base_url(self) -> str:
        url = self.cleaned_data["base_url"].strip().rstrip("/")
        if not re.match(r"https?://\S+$", url):
            raise forms.ValidationError("Start with http:// or https:// (no spaces).")
        return url

    def clean(self):
        data = super().clean()
        types = data.get("auth_types") or []
        if types and data.get("default_auth") not in types:
            self.add_error("default_auth", "The default must be one of the chosen methods.")
        if "API_KEY" in types and not (data.get("api_key_name") or "").strip():
            self.add_error("api_key_name", "Name the header or query parameter of the key.")
        if "OAUTH_2" in types:
            grants = data.get("oauth_grant_types") or []
            if not grants:
                self.add_error("oauth_grant_types", "Choose at least one grant type.")
            if "authorization_code" in grants and not data.get("oauth_authorization_url"):
                self.add_error("oauth_authorization_url", "Required for the authorization code "
                                                          "grant.")  # fmt: skip
            if not data.get("oauth_token_url"):
                self.add_error("oauth_token_url", "Required for OAuth 2.0.")
        if "INPUT" in types:
            for key, label in (("custom_headers", "Header templates"),
                               ("custom_query", "Query templates")):  # fmt: skip
                _, bad = _lines(data.get(key, ""), label)
                for problem in bad:
                    self.add_error(key, problem)
            names = [n for n, _ in self._custom_fields(data.get("custom_fields", ""))]
            invalid = [n for n in names if not IDENTIFIER_RE.fullmatch(n)]
            if invalid:
                self.add_error("custom_fields", f"Not a field name: {', '.join(invalid)} "
                                                "(letters, digits, underscores).")  # fmt: skip
        return data

    @staticmethod
    def _custom_fields(text: str) -> list[tuple[str, str]]:
        fields = []
        for line in (text or "").splitlines():
            name, _, label = line.partition(":")
            if name.strip():
                fields.append((name.strip(), label.strip() or name.strip()))
        return fields

    def auth(self, base: dict | None = None) -> dict:
        """The auth methods as the form sets them, over `base`'s methods of the same type:
        options the form does not show (an OAuth refresh URL or extra authorize parameters, a
        custom field's description) are kept."""
        data = self.cleaned_data
        before = {
            m.get("type"): m for m in (base or {}).get("methods") or [] if isinstance(m, dict)
        }
        methods = []
        for kind in data["auth_types"]:
            method: dict = {**before.get(kind, {}), "type": kind}
            if kind == "API_KEY":
                method["in"] = data.get("api_key_in") or "header"
                method["name"] = data["api_key_name"].strip()
                method["prefix"] = data.get("api_key_prefix") or ""
                if not method["prefix"]:
                    method.pop("prefix")
            elif kind == "OAUTH_2":
                method["grantTypes"] = data.get("oauth_grant_types") or []
                method["authorizationUrl"] = data.get("oauth_authorization_url") or ""
                if not method["authorizationUrl"]:
                    method.pop("authorizationUrl")
                method["tokenUrl"] = data.get("oauth_token_url") or ""
                method["scopes"] = (data.get("oauth_scopes") or "").split()
                method["pkce"] = bool(data.get("oauth_pkce"))
            elif kind == "INPUT":
                fields = {f.get("name"): f for f in method.get("fields") or []
                          if isinstance(f, dict)}  # fmt: skip
                method["fields"] = [
                    {"secret": True, **fields.get(name, {}), "name": name, "label": label}
                    for name, label in self._custom_fields(data.get("custom_fields", ""))
                ]
                method["headers"] = _lines(data.get("custom_headers", ""), "")[0]
                method["query"] = _lines(data.get("custom_query", ""), "")[0]
            methods.append(method)
        return {"default": data["default_auth"], "methods": methods}

    def definition(self, base: dict | None = None) -> dict:
        """The definition with this form's fields, over `base` (the latest version's, whose
        actions, events and other settings are kept)."""
        data = self.cleaned_data
        definition = dict(base or {})
        definition.update({
            "slug": data["slug"],
            "name": data["name"].strip(),
            "description": data.get("description", "").strip(),
            "category": data.get("category", "").strip(),
            "domain": data.get("domain", "").strip(),
            "iconUrl": data.get("icon_url", ""),
            "baseUrl": data["base_url"],
            "auth": self.auth(definition.get("auth")),
        })  # fmt: skip
        if data.get("docs_url"):
            definition["docsUrl"] = data["docs_url"]
        else:
            definition.pop("docsUrl", None)
        definition.setdefault("actions", [])
        return definition


# --- An action -------------------------------------------------------------------------------


@dataclass
class ParameterRow:
    name: str = ""
    location: str = "query"
    type: str = "string"
    required: bool = False
    description: str = ""
    errors: list[str] = field(default_factory=list)


class ActionForm(forms.Form):
    name = forms.CharField(
        max_length=120, help_text="A JavaScript identifier: fastn.connector.<slug>.<name>()"
    )
    title = forms.CharField(max_length=200, required=False)
    description = forms.CharField(
        max_length=10_000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    method = forms.ChoiceField(choices=[(m, m) for m in METHODS], initial="GET")
    path = forms.CharField(
        max_length=2000, help_text="Starts with /; {name} is a path parameter, e.g. /v1/items/{id}"
    )
    kind = forms.ChoiceField(
        choices=[("", "From the method"), ("read", "Read"), ("write", "Write")], required=False,
        help_text="Read for GET and HEAD, write otherwise, unless you choose.",
    )  # fmt: skip
    body_encoding = forms.ChoiceField(
        choices=[("", "No body"), ("json", "JSON"), ("form", "Form (URL-encoded)")],
        required=False, label="Request body",
    )  # fmt: skip
    body_required = forms.BooleanField(required=False, label="The body is required")
    body_schema = forms.CharField(
        required=False, max_length=200_000, label="Body JSON schema",
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono", "spellcheck": "false"}),
    )  # fmt: skip

    def __init__(self, data=None, *, initial_rows: list[ParameterRow] | None = None, **kwargs):
        super().__init__(data, **kwargs)
        self.rows = self._posted_rows(data) if data is not None else (initial_rows or [])

    @staticmethod
    def _posted_rows(data) -> list[ParameterRow]:
        columns = [data.getlist(f"param-{key}") for key in
                   ("name", "in", "type", "required", "description")]  # fmt: skip
        rows = []
        for name, location, kind, required, description in zip(*columns, strict=False):
            if not (name.strip() or description.strip()):
                continue  # an empty row left in the form
            rows.append(ParameterRow(name.strip(), location, kind, required == "yes",
                                     description.strip()))  # fmt: skip
        return rows

    @classmethod
    def initial_from(cls, action: dict) -> tuple[dict, list[ParameterRow]]:
        body = action.get("body") or {}
        initial = {
            "name": action.get("name", ""),
            "title": action.get("title", "") if action.get("title") != action.get("name") else "",
            "description": action.get("description", ""),
            "method": action.get("method", "GET"),
            "path": action.get("path", ""),
            "kind": action.get("kind", ""),
            "body_encoding": body.get("encoding", "") if body else "",
            "body_required": bool(body.get("required")),
            "body_schema": json.dumps(body["schema"], indent=2) if body.get("schema") else "",
        }
        rows = [
            ParameterRow(
                p.get("name", ""),
                p.get("in", "query"),
                p.get("type", "string"),
                bool(p.get("required")),
                p.get("description", ""),
            )
            for p in action.get("parameters") or []
        ]
        return initial, rows

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not IDENTIFIER_RE.fullmatch(name):
            raise forms.ValidationError("Use letters, digits, _ and $, not starting with a digit "
                                        "(e.g. listInvoices).")  # fmt: skip
        return name

    def clean_path(self) -> str:
        path = self.cleaned_data["path"].strip()
        if not path.startswith("/"):
            raise forms.ValidationError("Start the path with /.")
        return path

    def clean_body_schema(self):
        text = self.cleaned_data.get("body_schema", "").strip()
        if not text:
            return {}
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"Not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
            ) from None
        if not isinstance(schema, dict):
            raise forms.ValidationError('A JSON schema is an object, e.g. {"type": "object"}.')
        return schema

    def clean(self):
        data = super().clean()
        if len(self.rows) > MAX_PARAMETERS:
            raise forms.ValidationError(f"An action has at most {MAX_PARAMETERS} parameters.")
        seen = set()
        for row in self.rows:
            if not row.name:
                row.errors.append("Name the parameter.")
            elif row.name in seen:
                row.errors.append(f"{row.name} is used twice.")
            seen.add(row.name)
            if row.location not in PARAMETER_LOCATIONS:
                row.errors.append("Choose path, query, header or body.")
            if row.type not in PARAMETER_TYPES:
                row.errors.append("Choose a type.")
        if data.get("body_schema") and not data.get("body_encoding"):
            self.add_error("body_encoding", "Choose JSON or Form for the body schema.")
        if not self.errors and not any(r.errors for r in self.rows):
            self._check_with_the_parser()
        return data

    def has_row_errors(self) -> bool:
        return any(r.errors for r in self.rows)

    def is_valid(self) -> bool:
        return super().is_valid() and not self.has_row_errors()

    def action(self, original: dict | None = None) -> dict:
        """The action as the form sets it. Editing keeps what the form does not show of
        `original`'s parameters (their enum and default, from an import)."""
        data = self.cleaned_data
        action: dict = {"name": data["name"], "method": data["method"], "path": data["path"]}
        for key in ("title", "description", "kind"):
            if data.get(key):
                action[key] = data[key].strip() if isinstance(data[key], str) else data[key]
        before = {p.get("name"): p for p in (original or {}).get("parameters") or []
                  if isinstance(p, dict)}  # fmt: skip
        action["parameters"] = []
        for row in self.rows:
            parameter = {**before.get(row.name, {}), "name": row.name, "in": row.location,
                         "type": row.type, "required": row.required}  # fmt: skip
            parameter.pop("description", None)
            if row.description:
                parameter["description"] = row.description
            action["parameters"].append(parameter)
        if data.get("body_encoding"):
            action["body"] = {"encoding": data["body_encoding"],
                              "required": bool(data.get("body_required")),
                              "schema": data.get("body_schema") or {}}  # fmt: skip
        return action

    def _check_with_the_parser(self) -> None:
        """The definition parser checks what the fields alone cannot (a {placeholder} with no
        path parameter, a parameter named body beside a body); its messages go on the field
        they are about."""
        probe = {"slug": "probe", "name": "probe", "baseUrl": "https://probe.invalid",
                 "actions": [self.action()]}  # fmt: skip
        try:
            parse_definition(probe)
        except DefinitionError as exc:
            for problem in exc.problems:
                where, _, message = problem.partition(": ")
                row = re.match(r"\$\.actions\[0\]\.parameters\[(\d+)\]", where)
                if row and int(row[1]) < len(self.rows):
                    self.rows[int(row[1])].errors.append(message)
                elif where.endswith(".path"):
                    self.add_error("path", message)
                elif where.endswith(".parameters"):
                    self.add_error(None, f"Parameters: {message}")
                else:
                    self.add_error(None, message)


# --- Import ----------------------------------------------------------------------------------


class ImportForm(forms.Form):
    """An OpenAPI 3.x / Swagger 2.0 document, uploaded or pasted."""

    document = forms.FileField(
        required=False, label="File",
        help_text=f"JSON or YAML, at most {MAX_DOCUMENT_BYTES // 1024 // 1024} MiB.",
    )  # fmt: skip
    text = forms.CharField(
        required=False, label="Or paste it",
        widget=forms.Textarea(attrs={"rows": 12, "class": "mono", "spellcheck": "false",
                                     "placeholder": "openapi: 3.0.3\ninfo:\n  title: …"}),
    )  # fmt: skip
    name = forms.CharField(
        max_length=120, required=False, help_text="Default: the document's title."
    )
    slug = forms.CharField(max_length=64, required=False, help_text="Default: made from the name.")
    base_url = forms.CharField(
        max_length=2000, required=False, label="Base URL",
        help_text="Default: the document's first server (or host and basePath). Needed when "
                  "that URL is relative.",
    )  # fmt: skip
    publish = forms.BooleanField(required=False, label="Publish to live at once")

    def __init__(self, *args, reimport: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if reimport:
            del self.fields["name"], self.fields["slug"]

    def clean_document(self):
        upload = self.cleaned_data.get("document")
        if upload and upload.size > MAX_DOCUMENT_BYTES:
            # Refused on the size the upload declares, before a byte of it is parsed.
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MiB: the most an import takes is "
                f"{MAX_DOCUMENT_BYTES // 1024 // 1024} MiB."
            )
        return upload

    def clean_base_url(self) -> str:
        url = (self.cleaned_data.get("base_url") or "").strip()
        if url and not re.match(r"https?://\S+$", url):
            raise forms.ValidationError("Start with http:// or https:// (no spaces).")
        return url

    def clean_slug(self) -> str:
        return (self.cleaned_data.get("slug") or "").strip()

    def clean(self):
        data = super().clean()
        if not data.get("document") and not (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste the document.")
        if data.get("document") and (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste the document, not both.")
        return data

    def raw(self) -> bytes | str:
        upload = self.cleaned_data.get("document")
        if upload:
            return upload.read(MAX_DOCUMENT_BYTES + 1)
        return self.cleaned_data["text"]
