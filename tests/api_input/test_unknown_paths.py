"""Under /api/ an unknown path is 404 JSON NOT_FOUND, whatever the method; 405 only for a
wrong method on a path that exists."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def assert_not_found(response):
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "NOT_FOUND" and body["statusCode"] == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/nope"),
        ("delete", "/api/v1/nope"),
        ("put", "/api/v1/nope"),
        ("get", "/api/v2/x"),
        ("post", "/api/v2/x"),
        ("get", "/api/"),
        ("get", "/api/v1/"),
        ("post", "/api/v1/a/b"),
        ("get", "/api/v1/tenants/x/nothing"),
    ],
)
def test_unknown_paths_are_404_json(client, method, path):
    assert_not_found(getattr(client, method)(path))


def test_get_on_a_workflow_of_the_callers_space_is_405_allow_post(
    client, cast, api_key, standard_echo
):
    headers = {"x-fastn-api-key": api_key, "x-fastn-space-id": str(cast.space.id)}
    response = client.get("/api/v1/echo", headers=headers)
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    # Without a key, or for a slug the Space does not have, the path is just unknown.
    assert_not_found(client.get("/api/v1/echo"))
    assert_not_found(client.get("/api/v1/nope", headers=headers))


def test_a_wrong_method_on_a_fixed_route_is_405_json(client):
    response = client.post("/api/v1/openapi.json")
    assert response.status_code == 405 and response.json()["code"] == "METHOD_NOT_ALLOWED"
    assert response["Allow"] == "GET"
