"""`manage.py workflow export|import`: workflows as files, so teams can keep them in git.

python manage.py workflow export --space SLUG [--out DIR]
python manage.py workflow import PATH... --space SLUG [--publish] [--deploy ENV]
"""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.environments.models import TEST
from apps.environments.selectors import environment_by_slug
from apps.spaces.audit import Actor
from apps.spaces.models import Space
from apps.workflows.files import WorkflowFileError, collect
from apps.workflows.services import workflow_export, workflow_import


class Command(BaseCommand):
    help = "Export workflows to <slug>.js + <slug>.json files, or import them back."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{export,import}")
        export = sub.add_parser("export", help="Write every workflow of a Space as files.")
        export.add_argument("--space", required=True, help="The Space's slug.")
        export.add_argument("--out", default=".", help="Directory to write (default: .).")
        imp = sub.add_parser("import", help="Create or update drafts from workflow files.")
        imp.add_argument("paths", nargs="+", metavar="PATH", help="Directories or files.")
        imp.add_argument("--space", required=True, help="The Space's slug.")
        imp.add_argument("--publish", action="store_true", help="Publish changed drafts.")
        imp.add_argument("--deploy", metavar="ENV", help="Deploy the latest versions to ENV.")

    def handle(self, *args, **options):
        space = Space.objects.filter(slug=options["space"]).first()
        if space is None:
            raise CommandError(f"No Space with the slug “{options['space']}”.")
        actor = Actor.system(f"manage.py workflow {options['action']}")
        if options["action"] == "export":
            self.export(space, Path(options["out"]), actor)
        else:
            self.import_(space, options, actor)

    def export(self, space: Space, out: Path, actor: Actor) -> None:
        workflows = workflow_export(space, directory=out, actor=actor)
        for workflow in workflows:
            self.stdout.write(f"  {workflow.slug}.js + {workflow.slug}.json")
        self.stdout.write(
            self.style.SUCCESS(f"Exported {len(workflows)} workflow(s) of {space.slug} to {out}.")
        )

    def import_(self, space: Space, options: dict, actor: Actor) -> None:
        deploy_to = None
        if options["deploy"]:
            deploy_to = environment_by_slug(space, options["deploy"].lower())
            if deploy_to is None:
                raise CommandError(f"No environment “{options['deploy']}” in {space.slug}.")
            if deploy_to.slug != TEST and not options["publish"]:
                self.stdout.write("Deploying the latest published versions (no --publish).")
        try:
            files = collect(options["paths"])
            report = workflow_import(
                space, files=files, publish=options["publish"], deploy_to=deploy_to, actor=actor
            )
        except WorkflowFileError as exc:
            raise CommandError(f"{exc} Nothing was imported.") from None
        except ValidationError as exc:
            raise CommandError(f"{' '.join(exc.messages)} Nothing was imported.") from None
        for label, items in (
            ("created", report.created),
            ("updated", report.updated),
            ("unchanged", report.unchanged),
            ("published", report.published),
            ("deployed", report.deployed),
        ):
            for item in items:
                self.stdout.write(f"  {label:9} {item}")
        if deploy_to is not None and deploy_to.slug == TEST:
            self.stdout.write("  test serves the latest published version by itself.")
        if report.changed_anything:
            summary = (
                f"Imported {len(files)} workflow(s) into {space.slug}: {len(report.created)} "
                f"created, {len(report.updated)} updated, {len(report.unchanged)} unchanged"
            )
            if options["publish"] or deploy_to is not None:
                summary += f"; {len(report.published)} published, {len(report.deployed)} deployed"
            self.stdout.write(self.style.SUCCESS(summary + "."))
        else:
            self.stdout.write(self.style.SUCCESS(
                f"Nothing to change: the {len(files)} workflow(s) in {space.slug} already match "
                "the files."
            ))  # fmt: skip
