"""Settings → Configs. Every member may read them (they are not secret); Owner and Admin
change them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.configs import services
from apps.configs.forms import ConfigForm
from apps.configs.selectors import config_table, get_config_for_member
from apps.environments.selectors import space_environments
from apps.spaces.access import require
from apps.spaces.audit import Actor
from apps.spaces.models import Capability


@require(Capability.VIEW)
def config_list(request):
    environments, rows = config_table(request.space)
    return render(request, "configs/configs.html", {"environments": environments, "rows": rows})


@require(Capability.MANAGE_SPACE)
def config_create(request):
    form = ConfigForm(space_environments(request.space), request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            config = services.config_create(
                request.space,
                key=form.cleaned_data["key"],
                description=form.cleaned_data["description"],
                values=form.env_values(),
                actor=Actor.for_user(request.user),
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Config {config.key} created.")
            return redirect("configs", space_slug=request.space.slug)
    return render(request, "configs/config_form.html", {"form": form})


@require(Capability.MANAGE_SPACE)
def config_edit(request, config_id):
    config = get_config_for_member(request, config_id)
    form = ConfigForm(space_environments(request.space), request.POST or None, config=config)
    if request.method == "POST" and form.is_valid():
        try:
            services.config_update(
                config,
                description=form.cleaned_data["description"],
                values=form.env_values(),
                actor=Actor.for_user(request.user),
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Config {config.key} saved.")
            return redirect("configs", space_slug=request.space.slug)
    return render(request, "configs/config_form.html", {"form": form, "config": config})


@require_POST
@require(Capability.MANAGE_SPACE)
def config_delete(request, config_id):
    config = get_config_for_member(request, config_id)
    services.config_delete(config, actor=Actor.for_user(request.user), request=request)
    messages.success(request, f"Config {config.key} deleted.")
    return redirect("configs", space_slug=request.space.slug)
