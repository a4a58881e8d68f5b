"""Sample workflows for the demo Space (`make run` → seed_demo). Idempotent: a sample whose slug
exists is left alone."""

from __future__ import annotations

from django.db import transaction

from apps.environments.selectors import environment_by_slug
from apps.spaces.audit import Actor
from apps.spaces.models import Space
from apps.testcases.services import case_approve, case_create
from apps.workflows.models import Workflow
from apps.workflows.services import workflow_create, workflow_deploy, workflow_publish

ECHO = """// Echo with validation: answers with a greeting, or a clear error for bad input.
// Try it in the Test tab with {"name": "Ada", "tags": ["math"]}.
export default async function (ctx) {
  const { input } = ctx;
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new Error("ctx.input must be a JSON object, like {\\"name\\": \\"Ada\\"}");
  }
  const name = typeof input.name === "string" ? input.name.trim() : "";
  if (!name) {
    throw new Error("input.name is required (a non-empty string)");
  }
  if (input.tags !== undefined && !Array.isArray(input.tags)) {
    throw new Error("input.tags must be an array of strings when given");
  }
  console.log(`Greeting ${name}`);
  return {
    greeting: `Hello, ${name}!`,
    tags: input.tags ?? [],
    receivedAt: new Date().toISOString(),
    attempt: ctx.execution?.attempt ?? 1,
  };
}
"""

DEDUPE = """// A lookup with deduplication: processes each lead once, remembering the emails it has
// seen in fastn.state (ORG scope: shared by every run of this workflow) for 30 days.
// Run it twice in the Test tab with {"email": "ada@example.com"}.
const THIRTY_DAYS = 30 * 24 * 3600;

export default async function (ctx) {
  const email = String(ctx.input?.email ?? "").trim().toLowerCase();
  if (!/^[^@\\s]+@[^@\\s]+$/.test(email)) {
    throw new Error("input.email must be an email address");
  }

  const key = `lead:${email}`;
  const seen = await fastn.state.get(key);
  if (seen) {
    console.info(`${email} was already processed at ${seen.firstSeenAt}`);
    return { email, skipped: true, reason: "already_processed", firstSeenAt: seen.firstSeenAt };
  }

  const record = { firstSeenAt: new Date().toISOString(), source: ctx.trigger?.type ?? "manual" };
  await fastn.state.set(key, record, { ttl: THIRTY_DAYS });
  console.log(`New lead ${email}`);
  return { email, skipped: false, ...record };
}
"""

HTTP = """// A call through the HTTP connector: looks a GitHub repository up by its full name.
// Try it with {"repo": "django/django"}. The connector refuses private addresses.
export default async function (ctx) {
  const repo = String(ctx.input?.repo ?? "django/django");
  if (!/^[\\w.-]+\\/[\\w.-]+$/.test(repo)) {
    throw new Error('input.repo must look like "owner/name"');
  }

  const response = await fastn.connector.http.request({
    method: "GET",
    url: `https://api.github.com/repos/${repo}`,
    headers: { Accept: "application/vnd.github+json", "User-Agent": "fastn-console-demo" },
    timeout: 10,
  });

  if (response.status === 404) {
    return { found: false, repo };
  }
  if (response.status !== 200) {
    throw new Error(`GitHub answered ${response.status}`);
  }
  const { full_name, description, stargazers_count, default_branch, html_url } = response.body;
  return {
    found: true,
    repo: full_name,
    description,
    stars: stargazers_count,
    defaultBranch: default_branch,
    url: html_url,
  };
}
"""

ECHO_CASES = [
    {
        "name": "Ada is greeted",
        "group": "greeting",
        "scenario": "A name with spaces around it and tags: the greeting trims the name.",
        "input": {"name": "  Ada ", "tags": ["math"]},
        "expect": {
            "kind": "assertions",
            "assertions": [
                {"path": "$.greeting", "op": "equals", "value": "Hello, Ada!"},
                {"path": "$.tags", "op": "length", "value": 1},
                {"path": "$.receivedAt", "op": "type", "value": "string"},
            ],
        },
    },
    {
        "name": "A missing name is refused",
        "group": "validation",
        "scenario": "No name: the run fails and says which field is missing.",
        "input": {"tags": []},
        "expect": {
            "kind": "assertions",
            "assertions": [
                {"path": "$error.message", "op": "contains", "value": "input.name is required"}
            ],
        },
    },
]

GITHUB_CASES = [
    {
        "name": "A public repository is found",
        "scenario": "GitHub answers 200: the summary carries its name, stars and branch.",
        "input": {"repo": "django/django"},
        "mocks": [
            {
                "call": "GET https://api.github.com/repos/*",
                "response": {
                    "status": 200,
                    "body": {
                        "full_name": "django/django",
                        "description": "The Web framework for perfectionists with deadlines.",
                        "stargazers_count": 80000,
                        "default_branch": "main",
                        "html_url": "https://github.com/django/django",
                    },
                },
            }
        ],
        "expect": {
            "kind": "equals",
            "output": {
                "found": True,
                "repo": "django/django",
                "description": "The Web framework for perfectionists with deadlines.",
                "stars": 80000,
                "defaultBranch": "main",
                "url": "https://github.com/django/django",
            },
        },
    },
    {
        "name": "An unknown repository is not found",
        "input": {"repo": "nobody/nothing"},
        "mocks": [{"call": "GET https://api.github.com/repos/*", "response": {"status": 404}}],
        "expect": {"kind": "equals", "output": {"found": False, "repo": "nobody/nothing"}},
    },
]

SAMPLES = [
    {
        "name": "Echo with validation",
        "slug": "echo",
        "description": "Validates ctx.input and answers with a greeting. Deployed to live.",
        "tier": "instant",
        "code": ECHO,
        "deploy": "live",
        "cases": ECHO_CASES,
    },
    {
        "name": "Lead deduplication",
        "slug": "dedupe-lead",
        "description": "Processes each lead email once, remembering seen emails in fastn.state.",
        "tier": "instant",
        "code": DEDUPE,
        "deploy": "test",
    },
    {
        "name": "GitHub repository lookup",
        "slug": "github-repo",
        "description": "Calls the GitHub API through the generic HTTP connector.",
        "tier": "standard",
        "code": HTTP,
        "deploy": None,
        "cases": GITHUB_CASES,
    },
]


def seed_sample_workflows(space: Space, *, actor: Actor | None = None, user=None) -> list[str]:
    """Create the samples missing from `space`: the first published and deployed to live, the
    second published (so `test` serves it), the third left as a draft; the first and the
    third with approved MOCK test cases. Answers the slugs made."""
    actor = actor or Actor.system("make run")
    made = []
    existing = set(Workflow.objects.filter(space=space).values_list("slug", flat=True))
    with transaction.atomic():
        for sample in SAMPLES:
            if sample["slug"] in existing:
                continue
            fields = {k: v for k, v in sample.items() if k not in ("deploy", "cases")}
            workflow = workflow_create(space, actor=actor, created_by=user, **fields)
            for case in sample.get("cases", ()):
                made_case = case_create(workflow, data=case, actor=actor)
                case_approve(made_case, approved=True, user=user, actor=actor)
            if sample["deploy"]:
                version = workflow_publish(workflow, actor=actor, created_by=user)
                if sample["deploy"] != "test":
                    environment = environment_by_slug(space, sample["deploy"])
                    workflow_deploy(
                        workflow,
                        version=version,
                        environment=environment,
                        actor=actor,
                        deployed_by=user,
                    )
            made.append(sample["slug"])
    return made
