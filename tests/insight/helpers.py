"""Shared by the Docs tab's tests: a workflow with code, published and deployed."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.environments.selectors import environment_by_slug
from apps.spaces.audit import Actor
from apps.workflows import services

# Lines are referred to by number in the tests: keep them where they are.
ORDER_CODE = """\
// Files big orders and counts small ones.
export default async function (ctx) {
  const n = ctx.input.n;
  const seen = await fastn.state.get("seen");
  if (n > 5) {
    await fastn.state.set("label", "big", { scope: "INVOCATION" });
  } else {
    await fastn.envConfig.get("MODE");
  }
  if (n === 0) {
    throw new Error("zero");
  }
  try {
    await fastn.state.incr("label", 1, { scope: "INVOCATION" });
  } catch (err) {
    console.log("not a number");
  }
  return { n, seen };
}
"""


def make_workflow(space, owner, *, code=ORDER_CODE, name="Orders", **fields):
    actor = Actor.for_user(owner)
    return services.workflow_create(space, name=name, actor=actor, code=code, **fields)


def publish_and_deploy(workflow, owner, environment="live"):
    actor = Actor.for_user(owner)
    version = services.workflow_publish(workflow, actor=actor, created_by=owner)
    if environment != "test":
        services.workflow_deploy(
            workflow,
            version=version,
            environment=environment_by_slug(workflow.space, environment),
            actor=actor,
            deployed_by=owner,
        )
    return version


def tab_url(workflow, name="insight_tab") -> str:
    return reverse(name, kwargs={"space_slug": workflow.space.slug, "workflow_id": workflow.id})


def post_tab(client, workflow, code=None, **params):
    data = {k: str(v) for k, v in params.items()}
    if code is not None:
        data["code"] = SimpleUploadedFile("workflow.js", code.encode(), "text/javascript")
    return client.post(tab_url(workflow), data, HTTP_HX_REQUEST="true")
