"""`manage.py connector import`: a Space's connectors from files.

python manage.py connector import FILE... --space SLUG [--openapi] [--base-url URL] [--publish]

Each FILE is a connector definition (the format of apps/connectors/catalog/*.json, documented
in apps/connectors/definition.py), or with --openapi an OpenAPI 3.x / Swagger 2.0 document
(JSON or YAML). Idempotent: a connector whose slug exists gets a new version only when the
definition changed. Files are imported one by one, each in its own transaction; a file with
problems changes nothing and is named with its problems, and the command exits non-zero."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.connectors.openapi import MAX_DOCUMENT_BYTES, OpenAPIImportError
from apps.connectors.services.connectors import (
    ImportResult,
    connector_import_definition,
    connector_import_openapi,
)
from apps.spaces.audit import Actor
from apps.spaces.models import Space


class Command(BaseCommand):
    help = "Import connector definitions or OpenAPI documents into a Space."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{import}")
        imp = sub.add_parser("import", help="Create or update connectors from files.")
        imp.add_argument("files", nargs="+", metavar="FILE", help="Definition or OpenAPI files.")
        imp.add_argument("--space", required=True, help="The Space's slug.")
        imp.add_argument(
            "--openapi", action="store_true", help="The files are OpenAPI 3.x / Swagger 2.0."
        )
        imp.add_argument(
            "--base-url", default="", help="With --openapi: the API's base URL, when the "
            "document's server URL is relative or missing.",
        )  # fmt: skip
        imp.add_argument(
            "--publish", action="store_true", help="Publish each imported version to live."
        )

    def handle(self, *args, **options):
        space = Space.objects.filter(slug=options["space"]).first()
        if space is None:
            raise CommandError(f"No Space with the slug “{options['space']}”.")
        actor = Actor.system("manage.py connector import")
        failed = 0
        for name in options["files"]:
            try:
                result = self.import_file(Path(name), space, actor, options)
            except (OpenAPIImportError, ValidationError, OSError) as exc:
                failed += 1
                self.stderr.write(self.style.ERROR(f"{name}: not imported"))
                for problem in problems_of(exc):
                    self.stderr.write(f"  {problem}")
                continue
            self.stdout.write(describe(name, result))
        done = len(options["files"]) - failed
        if failed:
            raise CommandError(f"{failed} of {len(options['files'])} file(s) not imported "
                               f"({done} imported).")  # fmt: skip
        self.stdout.write(self.style.SUCCESS(f"Imported {done} file(s) into {space.slug}."))

    def import_file(self, path: Path, space, actor, options) -> ImportResult:
        if path.is_file() and path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise OpenAPIImportError(
                f"the file is {path.stat().st_size / 1024 / 1024:.1f} MiB: at most "
                f"{MAX_DOCUMENT_BYTES // 1024 // 1024} MiB"
            )
        raw = path.read_bytes()
        if options["openapi"]:
            return connector_import_openapi(
                space, raw, actor=actor, base_url=options["base_url"], update_existing=True,
                publish=options["publish"],
            )  # fmt: skip
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise OpenAPIImportError(
                f"not JSON ({exc}); an OpenAPI document needs --openapi"
            ) from None
        if isinstance(data, dict) and ("openapi" in data or "swagger" in data):
            raise OpenAPIImportError("this is an OpenAPI document: add --openapi")
        return connector_import_definition(space, data, actor=actor, publish=options["publish"])


def problems_of(exc: Exception) -> list[str]:
    if isinstance(exc, OpenAPIImportError):
        return exc.problems
    if isinstance(exc, ValidationError):
        return [str(m) for m in exc.messages]
    return [str(exc)]


def describe(name: str, result: ImportResult) -> str:
    connector, version = result.connector, result.version
    if result.status == "unchanged":
        line = f"  unchanged {name}: {connector.slug} is already v{connector.latest_version.number}"
    else:
        line = f"  {result.status:9} {name}: {connector.slug} v{version.number}"
        if result.report is not None:
            line += (f" ({len(result.report.actions)} actions, "
                     f"{len(result.report.skipped)} skipped)")  # fmt: skip
    if result.published:
        line += f", published to live (v{connector.latest_version.number})"
    if result.report is not None:
        for where, why in result.report.skipped:
            line += f"\n      skipped {where}: {why}"
    return line
