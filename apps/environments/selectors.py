from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from apps.environments.models import BUILTIN, Environment
from apps.spaces.models import Space


def ensure_builtin_environments(space: Space) -> None:
    """`test` and `live` exist in every Space. They are made on first use rather than by
    space_create, so that the spaces app does not depend on this one."""
    existing = set(
        Environment.objects.filter(space=space, builtin=True).values_list("slug", flat=True)
    )
    for slug, name in BUILTIN.items():
        if slug not in existing:
            try:
                with transaction.atomic():
                    Environment.objects.create(space=space, slug=slug, name=name, builtin=True)
            except IntegrityError:  # created concurrently: fine
                pass


def space_environments(space: Space) -> QuerySet[Environment]:
    ensure_builtin_environments(space)
    return Environment.objects.filter(space=space)


def environment_by_slug(space: Space, slug: str) -> Environment | None:
    ensure_builtin_environments(space)
    return Environment.objects.filter(space=space, slug=slug).first()
