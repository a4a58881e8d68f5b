"""The forms of Integrations → Connections and Settings → OAuth Apps.

A connection form is built for one connector definition: its connection fields (e.g. a
Shopify shop), its auth methods, and per method the credential fields. Credential values are
write-only: their widgets never render a value, so a form shown again after an error asks
for them again instead of echoing them into the page. What each method stores is the
credential JSON of CONNECTORS.md (`credential()`), and what is not secret goes to the
connection's config (`config()`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from apps.connectors.connection_selectors import SPACE_SCOPE
from apps.connectors.definition import ConnectorDefinition
from apps.connectors.models import AuthMethod, ConnectionStatus
from apps.secrets.models import Secret
from apps.spaces.models import Customer, Space

SECRET_REF_RE = re.compile(r"\{\{\s*secrets\.([^\s}]*)\s*\}\}")
SECRET_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*")
VALUE_MAX = 8 * 1024
http_url = URLValidator(schemes=["http", "https"])


class WriteOnlyInput(forms.TextInput):
    """A text input that never renders a value (for credential fields that are not masked)."""

    def format_value(self, value):
        return None


def secret_input(label: str, *, help_text: str = "", required: bool = False) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        strip=False,
        max_length=VALUE_MAX,
        help_text=help_text,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"}
        ),
    )


@dataclass(frozen=True)
class Panel:
    """The credential fields of one or more auth methods, shown when one of them is chosen."""

    methods: tuple[str, ...]
    title: str
    fields: list
    help: str = ""  # the definition's descriptions of these methods


class ConnectionForm(forms.Form):
    """New connection (connection=None) or Reconnect of a non-OAuth connection (its auth
    method fixed, name and scope kept; the credential is typed again)."""

    connector = forms.CharField(widget=forms.HiddenInput)
    name = forms.CharField(max_length=120)
    customer = forms.ModelChoiceField(
        label="Scope",
        queryset=Customer.objects.none(),
        required=False,
        empty_label="Space-wide (every customer without its own)",
        help_text="A customer's own connection wins over the Space-wide one when a workflow "
        "runs for that customer (x-fastn-space-tenantid).",
    )
    auth_method = forms.ChoiceField(label="Auth method", widget=forms.RadioSelect)
    test_url = forms.CharField(
        label="Test URL",
        required=False,
        max_length=2000,
        help_text="Optional: Test connection GETs this URL with the connection's auth when the "
        "connector has no test action.",
        widget=forms.URLInput(attrs={"placeholder": "https://api.example.com/me"}),
    )
    username = forms.CharField(required=False, max_length=500, strip=False)
    password = secret_input("Password")
    token = secret_input("Token")
    api_key = secret_input("API key")
    api_key_in = forms.ChoiceField(
        label="Send the key in",
        choices=[("header", "A header"), ("query", "A query parameter")],
        widget=forms.RadioSelect,
        required=False,
    )
    api_key_name = forms.CharField(label="Header or parameter name", required=False, max_length=100)
    grant_type = forms.ChoiceField(
        label="Grant",
        choices=[
            ("authorization_code", "Authorization code (sign in at the provider)"),
            ("client_credentials", "Client credentials (the OAuth app itself)"),
        ],
        widget=forms.RadioSelect,
        required=False,
    )

    def __init__(
        self, space: Space, definition: ConnectorDefinition, *args, connection=None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.space, self.definition, self.connection = space, definition, connection
        self.fields["connector"].initial = definition.slug
        self.fields["customer"].queryset = Customer.objects.filter(space=space)
        methods = [m.type for m in definition.auth_methods]
        labels = dict(AuthMethod.choices)
        self.fields["auth_method"].choices = [(m, labels.get(m, m)) for m in methods]
        self.fields["auth_method"].initial = definition.default_auth
        self.fields["name"].initial = definition.name
        self._config_fields = []
        for spec in definition.connection_fields:
            key = f"cfg_{spec['name']}"
            self.fields[key] = forms.CharField(
                label=spec["label"],
                required=spec["required"],
                max_length=500,
                help_text=spec["description"],
            )
            self._config_fields.append((key, spec["name"]))
        if definition.test.get("action") or definition.protocol == "smtp":
            # Test connection runs the test action (or signs in to the SMTP server).
            self.fields.pop("test_url")
        self._setup_method_fields()
        if connection is not None:
            self._fix_to(connection)

    # --- construction ---------------------------------------------------------------------

    def _setup_method_fields(self) -> None:
        d = self.definition
        api_key = (d.auth("API_KEY").options if d.auth("API_KEY") else {}) or {}
        self.fields["api_key_in"].initial = api_key.get("in", "header")
        self.fields["api_key_name"].initial = api_key.get("name", "X-API-Key")
        self.fields["username"].label = "Username"
        oauth = d.auth("OAUTH_2")
        grants = tuple((oauth.options.get("grantTypes") if oauth else None) or [])
        grants = grants or ("authorization_code",)
        self.fields["grant_type"].choices = [
            c for c in self.fields["grant_type"].choices if c[0] in grants
        ]
        self.fields["grant_type"].initial = grants[0]
        self._input_fields = []
        custom = d.auth("INPUT")
        for spec in (custom.options.get("fields") if custom else None) or []:
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                continue
            key = f"in_{spec['name']}"
            label = str(spec.get("label") or spec["name"])
            help_text = str(spec.get("description") or "") or (
                "May reference a secret: {{secrets.NAME}}."
            )
            if spec.get("secret", True):
                self.fields[key] = secret_input(label, help_text=help_text)
            else:
                self.fields[key] = forms.CharField(
                    label=label, required=False, max_length=VALUE_MAX, help_text=help_text
                )
            self._input_fields.append((key, spec["name"], spec.get("required", True) is not False))

    def _fix_to(self, connection) -> None:
        """Reconnect: the method, name and scope are the connection's; config prefilled."""
        for key in ("name", "customer"):
            self.fields.pop(key)
        self.fields["auth_method"].choices = [
            (connection.auth_method, dict(AuthMethod.choices)[connection.auth_method])
        ]
        self.fields["auth_method"].initial = connection.auth_method
        self.fields["auth_method"].widget = forms.HiddenInput()
        if connection.auth_method == "OAUTH_2":
            # The provider's flow starts from the connection's own settings; a different shop
            # or account is a new connection.
            for key, _ in self._config_fields:
                self.fields.pop(key)
            self._config_fields = []
            self.fields.pop("test_url", None)
        config = connection.config or {}
        for key, name in self._config_fields:
            self.fields[key].initial = config.get(name, "")
        if "test_url" in self.fields:
            self.fields["test_url"].initial = config.get("testUrl", "")
        if connection.auth_method == "API_KEY":
            self.fields["api_key_in"].initial = config.get("in", self.fields["api_key_in"].initial)
            self.fields["api_key_name"].initial = config.get(
                "name", self.fields["api_key_name"].initial
            )

    # --- what the template shows ----------------------------------------------------------

    def general_fields(self):
        return [self[k] for k in ("name", "customer") if k in self.fields]

    def config_fields(self):
        return [self[key] for key, _ in self._config_fields] + (
            [self["test_url"]] if "test_url" in self.fields else []
        )

    def panels(self) -> list[Panel]:
        methods = {m for m, _ in self.fields["auth_method"].choices}
        panels = [
            Panel(("NO_AUTH",), "No Auth", []),
            Panel(("BASIC", "DIGEST"), "Username and password",
                  [self["username"], self["password"]]),
            Panel(("BEARER",), "Bearer token", [self["token"]]),
            Panel(("API_KEY",), "API key",
                  [self["api_key"], self["api_key_in"], self["api_key_name"]]),
            Panel(("OAUTH_2",), "OAuth 2.0", [self["grant_type"]]),
            Panel(("INPUT",), "Custom", [self[key] for key, _, _ in self._input_fields]),
        ]  # fmt: skip
        shown = []
        for panel in panels:
            offered = [m for m in panel.methods if m in methods]
            if offered:
                notes = [self.definition.auth(m).options.get("description") for m in offered]
                help_text = " ".join(str(n) for n in notes if n)
                shown.append(Panel(panel.methods, panel.title, panel.fields, help_text))
        return shown

    # --- checks ---------------------------------------------------------------------------

    def clean_test_url(self):
        url = self.cleaned_data.get("test_url", "").strip()
        if url:
            try:
                http_url(url)
            except ValidationError:
                raise ValidationError("Enter an http:// or https:// URL.") from None
        return url

    def clean_api_key_name(self):
        name = self.cleaned_data.get("api_key_name", "").strip()
        if name and not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name):
            raise ValidationError("Letters, digits and - _ . only (a header or parameter name).")
        return name

    def clean(self):
        data = super().clean()
        method = data.get("auth_method")
        if method in ("BASIC", "DIGEST"):
            self._require(data, "username", "Enter the username.")
            self._require(data, "password", "Enter the password.")
        elif method == "BEARER":
            self._require(data, "token", "Enter the token.")
        elif method == "API_KEY":
            self._require(data, "api_key", "Enter the API key.")
            self._require(data, "api_key_name", "Name the header or query parameter.")
            if not data.get("api_key_in"):
                data["api_key_in"] = self.fields["api_key_in"].initial
        elif method == "OAUTH_2":
            if not data.get("grant_type"):
                data["grant_type"] = self.fields["grant_type"].initial
        elif method == "INPUT":
            for key, _, required in self._input_fields:
                if required:
                    self._require(data, key, "Enter a value.")
                self._check_secret_references(data, key)
        return data

    def _require(self, data: dict, key: str, message: str) -> None:
        if not data.get(key) and key not in self.errors:
            self.add_error(key, message)

    def _check_secret_references(self, data: dict, key: str) -> None:
        """{{secrets.NAME}} must name a secret the connection can read (the customer's own or
        the Space's): a typo is caught now, not in the first workflow run."""
        value = data.get(key) or ""
        names = SECRET_REF_RE.findall(value)
        if not names:
            return
        bad = [n for n in names if not SECRET_NAME_RE.fullmatch(n)]
        if bad:
            self.add_error(
                key, f"{{{{secrets.{bad[0]}}}}} is not a secret name (UPPER_SNAKE_CASE)."
            )
            return
        customer = data.get("customer") if self.connection is None else self.connection.customer
        rows = Secret.objects.filter(space=self.space, name__in=names)
        rows = rows.filter(customer__isnull=True) | rows.filter(customer=customer)
        known = set(rows.values_list("name", flat=True))
        missing = [n for n in names if n not in known]
        if missing:
            self.add_error(
                key,
                f"No secret named {missing[0]} for this scope: create it in Settings → Secrets "
                "first.",
            )

    # --- what is stored -------------------------------------------------------------------

    @property
    def method(self) -> str:
        return self.cleaned_data["auth_method"]

    @property
    def wants_authorization_code(self) -> bool:
        return (
            self.method == "OAUTH_2"
            and self.cleaned_data.get("grant_type", "authorization_code") == "authorization_code"
        )

    def credential(self) -> dict | None:
        """The credential JSON of the chosen method (None for No Auth and for OAuth, whose
        token the flow or the client-credentials grant provides)."""
        data, method = self.cleaned_data, self.method
        if method in ("BASIC", "DIGEST"):
            return {"username": data["username"], "password": data["password"]}
        if method == "BEARER":
            return {"token": data["token"]}
        if method == "API_KEY":
            return {"apiKey": data["api_key"]}
        if method == "INPUT":
            return {"values": {name: data.get(key) or "" for key, name, _ in self._input_fields}}
        return None

    def config(self) -> dict:
        data, config = self.cleaned_data, {}
        for key, name in self._config_fields:
            if data.get(key):
                config[name] = data[key].strip()
        if data.get("test_url"):
            config["testUrl"] = data["test_url"]
        if self.method == "API_KEY":
            spec = self.definition.auth("API_KEY").options
            chosen = {"in": data["api_key_in"], "name": data["api_key_name"]}
            if chosen != {"in": spec.get("in", "header"), "name": spec.get("name", "X-API-Key")}:
                config.update(chosen)
        return config

    @property
    def initial_status(self) -> str:
        return (
            ConnectionStatus.PENDING if self.wants_authorization_code else ConnectionStatus.ACTIVE
        )


class ListFilterForm(forms.Form):
    """The Connections page's query string: connector, customer (or Space-wide), status."""

    connector = forms.ChoiceField(required=False)
    customer = forms.ChoiceField(required=False)
    status = forms.ChoiceField(
        required=False, choices=[("", "All statuses"), *ConnectionStatus.choices]
    )

    def __init__(self, space: Space, connector_choices, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connector"].choices = [("", "All connectors"), *connector_choices]
        customers = Customer.objects.filter(space=space).values_list("id", "name")
        self.fields["customer"].choices = [
            ("", "All scopes"),
            (SPACE_SCOPE, "Space-wide"),
            *((str(pk), name) for pk, name in customers),
        ]


class OAuthAppForm(forms.Form):
    """Client ID and secret from the provider's developer console, and optional overrides of
    the connector's endpoints and scopes. The secret is required once; editing without one
    keeps the stored secret."""

    client_id = forms.CharField(label="Client ID", max_length=500)
    client_secret = secret_input("Client secret")
    authorization_url = forms.CharField(
        label="Authorization URL", required=False, max_length=500, widget=forms.URLInput
    )
    token_url = forms.CharField(
        label="Token URL", required=False, max_length=500, widget=forms.URLInput
    )
    scopes = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Separated by spaces or commas. Empty: the connector's default scopes.",
    )

    def __init__(self, *args, app=None, definition: ConnectorDefinition, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app
        options = (definition.auth("OAUTH_2").options if definition.auth("OAUTH_2") else {}) or {}
        self.fields[
            "authorization_url"
        ].help_text = f"Empty: {options.get('authorizationUrl') or 'none in the connector'}."
        self.fields[
            "token_url"
        ].help_text = f"Empty: {options.get('tokenUrl') or 'none in the connector'}."
        default_scopes = " ".join(str(s) for s in options.get("scopes") or [])
        if default_scopes:
            self.fields[
                "scopes"
            ].help_text = (
                f"Separated by spaces or commas. Empty: the connector's ({default_scopes})."
            )
        if app is not None:
            self.fields["client_secret"].required = False
            self.fields["client_secret"].help_text = (
                "Stored encrypted and never shown. Leave empty to keep the current secret; "
                "type a new one to replace it."
            )
            for name in ("client_id", "authorization_url", "token_url", "scopes"):
                self.fields[name].initial = getattr(app, name)
        else:
            self.fields["client_secret"].required = True
            self.fields["client_secret"].help_text = "Stored encrypted. It is never shown again."

    def _url(self, name: str) -> str:
        url = self.cleaned_data.get(name, "").strip()
        if url:
            try:
                http_url(url)
            except ValidationError:
                raise ValidationError("Enter an http:// or https:// URL.") from None
        return url

    def clean_authorization_url(self):
        return self._url("authorization_url")

    def clean_token_url(self):
        return self._url("token_url")

    def clean_client_id(self):
        return self.cleaned_data["client_id"].strip()

    def clean_scopes(self):
        return " ".join(self.cleaned_data.get("scopes", "").replace(",", " ").split())
