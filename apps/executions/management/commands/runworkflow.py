"""Run a workflow file locally, the equivalent of `fastn run`: one JSON document on stdout,
exit code 0 when the run completed and 1 otherwise."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.environments.models import DRAFT
from apps.executions.headers import credential_headers_in, workflow_headers
from apps.executions.host import DatabaseHost, DetachedHost
from apps.runtime import Limits, run_workflow
from apps.spaces.models import Customer, Space


def json_option(text: str | None, name: str, *, want_object: bool = False):
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--{name} is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if want_object and not isinstance(value, dict):
        raise CommandError(f"--{name} must be a JSON object")
    return value


class Command(BaseCommand):
    help = "Run a workflow file in the sandbox and print the result as JSON."

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .js file whose default export is the workflow")
        parser.add_argument("--input", help="ctx.input as JSON")
        parser.add_argument(
            "--headers",
            help="ctx.headers as a JSON object; credentials (authorization, cookie, "
            "x-fastn-api-key…) are left out, as the API does",
        )
        parser.add_argument("--space", help="Space slug: its secrets, state and database")
        parser.add_argument("--tenant", help="customer external id within the Space")
        parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")

    def handle(self, file, input, headers, space, tenant, timeout, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        if not 0 < timeout <= 6 * 3600:
            raise CommandError("--timeout must be between 0 and 21600 seconds")
        code = path.read_text(encoding="utf-8")
        run_id = str(uuid.uuid4())
        given = json_option(headers, "headers", want_object=True)
        dropped = credential_headers_in(given)
        if dropped:
            # stderr: stdout stays one JSON document.
            self.stderr.write(
                f"Left out of ctx.headers, as in production: {', '.join(dropped)} "
                "(credentials never reach a workflow)."
            )
        ctx = {
            "input": json_option(input, "input"),
            "headers": workflow_headers(given),
            "execution": {"id": run_id, "attempt": 1},
            "workflow": {"id": None, "slug": path.stem, "version": "draft"},
            "tier": "instant",
            "environment": DRAFT,
            "trigger": {"type": "manual"},
            "tenant": tenant,
        }
        with self.host(space, tenant, path.stem, run_id) as host:
            result = run_workflow(code, ctx, host, Limits(timeout_s=timeout))
        document = {
            "status": result.status,
            "output": result.output,
            "error": result.error,
            "logs": result.logs,
            "steps": result.steps,
            "durationMs": round(result.duration_ms, 3),
        }
        self.stdout.write(json.dumps(document, indent=2, default=str))
        if result.status != "completed":
            sys.exit(1)

    def host(self, space_slug, tenant, name, run_id):
        if space_slug is None:
            if tenant:
                raise CommandError("--tenant needs --space")
            return DetachedHost()
        space = Space.objects.filter(slug=space_slug).first()
        if space is None:
            raise CommandError(f"No Space with the slug {space_slug!r}")
        customer = None
        if tenant:
            customer = Customer.objects.filter(space=space, external_id=tenant).first()
            if customer is None:
                raise CommandError(f"No customer {tenant!r} in the Space {space_slug!r}")
        return DatabaseHost(
            space,
            customer=customer,
            workflow_key=f"file:{name}",
            invocation_id=run_id,
            environment=DRAFT,
        )
