"""`manage.py connector import FILE... --space S [--openapi] [--publish]`: definition files and
OpenAPI documents, idempotent, what it prints, and errors that name the file."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.connectors.models import Connector
from tests.connectors.console_helpers import SPECS, definition

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("connector", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_definition_file_is_created_then_unchanged_then_updated(cast, tmp_path):
    path = tmp_path / "crm.json"
    path.write_text(json.dumps(definition()))

    created, _ = run("import", str(path), "--space", cast.space.slug)
    unchanged, _ = run("import", str(path), "--space", cast.space.slug)
    path.write_text(json.dumps(definition(description="Now with deals")))
    updated, _ = run("import", str(path), "--space", cast.space.slug, "--publish")

    assert f"created   {path}: crm v1" in created
    assert f"unchanged {path}: crm is already v1" in unchanged
    assert f"updated   {path}: crm v2, published to live (v2)" in updated
    assert f"Imported 1 file(s) into {cast.space.slug}." in updated
    connector = Connector.objects.get(space=cast.space, slug="crm")
    assert (connector.latest_version.number, connector.live_version.number) == (2, 2)


def test_openapi_documents_are_imported_with_their_skips_printed(cast):
    petstore = SPECS / "swagger-petstore-openapi3.yaml"
    uber = SPECS / "uber-swagger2.yaml"

    out, _ = run("import", str(petstore), str(uber), "--space", cast.space.slug, "--openapi")
    again, _ = run("import", str(petstore), "--space", cast.space.slug, "--openapi")

    assert f"created   {petstore}: swagger-petstore-openapi-30 v1 (19 actions, 2 skipped)" in out
    assert "skipped security scheme petstore_auth · implicit flow: the implicit flow" in out
    assert f"created   {uber}: uber-api v1 (5 actions, 0 skipped)" in out
    assert "unchanged" in again
    assert set(Connector.objects.values_list("slug", flat=True)) == {
        "swagger-petstore-openapi-30", "uber-api"
    }  # fmt: skip


def test_a_bad_file_is_named_with_its_problems_and_the_good_ones_are_imported(cast, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(definition(slug="Bad Slug", baseUrl="ftp://x")))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(definition()))

    with pytest.raises(CommandError, match=r"1 of 2 file\(s\) not imported \(1 imported\)"):
        out, err = StringIO(), StringIO()
        call_command("connector", "import", str(bad), str(good), "--space", cast.space.slug,
                     stdout=out, stderr=err)  # fmt: skip

    assert f"{bad}: not imported" in err.getvalue()
    assert "$.slug: use lowercase letters, digits and single hyphens" in err.getvalue()
    assert "$.baseUrl: must start with http:// or https://" in err.getvalue()
    assert f"created   {good}: crm v1" in out.getvalue()


def test_an_openapi_document_without_the_flag_and_a_missing_space_are_explained(cast, tmp_path):
    spec = SPECS / "petstore-expanded-openapi3.json"
    with pytest.raises(CommandError):
        out, err = StringIO(), StringIO()
        call_command("connector", "import", str(spec), "--space", cast.space.slug,
                     stdout=out, stderr=err)  # fmt: skip
    assert "this is an OpenAPI document: add --openapi" in err.getvalue()

    with pytest.raises(CommandError, match="No Space with the slug “nope”"):
        run("import", str(spec), "--space", "nope")


def test_an_invalid_openapi_document_names_the_file_and_the_validators_message(cast, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("openapi: 3.0.3\ninfo:\n  title: Broken\npaths: {}\n")

    with pytest.raises(CommandError):
        out, err = StringIO(), StringIO()
        call_command("connector", "import", str(path), "--space", cast.space.slug, "--openapi",
                     stdout=out, stderr=err)  # fmt: skip

    assert f"{path}: not imported" in err.getvalue()
    assert "$.info: 'version' is a required property" in err.getvalue()
    assert not Connector.objects.exists()


def test_a_relative_server_takes_base_url(cast, tmp_path):
    path = tmp_path / "relative.yaml"
    path.write_text(
        "openapi: 3.0.3\ninfo: {title: Rel, version: '1'}\nservers: [{url: /api}]\n"
        "paths:\n  /a:\n    get:\n      operationId: getA\n      responses:\n"
        "        '200': {description: ok}\n"
    )

    out, _ = run("import", str(path), "--space", cast.space.slug, "--openapi",
                 "--base-url", "https://rel.example.test/api")  # fmt: skip

    assert "created" in out
    assert Connector.objects.get(slug="rel").latest_version.definition["baseUrl"] == (
        "https://rel.example.test/api"
    )
