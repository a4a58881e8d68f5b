"""Settings → Secrets. Owner and Admin only: even listing names is managing secrets.

No view ever decrypts: pages show names and dates; values only go in."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.secrets import services
from apps.secrets.errors import SecretError
from apps.secrets.forms import SecretCreateForm, SecretRotateForm
from apps.secrets.selectors import get_secret_for_member, space_secrets
from apps.spaces.access import require
from apps.spaces.audit import Actor
from apps.spaces.models import Capability


def no_store(response):
    # These pages receive secret values: keep them (and their form posts) out of every cache.
    response["Cache-Control"] = "no-store"
    return response


@require(Capability.MANAGE_SPACE)
def secret_list(request):
    return render(request, "secrets/secrets.html", {"secrets": space_secrets(request.space)})


@require(Capability.MANAGE_SPACE)
def secret_create(request):
    form = SecretCreateForm(request.space, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            secret = services.secret_create(
                request.space,
                name=form.cleaned_data["name"],
                type=form.cleaned_data["type"],
                value=form.cleaned_data["value"],
                customer=form.cleaned_data["customer"],
                actor=Actor.for_user(request.user),
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except SecretError as exc:
            form.add_error(None, f"The secret could not be encrypted: {exc}")
        else:
            messages.success(request, f"Secret {secret.name} saved. Its value is not shown again.")
            return redirect("secrets", space_slug=request.space.slug)
    return no_store(render(request, "secrets/secret_form.html", {"form": form}))


@require(Capability.MANAGE_SPACE)
def secret_rotate(request, secret_id):
    secret = get_secret_for_member(request, secret_id)
    form = SecretRotateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.secret_rotate(
                secret,
                value=form.cleaned_data["value"],
                actor=Actor.for_user(request.user),
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except SecretError as exc:
            form.add_error(None, f"The secret could not be encrypted: {exc}")
        else:
            messages.success(request, f"Secret {secret.name} rotated. Runs now read the new value.")
            return redirect("secrets", space_slug=request.space.slug)
    return no_store(render(request, "secrets/secret_rotate.html", {"form": form, "secret": secret}))


@require_POST
@require(Capability.MANAGE_SPACE)
def secret_delete(request, secret_id):
    secret = get_secret_for_member(request, secret_id)
    services.secret_delete(secret, actor=Actor.for_user(request.user), request=request)
    messages.success(request, f"Secret {secret.name} deleted.")
    return redirect("secrets", space_slug=request.space.slug)
