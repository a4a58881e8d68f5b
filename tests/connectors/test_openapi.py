"""The OpenAPI converter (apps/connectors/openapi.py) on real public documents saved in
tests/connectors/specs/ (see its README for where each comes from), and on bad ones: invalid,
huge, cyclic, external references, YAML alias bombs. No database and no network (the
connector tests' fence refuses any connection)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from apps.connectors.definition import parse_definition
from apps.connectors.openapi import (
    MAX_DOCUMENT_BYTES,
    OpenAPIImportError,
    load_document,
    openapi_to_definition,
)

SPECS = Path(__file__).parent / "specs"


def convert(name: str, **kwargs):
    document = load_document((SPECS / name).read_bytes())
    definition, report = openapi_to_definition(document, **kwargs)
    return parse_definition(definition), definition, report


@pytest.fixture(scope="module")
def stripe():
    return convert("stripe-trimmed-openapi3.json")


def minimal(**extra) -> dict:
    document = {
        "openapi": "3.0.3",
        "info": {"title": "Tiny API", "version": "1.0"},
        "servers": [{"url": "https://api.tiny.test/v1"}],
        "paths": {
            "/things/{id}": {
                "get": {"operationId": "get_thing", "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ], "responses": {"200": {"description": "ok"}}},
            }
        },
    }  # fmt: skip
    document.update(extra)
    return document


def problems_of(document) -> list[str]:
    with pytest.raises(OpenAPIImportError) as caught:
        openapi_to_definition(document)
    return caught.value.problems


# --- Real documents ----------------------------------------------------------------------------


def test_swagger_petstore_openapi3_yaml_becomes_nineteen_actions_with_an_api_key():
    parsed, _, report = convert("swagger-petstore-openapi3.yaml")

    assert parsed.slug == "swagger-petstore-openapi-30"
    assert parsed.base_url == "https://petstore3.swagger.io/api/v3"
    assert len(parsed.actions) == 19
    assert report.spec_version == "OpenAPI 3.0.4"
    find = parsed.action("findPetsByStatus")
    assert (find.method, find.path, find.kind) == ("GET", "/pet/findByStatus", "read")
    status = find.parameter("status")
    assert (status.location, status.type, status.required) == ("query", "string", False)
    assert status.enum == ("available", "pending", "sold")
    get_pet = parsed.action("getPetById")
    assert get_pet.parameter("petId").type == "integer"
    assert get_pet.parameter("petId").required
    add = parsed.action("addPet")
    assert add.kind == "write"
    assert add.body.encoding == "json" and add.body.required
    assert set(add.body.schema["required"]) == {"name", "photoUrls"}
    # The Category and Tag $refs inside Pet are inlined.
    assert add.body.schema["properties"]["category"]["properties"]["name"]["type"] == "string"
    # Security: the API key in a header is kept; the implicit OAuth flow is skipped.
    assert [(a.type, a.options) for a in parsed.auth_methods] == [
        ("API_KEY", {"in": "header", "name": "api_key"})
    ]
    assert parsed.default_auth == "API_KEY"
    skipped = dict(report.skipped)
    implicit = skipped["security scheme petstore_auth · implicit flow"]
    assert "implicit flow is not supported" in implicit
    # deletePet's api_key header is the connection's API key: not an action parameter.
    assert parsed.action("deletePet").parameter("api_key") is None
    assert skipped["DELETE /pet/{petId} · parameter api_key (header)"] == (
        "the connection sets this header"
    )
    # uploadFile's optional octet-stream body is left out, with a note.
    assert parsed.action("uploadFile").body is None
    assert any("application/octet-stream" in note for note in report.notes)


def test_swagger2_uber_yaml_takes_host_and_base_path_and_its_query_api_key():
    parsed, _, report = convert("uber-swagger2.yaml")

    assert report.spec_version == "Swagger 2.0"
    assert parsed.base_url == "https://api.uber.com/v1"
    assert parsed.domain == "api.uber.com"
    assert [a.name for a in parsed.actions] == [
        "getProducts", "getEstimatesPrice", "getEstimatesTime", "getMe", "getHistory",
    ]  # fmt: skip
    latitude = parsed.action("getProducts").parameter("latitude")
    assert (latitude.location, latitude.type, latitude.required) == ("query", "number", True)
    assert parsed.action("getHistory").parameter("limit").type == "integer"
    api_key = parsed.auth("API_KEY")
    assert api_key.options == {"in": "query", "name": "server_token"}
    assert report.auth == ["API_KEY (query server_token) from apikey"]


def test_swagger2_body_parameter_becomes_a_json_body_and_openapi3_the_same():
    two, _, _ = convert("petstore-expanded-swagger2.json")
    three, _, _ = convert("petstore-expanded-openapi3.json")

    for parsed in (two, three):
        assert [a.name for a in parsed.actions] == ["findPets", "addPet", "findPetById",
                                                    "deletePet"]  # fmt: skip
        add = parsed.action("addPet")
        assert add.body.encoding == "json" and add.body.required
        assert add.body.schema["required"] == ["name"]
        tags = parsed.action("findPets").parameter("tags")
        assert (tags.type, tags.location) == ("array", "query")
        assert parsed.default_auth == "NO_AUTH"
    assert two.base_url == "http://petstore.swagger.io/api"
    assert three.base_url == "https://petstore.swagger.io/v2"


def test_trimmed_stripe_spec_gives_59_actions_with_form_bodies_and_basic_or_bearer(stripe):
    parsed, definition, _ = stripe

    assert len(parsed.actions) == 59
    assert parsed.base_url == "https://api.stripe.com"
    assert [a.type for a in parsed.auth_methods] == ["BASIC", "BEARER"]
    assert parsed.default_auth == "BASIC"  # the first of the document's `security`
    create = parsed.action("postCustomers")
    assert (create.method, create.path, create.kind) == ("POST", "/v1/customers", "write")
    assert create.body.encoding == "form"
    assert create.body.schema["properties"]["email"]["maxLength"] == 512
    retrieve = parsed.action("getCustomersCustomer")
    assert retrieve.parameter("customer").required
    assert retrieve.parameter("expand").type == "array"
    # GETs declare an empty form body in Stripe's document: nothing to send, none kept.
    assert parsed.action("getCustomers").body is None
    assert parsed.action("deleteCustomersCustomer").kind == "write"
    assert len(json.dumps(definition)) < 1_000_000


def test_every_imported_action_is_listed_in_the_report(stripe):
    parsed, _, report = stripe

    assert [a.name for a in report.actions] == [a.name for a in parsed.actions]
    row = next(a for a in report.actions if a.name == "postCustomers")
    assert (row.method, row.path, row.body, row.source) == (
        "POST", "/v1/customers", "form", "POST /v1/customers"
    )  # fmt: skip


# --- Conversion rules ----------------------------------------------------------------------------


def test_operation_ids_become_camel_case_and_missing_ones_come_from_method_and_path():
    document = minimal()
    document["paths"]["/things/{id}/sub-items"] = {
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "post": {"responses": {"200": {"description": "ok"}}},
        "get": {"operationId": "List-Sub items", "responses": {"200": {"description": "ok"}}},
    }

    definition, _ = openapi_to_definition(document)

    names = [a["name"] for a in definition["actions"]]
    assert names == ["getThing", "listSubItems", "postThingsByIdSubItems"]


def test_duplicate_action_names_get_a_number_and_a_note():
    document = minimal()
    ok = {"200": {"description": "ok"}}
    document["paths"]["/other"] = {"get": {"operationId": "getThing", "responses": ok}}

    definition, report = openapi_to_definition(document)

    assert [a["name"] for a in definition["actions"]] == ["getThing", "getThing2"]
    assert any("getThing2" in note for note in report.notes)


def test_cookie_parameters_and_trace_are_skipped_with_their_reason():
    document = minimal()
    document["paths"]["/things/{id}"]["get"]["parameters"].append(
        {"name": "session", "in": "cookie", "schema": {"type": "string"}}
    )
    document["paths"]["/things/{id}"]["trace"] = {
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "responses": {"200": {"description": "ok"}},
    }

    definition, report = openapi_to_definition(document)

    assert [p["name"] for p in definition["actions"][0]["parameters"]] == ["id"]
    skipped = dict(report.skipped)
    assert (
        "cookie parameters are not supported"
        in skipped["GET /things/{id} · parameter session (cookie)"]
    )
    assert skipped["TRACE /things/{id}"] == "TRACE requests are not supported"


def test_path_level_parameters_are_merged_and_the_operation_wins():
    document = minimal()
    item = document["paths"]["/things/{id}"]
    item["parameters"] = [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
    ]

    definition, _ = openapi_to_definition(document)

    parameters = {p["name"]: p for p in definition["actions"][0]["parameters"]}
    assert parameters["id"]["type"] == "integer"  # the operation's own
    assert parameters["verbose"]["type"] == "boolean"


def test_a_multipart_only_required_body_skips_the_operation():
    document = minimal()
    document["paths"]["/upload"] = {"post": {
        "operationId": "upload",
        "requestBody": {"required": True, "content": {"multipart/form-data": {
            "schema": {"type": "object"}}}},
        "responses": {"200": {"description": "ok"}},
    }}  # fmt: skip

    definition, report = openapi_to_definition(document)

    assert "upload" not in [a["name"] for a in definition["actions"]]
    assert "multipart/form-data" in dict(report.skipped)["POST /upload"]


def test_swagger2_form_data_becomes_a_form_body_and_files_are_refused():
    document = {
        "swagger": "2.0", "info": {"title": "Forms", "version": "1"}, "host": "forms.test",
        "schemes": ["https"],
        "paths": {
            "/pets/{petId}": {"post": {
                "operationId": "updatePetWithForm",
                "consumes": ["application/x-www-form-urlencoded"],
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "type": "integer"},
                    {"name": "name", "in": "formData", "required": True, "type": "string"},
                    {"name": "status", "in": "formData", "type": "string"},
                ],
                "responses": {"200": {"description": "ok"}},
            }},
            "/pets/{petId}/image": {"post": {
                "operationId": "uploadFile", "consumes": ["multipart/form-data"],
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "type": "integer"},
                    {"name": "file", "in": "formData", "required": True, "type": "file"},
                ],
                "responses": {"200": {"description": "ok"}},
            }},
        },
        "securityDefinitions": {
            "oauth": {"type": "oauth2", "flow": "accessCode",
                      "authorizationUrl": "https://forms.test/authorize",
                      "tokenUrl": "https://forms.test/token", "scopes": {"pets": "Pets"}},
        },
    }  # fmt: skip

    definition, report = openapi_to_definition(document)

    (action,) = definition["actions"]
    assert action["name"] == "updatePetWithForm"
    assert action["body"] == {"encoding": "form", "required": True, "schema": {
        "type": "object", "properties": {"name": {"type": "string"}, "status": {"type": "string"}},
        "required": ["name"]}}  # fmt: skip
    assert "uploads a file" in dict(report.skipped)["POST /pets/{petId}/image"]
    assert definition["auth"]["methods"] == [{
        "type": "OAUTH_2", "grantTypes": ["authorization_code"],
        "authorizationUrl": "https://forms.test/authorize", "tokenUrl": "https://forms.test/token",
        "pkce": True, "scopes": ["pets"],
    }]  # fmt: skip


def test_security_schemes_map_to_auth_methods_and_the_default_follows_security():
    document = minimal(
        components={"securitySchemes": {
            "basic": {"type": "http", "scheme": "basic"},
            "token": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "digest": {"type": "http", "scheme": "Digest"},
            "key": {"type": "apiKey", "in": "query", "name": "key"},
            "cookieKey": {"type": "apiKey", "in": "cookie", "name": "sid"},
            "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://id.test/.well-known"},
            "oauth": {"type": "oauth2", "flows": {
                "authorizationCode": {"authorizationUrl": "/oauth/authorize",
                                      "tokenUrl": "/oauth/token", "refreshUrl": "/oauth/refresh",
                                      "scopes": {"read": "", "write": ""}},
                "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {"admin": ""}},
                "password": {"tokenUrl": "/oauth/token", "scopes": {}},
            }},
        }},
        security=[{"oauth": ["read"]}, {"key": []}],
    )  # fmt: skip

    definition, report = openapi_to_definition(document)

    methods = {m["type"]: m for m in definition["auth"]["methods"]}
    assert list(methods) == ["BASIC", "BEARER", "DIGEST", "API_KEY", "OAUTH_2"]
    assert methods["API_KEY"] == {"type": "API_KEY", "in": "query", "name": "key"}
    assert methods["OAUTH_2"] == {
        "type": "OAUTH_2", "grantTypes": ["authorization_code", "client_credentials"],
        "authorizationUrl": "https://api.tiny.test/oauth/authorize",
        "tokenUrl": "https://api.tiny.test/oauth/token", "pkce": True,
        "refreshUrl": "https://api.tiny.test/oauth/refresh", "scopes": ["read", "write", "admin"],
    }  # fmt: skip
    assert definition["auth"]["default"] == "OAUTH_2"
    skipped = dict(report.skipped)
    assert "cookie" in skipped["security scheme cookieKey"]
    assert "OpenID Connect" in skipped["security scheme oidc"]
    assert "password flow" in skipped["security scheme oauth · password flow"]


def test_openapi_31_webhooks_become_events_with_their_payload_schema():
    document = minimal(openapi="3.1.0", webhooks={
        "order.created": {"post": {
            "summary": "An order was placed",
            "requestBody": {"content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/Order"}}}},
            "responses": {"200": {"description": "ok"}},
        }},
    }, components={"schemas": {"Order": {"type": "object", "properties": {
        "id": {"type": ["string", "null"]}}}}})  # fmt: skip

    definition, report = openapi_to_definition(document)

    (event,) = definition["events"]
    assert event["name"] == "order.created"
    assert event["title"] == "An order was placed"
    assert event["payloadSchema"]["properties"]["id"]["type"] == ["string", "null"]
    assert report.events == ["order.created"]


def test_server_variables_are_filled_and_the_override_wins():
    document = minimal(servers=[{"url": "https://{region}.tiny.test/{version}", "variables": {
        "region": {"default": "eu"}, "version": {"default": "v2"}}}])  # fmt: skip

    assert openapi_to_definition(document)[0]["baseUrl"] == "https://eu.tiny.test/v2"
    override = openapi_to_definition(document, base_url="http://127.0.0.1:9/api/")[0]
    assert override["baseUrl"] == "http://127.0.0.1:9/api"


def test_a_relative_server_url_asks_for_the_base_url():
    problems = problems_of(minimal(servers=[{"url": "/api/v3"}]))

    assert "'/api/v3' is not an absolute http(s) URL: enter the API's base URL" in problems[0]


def test_slug_and_name_default_to_the_title_and_may_be_given():
    definition, _ = openapi_to_definition(minimal())
    assert (definition["slug"], definition["name"]) == ("tiny-api", "Tiny API")
    definition, _ = openapi_to_definition(minimal(), slug="tiny", name="Tiny")
    assert (definition["slug"], definition["name"]) == ("tiny", "Tiny")


# --- Recursive and cyclic $refs ------------------------------------------------------------------


def test_a_recursive_schema_is_expanded_once_and_cut_with_a_note():
    document = minimal(components={"schemas": {"Node": {"type": "object", "properties": {
        "name": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
    }}}})  # fmt: skip
    document["paths"]["/nodes"] = {"post": {
        "operationId": "createNode",
        "requestBody": {"content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/Node"}}}},
        "responses": {"200": {"description": "ok"}},
    }}  # fmt: skip

    definition, report = openapi_to_definition(document)

    schema = definition["actions"][1]["body"]["schema"]
    assert schema["properties"]["name"] == {"type": "string"}
    assert schema["properties"]["children"]["items"] == {
        "type": "object", "description": "A Node (recursive, not expanded)"
    }  # fmt: skip
    assert any("Node contains itself" in note for note in report.notes)


def test_a_cycle_of_refs_that_never_reaches_a_schema_is_an_error():
    document = minimal(components={"schemas": {
        "A": {"$ref": "#/components/schemas/B"},
        "B": {"$ref": "#/components/schemas/A"},
    }})  # fmt: skip

    (problem,) = problems_of(document)

    assert "cyclic $ref" in problem
    assert "#/components/schemas/A → #/components/schemas/B → #/components/schemas/A" in problem


def test_a_ref_to_nowhere_and_an_external_ref_are_errors_and_nothing_is_fetched():
    document = minimal(components={"schemas": {
        "Missing": {"$ref": "#/components/schemas/Nowhere"},
        "Remote": {"$ref": "https://example.com/schemas/pet.json"},
        "Local": {"$ref": "pet.yaml#/Pet"},
    }})  # fmt: skip

    problems = problems_of(document)

    assert any("external $ref 'https://example.com/schemas/pet.json'" in p for p in problems)
    assert any("external $ref 'pet.yaml#/Pet'" in p and "bundle" in p for p in problems)
    assert any("'#/components/schemas/Nowhere' points to nothing" in p for p in problems)


# --- Invalid, huge and hostile documents ---------------------------------------------------------


def test_an_invalid_document_lists_the_validators_messages_with_their_paths():
    document = minimal()
    document["info"]["version"] = 3
    document["paths"]["/things/{id}"]["get"]["responses"] = {}

    problems = problems_of(document)

    assert "$.info.version: 3 is not of type 'string'" in problems
    assert "$.paths./things/{id}.get.responses: {} should be non-empty" in problems


def test_a_document_that_is_not_openapi_says_so():
    assert "neither an `openapi` (3.x) nor a `swagger` (2.0)" in problems_of({"a": 1})[0]
    assert "openapi: '4.0.0' is not supported" in problems_of(minimal(openapi="4.0.0"))[0]
    assert "swagger: '1.2' is not supported" in problems_of({"swagger": "1.2"})[0]


def test_more_than_5_mib_is_refused_before_parsing():
    huge = b"{" + b" " * MAX_DOCUMENT_BYTES + b"}"

    with pytest.raises(OpenAPIImportError) as caught:
        load_document(huge)

    assert "the most an import takes is 5 MiB" in str(caught.value)


def test_json_and_yaml_syntax_errors_say_where():
    with pytest.raises(OpenAPIImportError, match=r"not valid JSON \(line 1, column 13"):
        load_document('{"openapi": ]')
    with pytest.raises(OpenAPIImportError, match=r"not valid YAML \(line 2, column"):
        load_document("openapi: 3.0.0\n  info: [\n")
    with pytest.raises(OpenAPIImportError, match="JSON or YAML object"):
        load_document("- a\n- b\n")
    with pytest.raises(OpenAPIImportError, match="not UTF-8"):
        load_document(b"\xff\xfe\x00openapi")


def test_a_yaml_alias_bomb_is_refused():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for index, name in enumerate("bcdefghi"):
        previous = "abcdefghi"[index]
        lines.append(f"{name}: &{name} [*{previous},*{previous},*{previous},*{previous},"
                     f"*{previous},*{previous},*{previous},*{previous},*{previous}]")  # fmt: skip

    with pytest.raises(OpenAPIImportError, match="once its YAML aliases are expanded"):
        load_document("\n".join(lines))


def test_yaml_dates_and_numeric_keys_stay_json():
    document = load_document("openapi: 3.0.0\ninfo:\n  version: 2024-01-01\n  title: x\n"
                             "paths: {}\nx-codes:\n  200: ok\n")  # fmt: skip

    assert document["info"]["version"] == "2024-01-01"
    assert document["x-codes"] == {"200": "ok"}


def test_a_deeply_nested_document_is_refused():
    with pytest.raises(OpenAPIImportError, match="nested"):
        load_document("[" * 100_000 + "]" * 100_000)


def test_the_converter_does_not_change_the_document():
    document = minimal(components={"schemas": {"Node": {"type": "object"}}})
    before = copy.deepcopy(document)

    openapi_to_definition(document)

    assert document == before
