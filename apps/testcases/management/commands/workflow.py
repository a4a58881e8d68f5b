"""`manage.py workflow export|import|test`: workflows as files, so teams can keep them in git,
with their test cases beside them, and the approved MOCK cases run from CI.

python manage.py workflow export --space SLUG [--out DIR]
python manage.py workflow import PATH... --space SLUG [--publish] [--deploy ENV]
python manage.py workflow test [SLUG...] --space SLUG [--version N]

`export` writes `<slug>.js`, `<slug>.json` and, for a workflow with test cases,
`<slug>.tests.json` (format: apps/testcases/files.py); `import` reads them back (a tests file
is optional; a bad one stops the import before anything is written). `test` runs the approved
MOCK cases of the named workflows (all of the Space's by default) in this process's sandbox —
no worker, no network — on the saved draft, or on version N with `--version`; it prints one
line per case, the reasons and diff of each failure, and exits 1 when any failed (2 when
there was nothing to run)."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.environments.models import TEST
from apps.environments.selectors import environment_by_slug
from apps.spaces.audit import Actor
from apps.spaces.models import Space
from apps.testcases.files import (
    TestsFileError,
    file_text,
    read_tests_file,
    tests_path,
)
from apps.testcases.models import Mode, TestCase, TestRun
from apps.testcases.services import cases_export, cases_import, test_run_perform, test_run_start
from apps.workflows.files import WorkflowFileError, collect
from apps.workflows.models import Workflow, WorkflowVersion
from apps.workflows.services import workflow_export, workflow_import


class Command(BaseCommand):
    help = (
        "Export workflows (and their test cases) to files, import them back, or run the "
        "approved MOCK test cases."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="{export,import,test}")
        export = sub.add_parser("export", help="Write every workflow of a Space as files.")
        export.add_argument("--space", required=True, help="The Space's slug.")
        export.add_argument("--out", default=".", help="Directory to write (default: .).")
        imp = sub.add_parser("import", help="Create or update drafts from workflow files.")
        imp.add_argument("paths", nargs="+", metavar="PATH", help="Directories or files.")
        imp.add_argument("--space", required=True, help="The Space's slug.")
        imp.add_argument("--publish", action="store_true", help="Publish changed drafts.")
        imp.add_argument("--deploy", metavar="ENV", help="Deploy the latest versions to ENV.")
        test = sub.add_parser("test", help="Run the approved MOCK test cases; exit 1 on a failure.")
        test.add_argument("slugs", nargs="*", metavar="SLUG", help="Workflows (default: all).")
        test.add_argument("--space", required=True, help="The Space's slug.")
        test.add_argument(
            "--version", type=int, metavar="N", help="Run version N (default: the saved draft)."
        )

    def handle(self, *args, **options):
        space = Space.objects.filter(slug=options["space"]).first()
        if space is None:
            raise CommandError(f"No Space with the slug “{options['space']}”.")
        actor = Actor.system(f"manage.py workflow {options['action']}")
        if options["action"] == "export":
            self.export(space, Path(options["out"]), actor)
        elif options["action"] == "import":
            self.import_(space, options, actor)
        else:
            self.test(space, options, actor)

    def export(self, space: Space, out: Path, actor: Actor) -> None:
        workflows = workflow_export(space, directory=out, actor=actor)
        for workflow in workflows:
            tests = cases_export(workflow)
            line = f"  {workflow.slug}.js + {workflow.slug}.json"
            path = tests_path(out, workflow.slug)
            if tests is not None:
                path.write_bytes(file_text(tests).encode("utf-8"))
                line += f" + {workflow.slug}.tests.json ({len(tests['cases'])} case(s))"
            elif path.is_file():
                path.unlink()  # its cases were deleted: an import must not bring them back
                line += f" ({workflow.slug}.tests.json removed: no test cases)"
            self.stdout.write(line)
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
            # Every tests file is read and checked before anything is written.
            tests = {}
            for item in files:
                path = tests_path(Path(item.source).parent, item.slug)
                if path.is_file():
                    tests[item.slug] = read_tests_file(path)
            with transaction.atomic():
                report = workflow_import(
                    space,
                    files=files,
                    publish=options["publish"],
                    deploy_to=deploy_to,
                    actor=actor,
                )
                case_counts = {
                    slug: cases_import(
                        Workflow.objects.get(space=space, slug=slug), cases=cases, actor=actor
                    )
                    for slug, cases in tests.items()
                }
        except (WorkflowFileError, TestsFileError) as exc:
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
        for slug, counts in case_counts.items():
            self.stdout.write(
                f"  cases     {slug}: {counts['created']} created, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged"
            )
        if deploy_to is not None and deploy_to.slug == TEST:
            self.stdout.write("  test serves the latest published version by itself.")
        cases_changed = any(c["created"] or c["updated"] for c in case_counts.values())
        if report.changed_anything or cases_changed:
            summary = (
                f"Imported {len(files)} workflow(s) into {space.slug}: {len(report.created)} "
                f"created, {len(report.updated)} updated, {len(report.unchanged)} unchanged"
            )
            if options["publish"] or deploy_to is not None:
                summary += f"; {len(report.published)} published, {len(report.deployed)} deployed"
            self.stdout.write(self.style.SUCCESS(summary + "."))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Nothing to change: the {len(files)} workflow(s) in {space.slug} already "
                    "match the files."
                )
            )

    def test(self, space: Space, options: dict, actor: Actor) -> None:
        workflows = Workflow.objects.filter(space=space).order_by("slug")
        if options["slugs"]:
            found = {w.slug: w for w in workflows.filter(slug__in=options["slugs"])}
            missing = [s for s in options["slugs"] if s not in found]
            if missing:
                raise CommandError(f"No workflow “{missing[0]}” in {space.slug}.")
            workflows = [found[s] for s in dict.fromkeys(options["slugs"])]
        passed = failed = 0
        for workflow in workflows:
            p, f = self.test_workflow(workflow, options["version"], actor)
            passed, failed = passed + p, failed + f
        if passed + failed == 0:
            self.stderr.write("No approved MOCK test cases to run.")
            sys.exit(2)
        summary = f"{passed + failed} case(s): {passed} passed, {failed} failed."
        if failed:
            self.stdout.write(self.style.ERROR(summary))
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS(summary))

    def test_workflow(
        self, workflow: Workflow, number: int | None, actor: Actor
    ) -> tuple[int, int]:
        cases = list(TestCase.objects.filter(workflow=workflow, approved=True, mode=Mode.MOCK))
        if not cases:
            return 0, 0
        code = workflow.draft_code
        if number is not None:
            version = WorkflowVersion.objects.filter(workflow=workflow, number=number).first()
            if version is None:
                raise CommandError(f"{workflow.slug} has no version {number}.")
            code = version.code
        run = test_run_start(
            workflow,
            cases=cases,
            code=code,
            version_number=number,
            purpose=TestRun.Purpose.CLI,
            actor=actor,
            dispatch=False,
        )
        test_run_perform(run.id)
        run.refresh_from_db()
        if run.error:
            raise CommandError(f"{workflow.slug}: {run.error}")
        self.stdout.write(f"{workflow.slug} ({run.target_label})")
        passed = failed = 0
        for result in run.results.select_related("case").order_by("case__group", "case__name"):
            if result.passed:
                passed += 1
                self.stdout.write(f"  PASS  {result.case.name}")
                continue
            failed += 1
            self.stdout.write(self.style.ERROR(f"  FAIL  {result.case.name}"))
            for reason in result.failures:
                self.stdout.write(f"        {reason}")
            for line in result.diff.splitlines():
                self.stdout.write(f"        {line}")
        return passed, failed
