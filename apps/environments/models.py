"""Environments: the built-in `test` and `live` of every Space, plus named ones (e.g. staging).

`test` always serves the latest published version of a workflow; `live` and named environments
serve the version explicitly deployed to them (Deployment, in the workflows app)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from apps.spaces.models import Space

TEST = "test"
LIVE = "live"
# The stage that runs a workflow's unpublished draft (`stage: DRAFT` in the API, any case);
# also the `environment` recorded on a draft run. Not an Environment row.
DRAFT = "DRAFT"
BUILTIN = {TEST: "Test", LIVE: "Live"}
# Names the API reserves: `stage: DRAFT` runs the unpublished draft.
RESERVED_SLUGS = {TEST, LIVE, DRAFT.lower()}


class Environment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=60)
    slug = models.SlugField(max_length=40)
    builtin = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-builtin", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["space", "slug"], name="environment_unique_slug")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_test(self) -> bool:
        return self.slug == TEST

    @property
    def is_live(self) -> bool:
        return self.slug == LIVE
