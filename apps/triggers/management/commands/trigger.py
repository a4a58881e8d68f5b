"""`manage.py trigger export|import`: triggers as files, beside `manage.py workflow`.

python manage.py trigger export --space SLUG [--out DIR]
python manage.py trigger import PATH... --space SLUG
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.spaces.audit import Actor
from apps.spaces.models import Space
from apps.triggers.files import (
    TriggerFileError,
    collect,
    credential_headers,
    trigger_export,
    trigger_import,
)


class Command(BaseCommand):
    help = "Export triggers to <trigger-id>.json files, or import them back."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{export,import}")
        export = sub.add_parser("export", help="Write every trigger of a Space as a file.")
        export.add_argument("--space", required=True, help="The Space's slug.")
        export.add_argument("--out", default=".", help="Directory to write (default: .).")
        imp = sub.add_parser("import", help="Create or update triggers from trigger files.")
        imp.add_argument("paths", nargs="+", metavar="PATH", help="Directories or .json files.")
        imp.add_argument("--space", required=True, help="The Space's slug.")

    def handle(self, *args, **options):
        space = Space.objects.filter(slug=options["space"]).first()
        if space is None:
            raise CommandError(f"No Space with the slug “{options['space']}”.")
        actor = Actor.system(f"manage.py trigger {options['action']}")
        if options["action"] == "export":
            self.export(space, Path(options["out"]), actor)
        else:
            self.import_(space, options["paths"], actor)

    def export(self, space: Space, out: Path, actor: Actor) -> None:
        written = trigger_export(space, directory=out, actor=actor)
        for path, document in written:
            self.stdout.write(f"  {path.name}  {document['kind']:9}  {document['name']}")
            for where in credential_headers(document):
                self.stderr.write(
                    f"warning: {path.name}: {where} looks like a credential; route headers are "
                    "written as plain text: keep credentials in secrets."
                )
        self.stdout.write(
            self.style.SUCCESS(f"Exported {len(written)} trigger(s) of {space.slug} to {out}.")
        )

    def import_(self, space: Space, paths: list[str], actor: Actor) -> None:
        try:
            files = collect(paths)
            report = trigger_import(space, files=files, actor=actor)
        except TriggerFileError as exc:
            raise CommandError(f"{exc}\nNothing was imported.") from None
        for source, status, trigger_id in report.results:
            line = f"  {status:9} {source}"
            if status == "created":
                line += (
                    f' as {trigger_id} (put "id": "{trigger_id}" in the file so that the next '
                    "import updates this trigger)"
                )
            self.stdout.write(line)
        created, updated = len(report.of("created")), len(report.of("updated"))
        if report.changed_anything:
            self.stdout.write(self.style.SUCCESS(
                f"Imported {len(files)} trigger file(s) into {space.slug}: "
                f"{created} created, {updated} updated, "
                f"{len(report.of('unchanged'))} unchanged."
            ))  # fmt: skip
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Nothing to change: the {len(files)} trigger(s) in {space.slug} already match "
                "the files."
            ))  # fmt: skip
