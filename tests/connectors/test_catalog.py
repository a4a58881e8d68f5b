"""The built-in connector catalog: every file in apps/connectors/catalog/ loads through the one
definition parser, and holds together (paths, parameters, auth, templates, test actions)."""

from __future__ import annotations

import json
import re

import pytest

from apps.connectors.catalog import CATALOG_DIR, builtin_connectors
from apps.connectors.definition import PATH_PARAM_RE, DefinitionError, parse_definition
from apps.connectors.http_client import PARAMS as HTTP_PARAMS

SLUGS = {
    "shopify",
    "stripe",
    "xero",
    "quickbooks",
    "cin7-core",
    "cin7-omni",
    "github",
    "slack",
    "hubspot",
    "openai",
    "email",
    "http",
}
# Email and HTTP are protocols rather than APIs: Email's one action sends a message through the
# connection's SMTP server, HTTP's one action takes any URL. Every other built-in wraps a
# service's API and carries at least its ten most used endpoints.
SINGLE_ACTION = {"email", "http"}
REST = SLUGS - SINGLE_ACTION
TEMPLATE = re.compile(r"\{\{\s*(connection|credential|secrets)\.([A-Za-z0-9_.-]+)\s*\}\}")

CATALOG = builtin_connectors()
REST_DEFINITIONS = [CATALOG[slug] for slug in sorted(REST) if slug in CATALOG]


def ids(definitions):
    return [d.slug for d in definitions]


def test_the_catalog_holds_the_twelve_built_ins():
    assert set(CATALOG) == SLUGS
    assert {path.stem for path in CATALOG_DIR.glob("*.json")} == SLUGS


@pytest.mark.parametrize("definition", CATALOG.values(), ids=ids(CATALOG.values()))
def test_each_definition_describes_itself(definition):
    assert definition.name and definition.description and definition.category
    assert definition.version == "1.0"
    assert definition.docs_url.startswith("https://")
    assert definition.pagination and definition.pagination.get("style")
    for event in definition.events:
        assert event.name and event.title and event.path and event.description
        assert event.payload_schema.get("type") == "object" and event.payload_schema["properties"]


@pytest.mark.parametrize("definition", REST_DEFINITIONS, ids=ids(REST_DEFINITIONS))
def test_each_api_connector_has_ten_real_actions_and_hints(definition):
    assert definition.protocol == "rest"
    assert definition.base_url.startswith("https://")
    assert len(definition.actions) >= 10
    assert definition.rate_limit["requests"] > 0 and definition.rate_limit["perSeconds"] > 0
    assert definition.pagination["style"] in ("cursor", "page", "offset", "link")
    kinds = {action.kind for action in definition.actions}
    assert kinds == {"read", "write"}, "a service's catalog reads and writes"


@pytest.mark.parametrize("definition", CATALOG.values(), ids=ids(CATALOG.values()))
def test_actions_are_well_formed(definition):
    names = [action.name for action in definition.actions]
    assert len(names) == len(set(names))
    for action in definition.actions:
        assert action.path.startswith("/"), action.name
        assert action.title and action.description, action.name
        placeholders = PATH_PARAM_RE.findall(action.path)
        path_params = [p.name for p in action.parameters if p.location == "path"]
        # Every {name} is declared, and every declared path parameter appears in the path.
        assert sorted(placeholders) == sorted(path_params), action.name
        for parameter in action.parameters:
            assert parameter.description, f"{action.name}.{parameter.name}"
            if parameter.default is not None and parameter.enum:
                assert parameter.default in parameter.enum, f"{action.name}.{parameter.name}"


@pytest.mark.parametrize("definition", CATALOG.values(), ids=ids(CATALOG.values()))
def test_body_parameters_match_the_body_schema(definition):
    """A body field may be passed on its own or inside params.body: both views agree."""
    for action in definition.actions:
        if action.body is None:
            continue
        schema = action.body.schema
        assert schema.get("type") in ("object", "array"), action.name
        properties = schema.get("properties", {})
        for parameter in action.parameters:
            if parameter.location != "body":
                continue
            prop = properties.get(parameter.name)
            assert prop is not None, f"{action.name}.{parameter.name} is missing from the schema"
            if "oneOf" not in prop:
                assert prop["type"] == parameter.type, f"{action.name}.{parameter.name}"
            assert parameter.required == (parameter.name in schema.get("required", ())), (
                f"{action.name}.{parameter.name}"
            )


@pytest.mark.parametrize("definition", CATALOG.values(), ids=ids(CATALOG.values()))
def test_auth_methods_and_their_default(definition):
    types = [method.type for method in definition.auth_methods]
    assert definition.default_auth in types
    for method in definition.auth_methods:
        if method.type != "OAUTH_2":
            continue
        grants = method.options.get("grantTypes", ["authorization_code"])
        if "authorization_code" in grants:
            assert method.options["authorizationUrl"].startswith("https://")
        assert method.options["tokenUrl"].startswith("https://")
        assert method.options["scopes"], "an OAuth app asks for the scopes its actions need"
        assert isinstance(method.options.get("pkce"), bool)


def test_default_auth_follows_the_reference_table():
    default = {slug: CATALOG[slug].default_auth for slug in SLUGS}
    for slug in ("shopify", "xero", "quickbooks", "github", "slack", "hubspot"):
        assert default[slug] == "OAUTH_2", slug
    for slug in ("stripe", "cin7-core", "openai"):
        assert default[slug] == "API_KEY", slug
    # Cin7 Omni's API key travels only as HTTP Basic (API username + API key).
    assert default["cin7-omni"] == "BASIC"
    assert default["email"] == "INPUT"
    assert default["http"] == "NO_AUTH"


@pytest.mark.parametrize("definition", CATALOG.values(), ids=ids(CATALOG.values()))
def test_templates_name_declared_fields(definition):
    connection_fields = {field["name"] for field in definition.connection_fields}
    texts = [definition.base_url, *definition.headers.values()]
    input_fields: set[str] = set()
    for method in definition.auth_methods:
        texts += [method.options.get("authorizationUrl", ""), method.options.get("tokenUrl", "")]
        if method.type == "INPUT":
            input_fields = {field["name"] for field in method.options.get("fields", [])}
            texts += [*method.options.get("headers", {}).values()]
            texts += [*method.options.get("query", {}).values()]
    for text in texts:
        for source, name in TEMPLATE.findall(text):
            if source == "connection":
                assert name in connection_fields, f"{definition.slug}: {text}"
            elif source == "credential":
                assert name in input_fields, f"{definition.slug}: {text}"


@pytest.mark.parametrize("definition", REST_DEFINITIONS, ids=ids(REST_DEFINITIONS))
def test_the_test_action_is_a_cheap_read_that_needs_nothing_else(definition):
    action = definition.action(definition.test["action"])
    assert action is not None
    assert action.kind == "read"
    params = definition.test.get("params", {})
    declared = {parameter.name for parameter in action.parameters}
    assert set(params) <= declared
    required = {parameter.name for parameter in action.parameters if parameter.required}
    assert required <= set(params)


def spot(slug, name):
    action = CATALOG[slug].action(name)
    assert action is not None, f"{slug}.{name}"
    return action


@pytest.mark.parametrize(
    ("slug", "name", "method", "path"),
    [
        ("stripe", "createCustomer", "POST", "/v1/customers"),
        ("stripe", "createPaymentIntent", "POST", "/v1/payment_intents"),
        ("github", "listIssues", "GET", "/repos/{owner}/{repo}/issues"),
        (
            "github",
            "createIssueComment",
            "POST",
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        ),
        ("slack", "postMessage", "POST", "/api/chat.postMessage"),
        ("slack", "getConversationHistory", "GET", "/api/conversations.history"),
        ("shopify", "listOrders", "GET", "/orders.json"),
        ("shopify", "updateProduct", "PUT", "/products/{product_id}.json"),
        ("hubspot", "listContacts", "GET", "/crm/v3/objects/contacts"),
        ("hubspot", "updateDeal", "PATCH", "/crm/v3/objects/deals/{dealId}"),
        ("openai", "createChatCompletion", "POST", "/v1/chat/completions"),
        ("openai", "createEmbedding", "POST", "/v1/embeddings"),
        ("xero", "createInvoices", "PUT", "/Invoices"),
        ("quickbooks", "query", "GET", "/query"),
        ("cin7-core", "listSales", "GET", "/saleList"),
        ("cin7-omni", "createSalesOrders", "POST", "/v1/SalesOrders"),
    ],
)
def test_real_endpoints(slug, name, method, path):
    action = spot(slug, name)
    assert (action.method, action.path) == (method, path)


def test_stripe_sends_form_bodies_and_its_key_as_a_bearer_header():
    stripe = CATALOG["stripe"]
    assert stripe.base_url == "https://api.stripe.com"
    bodies = [action.body for action in stripe.actions if action.method == "POST"]
    assert bodies and all(body is not None and body.encoding == "form" for body in bodies)
    key = stripe.auth("API_KEY").options
    assert (key["in"], key["name"], key["prefix"]) == ("header", "Authorization", "Bearer ")
    create = spot("stripe", "createCustomer")
    assert create.parameter("email").location == "body"
    assert create.parameter("Idempotency-Key").location == "header"


def test_openai_key_is_a_bearer_header_and_chat_needs_model_and_messages():
    key = CATALOG["openai"].auth("API_KEY").options
    assert (key["name"], key["prefix"]) == ("Authorization", "Bearer ")
    chat = spot("openai", "createChatCompletion")
    assert {p.name for p in chat.parameters if p.required} == {"model", "messages"}
    assert chat.parameter("messages").type == "array"


def test_shopify_is_per_shop_and_sends_its_token_in_its_own_header():
    shopify = CATALOG["shopify"]
    assert shopify.base_url == "https://{{connection.shop}}.myshopify.com/admin/api/2025-01"
    assert [field["name"] for field in shopify.connection_fields] == ["shop"]
    oauth = shopify.auth("OAUTH_2").options
    assert oauth["authorizationUrl"].endswith(".myshopify.com/admin/oauth/authorize")
    assert oauth["scopeSeparator"] == ","
    for method in (oauth, shopify.auth("API_KEY").options):
        assert (method["in"], method["name"], method["prefix"]) == (
            "header",
            "X-Shopify-Access-Token",
            "",
        )
    assert spot("shopify", "getOrder").parameter("order_id").type == "integer"
    assert any(event.path == "orders/create" for event in shopify.events)


def test_github_offers_oauth_with_pkce_and_personal_access_tokens():
    github = CATALOG["github"]
    oauth = github.auth("OAUTH_2").options
    assert oauth["authorizationUrl"] == "https://github.com/login/oauth/authorize"
    assert oauth["tokenUrl"] == "https://github.com/login/oauth/access_token"
    assert oauth["pkce"] is True
    assert github.auth("BEARER") is not None
    assert github.headers["X-GitHub-Api-Version"] == "2022-11-28"
    issue = spot("github", "createIssue")
    assert issue.body.required and issue.body.schema["required"] == ["title"]


def test_slack_and_hubspot_offer_oauth_and_a_token():
    slack = CATALOG["slack"]
    assert slack.auth("OAUTH_2").options["tokenUrl"] == "https://slack.com/api/oauth.v2.access"
    assert slack.auth("BEARER") is not None
    post = spot("slack", "postMessage")
    assert post.parameter("channel").required and post.parameter("channel").location == "body"
    hubspot = CATALOG["hubspot"]
    assert hubspot.auth("OAUTH_2").options["tokenUrl"] == "https://api.hubapi.com/oauth/v1/token"
    assert hubspot.auth("BEARER") is not None
    assert hubspot.pagination["nextPath"] == "paging.next.after"


def test_xero_sends_the_tenant_header_and_quickbooks_the_realm_in_its_base_url():
    xero = CATALOG["xero"]
    assert xero.headers["xero-tenant-id"] == "{{connection.tenantId}}"
    assert xero.auth("OAUTH_2").options["tokenUrl"] == "https://identity.xero.com/connect/token"
    quickbooks = CATALOG["quickbooks"]
    assert quickbooks.base_url == (
        "https://quickbooks.api.intuit.com/v3/company/{{connection.realmId}}"
    )
    assert quickbooks.auth("OAUTH_2").options["scopes"] == ["com.intuit.quickbooks.accounting"]
    assert quickbooks.test == {"action": "query", "params": {"query": "select * from CompanyInfo"}}


def test_cin7_core_authenticates_with_its_two_headers():
    core = CATALOG["cin7-core"]
    assert core.base_url == "https://inventory.dearsystems.com/ExternalApi/v2"
    assert core.headers == {"api-auth-accountid": "{{connection.accountId}}"}
    key = core.auth("API_KEY").options
    assert (key["in"], key["name"], key["prefix"]) == ("header", "api-auth-applicationkey", "")
    assert {event.name for event in core.events} >= {"Sale/OrderAuthorised", "Product/Updated"}
    omni = CATALOG["cin7-omni"]
    assert omni.base_url == "https://api.cin7.com/api"
    assert spot("cin7-omni", "createSalesOrders").body.schema["type"] == "array"


def test_email_sends_through_the_connections_smtp_server():
    email = CATALOG["email"]
    assert email.protocol == "smtp"
    assert email.base_url == "smtp://{{connection.host}}:{{connection.port}}"
    assert [f["name"] for f in email.connection_fields] == [
        "host",
        "port",
        "security",
        "fromAddress",
    ]
    login = email.auth("INPUT").options["fields"]
    assert [(f["name"], f["secret"]) for f in login] == [("username", False), ("password", True)]
    (send,) = email.actions
    assert send.name == "sendEmail"
    assert [p.name for p in send.parameters] == [
        "to",
        "cc",
        "bcc",
        "subject",
        "text",
        "html",
        "replyTo",
        "from",
    ]
    assert {p.name for p in send.parameters if p.required} == {"to", "subject"}


def test_http_is_the_generic_request_with_every_auth_a_connection_may_add():
    http = CATALOG["http"]
    assert http.protocol == "generic"
    assert http.base_url == ""
    assert http.default_auth == "NO_AUTH"
    # A connection's credentials are bound to the API they are for.
    assert [(f["name"], f["required"]) for f in http.connection_fields] == [("baseUrl", True)]
    assert {m.type for m in http.auth_methods} >= {"NO_AUTH", "BASIC", "BEARER", "API_KEY", "INPUT"}
    (request,) = http.actions
    assert request.name == "request"
    assert tuple(p.name for p in request.parameters) == HTTP_PARAMS
    assert request.parameter("url").required
    assert request.parameter("method").enum == (
        "GET",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "HEAD",
        "OPTIONS",
    )


def minimal(**overrides):
    data = {
        "slug": "x",
        "name": "X",
        "baseUrl": "https://api.example.com",
        "actions": [{"name": "ping", "method": "GET", "path": "/ping"}],
    }
    data.update(overrides)
    return data


def test_the_base_url_scheme_follows_the_protocol():
    assert parse_definition(minimal(protocol="smtp", baseUrl="smtp://mail.example.com:587"))
    assert parse_definition(minimal(protocol="generic", baseUrl="")).base_url == ""
    with pytest.raises(DefinitionError, match=r"\$\.baseUrl: must start with smtp://"):
        parse_definition(minimal(protocol="smtp", baseUrl="https://mail.example.com"))
    with pytest.raises(DefinitionError, match=r"\$\.baseUrl: must start with http:// or https://"):
        parse_definition(minimal(baseUrl="smtp://mail.example.com"))
    with pytest.raises(DefinitionError, match=r"\$\.baseUrl: is required"):
        parse_definition(minimal(baseUrl=""))


def test_the_files_are_tidy_json():
    """Reviewable diffs: two-space indentation, a final newline, no duplicate keys."""

    def no_duplicates(pairs):
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    for path in CATALOG_DIR.glob("*.json"):
        text = path.read_text()
        data = json.loads(text, object_pairs_hook=no_duplicates)
        assert text == json.dumps(data, indent=2, ensure_ascii=False) + "\n", path.name
