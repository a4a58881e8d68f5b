"""The generated reference of a workflow, kept with the hash of the code it describes, so the
Docs view can say when the code changed since."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.spaces.models import Space
from apps.workflows.models import Workflow


class GeneratedDoc(models.Model):
    """The last generated docs of one workflow (generating again replaces them)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="+")
    workflow = models.OneToOneField(
        Workflow, on_delete=models.CASCADE, related_name="generated_doc"
    )
    code_hash = models.CharField(max_length=64)  # sha256 hex of the code described
    source_label = models.CharField(max_length=40)  # "draft", "unsaved edits" or "v3"
    content = models.JSONField()  # apps/insight/docs.py `docs_content`
    markdown = models.TextField()
    generated_at = models.DateTimeField(default=timezone.now)
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"docs of {self.workflow_id} ({self.code_hash[:12]})"
