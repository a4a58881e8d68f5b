"""Forms parse what the browser sends; the rules themselves live in `services.workflow_validate`
(shared with the importer and the API), whose errors views attach to these fields."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.workflows.config_diff import CONFIG_FIELDS
from apps.workflows.models import MAX_CODE_BYTES, Tier
from apps.workflows.services import WorkflowFields, code_size_error, release_note_error

TABLE_PAGE_SIZE = 25


class WorkflowForm(forms.Form):
    """The editor's Configuration panel plus the code. The code arrives as a file part (the
    editor sends Monaco's content as a Blob, byte for byte, and outside the form-field size
    limit) or as a plain field (tests, scripts)."""

    name = forms.CharField(required=False, strip=False)
    slug = forms.CharField(required=False)
    description = forms.CharField(required=False, widget=forms.Textarea)
    tier = forms.ChoiceField(choices=Tier.choices)
    timeout_seconds = forms.IntegerField(error_messages={"invalid": "Enter whole seconds."})
    enabled = forms.BooleanField(required=False)
    retry_enabled = forms.BooleanField(required=False)
    retry_max_attempts = forms.IntegerField()
    retry_initial_interval_ms = forms.IntegerField()
    retry_backoff_coefficient = forms.FloatField()
    retry_max_interval_ms = forms.IntegerField()
    code = forms.CharField(required=False, strip=False)
    draft_revision = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # Publish only: the note frozen with the new version (the Publish dialog's textarea).
    release_note = forms.CharField(required=False)

    def clean_code(self) -> str:
        upload = self.files.get("code")
        if upload is None:
            return self.cleaned_data.get("code") or ""
        if upload.size > MAX_CODE_BYTES:
            raise forms.ValidationError(
                f"The code is {upload.size:,} bytes; the limit is {MAX_CODE_BYTES:,} bytes (1 MB)."
            )
        code = uploaded_text(upload)
        problem = code_size_error(code)
        if problem:
            raise forms.ValidationError(problem)
        return code

    def clean_release_note(self) -> str:
        note = self.cleaned_data.get("release_note") or ""
        problem = release_note_error(note)
        if problem:
            raise forms.ValidationError(problem)
        return note

    def workflow_fields(self) -> WorkflowFields:
        data = dict(self.cleaned_data)
        data.pop("draft_revision", None)
        data.pop("release_note", None)
        return data  # type: ignore[return-value]


def draft_config(data) -> dict[str, Any]:
    """The Configuration panel's values as the Compare dialog sends them, keyed like
    `config_diff.flat_config`: cleaned where valid, as typed where not (the dialog shows
    what is in the panel, half-typed or not)."""
    form = WorkflowForm(data)
    form.is_valid()
    values: dict[str, Any] = {}
    for name in CONFIG_FIELDS:
        value = form.cleaned_data[name] if name in form.cleaned_data else data.get(name, "")
        values[name] = value.strip() if isinstance(value, str) else value
    return values


def uploaded_text(upload) -> str:
    """The code sent as a file part. A plain field is checked by Django (no NUL); a file part
    is not, and PostgreSQL refuses NUL in text."""
    try:
        code = upload.read().decode("utf-8")
    except UnicodeDecodeError:
        raise forms.ValidationError("The code must be UTF-8 text.") from None
    if "\x00" in code:
        raise forms.ValidationError("The code must not contain NUL characters.")
    return code


class TableFilterForm(forms.Form):
    tier = forms.ChoiceField(required=False, choices=[("", "All"), *Tier.choices])
    q = forms.CharField(required=False, max_length=120)
