from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.environments import services
from apps.environments.forms import EnvironmentForm, RenameEnvironmentForm
from apps.environments.models import Environment
from apps.environments.selectors import space_environments
from apps.environments.usage import environment_usage
from apps.spaces.access import deny, require
from apps.spaces.audit import Actor
from apps.spaces.models import Capability


def get_environment_for_member(request, environment_id) -> Environment:
    return get_object_or_404(Environment, space=request.space, id=environment_id)


def environments_with_deployments(space) -> tuple[list[Environment], int]:
    """The Space's environments, each with `deployed` (what serves there), and the number of
    published workflows (what `test` serves)."""
    usage = environment_usage(space)
    environments = list(space_environments(space))
    for environment in environments:
        environment.deployed = usage.deployed.get(environment.id, [])
    return environments, usage.published_count


@require(Capability.VIEW)
@require_http_methods(["GET", "POST"])
def environment_list(request):
    form = EnvironmentForm(request.POST or None)
    if request.method == "POST":
        if not request.membership.can(Capability.MANAGE_SPACE):
            return deny(request, Capability.MANAGE_SPACE)
        if form.is_valid():
            try:
                environment = services.environment_create(
                    request.space,
                    **form.cleaned_data,
                    actor=Actor.for_user(request.user),
                    request=request,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Environment “{environment.name}” created.")
                return redirect("environments", space_slug=request.space.slug)
    environments, published = environments_with_deployments(request.space)
    context = {"environments": environments, "form": form, "published_count": published}
    return render(request, "environments/list.html", context, status=400 if form.errors else 200)


@require(Capability.MANAGE_SPACE)
@require_http_methods(["GET", "POST"])
def environment_edit(request, environment_id):
    environment = get_environment_for_member(request, environment_id)
    form = RenameEnvironmentForm(request.POST or None, initial={"name": environment.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.environment_rename(
                environment,
                name=form.cleaned_data["name"],
                actor=Actor.for_user(request.user),
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Environment renamed to “{environment.name}”.")
            return redirect("environments", space_slug=request.space.slug)
    status = 400 if form.errors else 200
    context = {"form": form, "environment": environment}
    return render(request, "environments/edit.html", context, status=status)


@require(Capability.MANAGE_SPACE)
@require_POST
def environment_delete(request, environment_id):
    environment = get_environment_for_member(request, environment_id)
    try:
        services.environment_delete(
            environment, actor=Actor.for_user(request.user), request=request
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Environment “{environment.name}” deleted.")
    return redirect("environments", space_slug=request.space.slug)
