"""Writes for environments. Built-in `test` and `live` cannot be renamed or deleted; a named
environment cannot be deleted while workflows are deployed to it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils.text import slugify

from apps.environments.models import RESERVED_SLUGS, Environment
from apps.environments.selectors import ensure_builtin_environments
from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import Space

NAME_MAX = 60
SLUG_MAX = 40


def clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the environment a name."})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"Keep the name to {NAME_MAX} characters."})
    return name


def environment_create(
    space: Space, *, name: str, slug: str = "", actor: Actor, request=None
) -> Environment:
    """Create a named environment. The slug (auto from the name when blank) is what API
    callers send in `stage` / `x-fastn-env`, so it is fixed once created."""
    name = clean_name(name)
    slug = (slug or "").strip() or slugify(name)[:SLUG_MAX].strip("-")
    if not slug or slug != slugify(slug) or "_" in slug:
        raise ValidationError({"slug": "Use lowercase letters, digits and single hyphens."})
    if len(slug) > SLUG_MAX:
        raise ValidationError({"slug": f"Keep the slug to {SLUG_MAX} characters."})
    if slug in RESERVED_SLUGS:
        raise ValidationError({"slug": f"“{slug}” is reserved: test and live are built in."})
    ensure_builtin_environments(space)
    if Environment.objects.filter(space=space, slug=slug).exists():
        raise ValidationError({"slug": f"An environment with the slug “{slug}” already exists."})
    try:
        with transaction.atomic():
            environment = Environment.objects.create(space=space, name=name, slug=slug)
            audit_record(
                space=space,
                actor=actor,
                action="environment.create",
                resource=environment,
                request=request,
                detail={"slug": slug},
            )
    except IntegrityError:
        raise ValidationError(
            {"slug": f"An environment with the slug “{slug}” already exists."}
        ) from None
    return environment


def environment_rename(
    environment: Environment, *, name: str, actor: Actor, request=None
) -> Environment:
    if environment.builtin:
        raise ValidationError("The built-in test and live environments cannot be renamed.")
    name = clean_name(name)
    if name == environment.name:
        return environment
    with transaction.atomic():
        old = environment.name
        environment.name = name
        environment.save(update_fields=["name"])
        audit_record(
            space=environment.space,
            actor=actor,
            action="environment.rename",
            resource=environment,
            request=request,
            detail={"from": old, "to": name},
        )
    return environment


def environment_delete(environment: Environment, *, actor: Actor, request=None) -> None:
    """Delete a named environment. The deployments of workflows to it hold it (their foreign
    key is RESTRICT): the refusal counts them, so this app needs to know nothing else of them."""
    if environment.builtin:
        raise ValidationError("The built-in test and live environments cannot be deleted.")
    try:
        with transaction.atomic():
            audit_record(
                space=environment.space,
                actor=actor,
                action="environment.delete",
                resource=environment,
                request=request,
                detail={"slug": environment.slug},
            )
            environment.delete()
    except ProtectedError as exc:
        raise in_use(environment, len(exc.protected_objects)) from None
    except RestrictedError as exc:
        raise in_use(environment, len(exc.restricted_objects)) from None


def in_use(environment: Environment, count: int) -> ValidationError:
    return ValidationError(
        f"{count} workflow{'s are' if count != 1 else ' is'} deployed to "
        f"{environment.slug}. Remove {'them' if count != 1 else 'it'} from the "
        "environment first."
    )
