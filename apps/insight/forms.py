"""What the Docs tab's requests carry: the editor's code and the statistics' options."""

from __future__ import annotations

from django import forms

from apps.insight.selectors import DEFAULT_RUNS, RUN_COUNTS, ServedVersion
from apps.workflows.forms import uploaded_text
from apps.workflows.models import MAX_CODE_BYTES


class InsightForm(forms.Form):
    """The code to describe (the editor's, as a file part like the Test tab sends it; the
    saved draft when none is sent) and, for the statistics, the environment and how many of
    its last runs. Options that are not offered fall back to the defaults rather than fail:
    a stale environment in a select is no reason to refuse the picture."""

    code = forms.CharField(required=False, strip=False)
    environment = forms.CharField(required=False, max_length=40)
    runs = forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=[(n, f"last {n:,}") for n in RUN_COUNTS],
        empty_value=DEFAULT_RUNS,
    )

    def clean_code(self) -> str | None:
        upload = self.files.get("code")
        if upload is None:
            return self.data.get("code") if "code" in self.data else None
        if upload.size > MAX_CODE_BYTES:
            raise forms.ValidationError(
                f"The code is {upload.size:,} bytes; the limit is {MAX_CODE_BYTES:,} bytes."
            )
        return uploaded_text(upload)

    def clean_runs(self) -> int:
        return self.cleaned_data.get("runs") or DEFAULT_RUNS

    def served(self, options: list[ServedVersion]) -> ServedVersion | None:
        """The environment asked for when it serves a version, else the default one."""
        wanted = self.cleaned_data.get("environment") if self.is_valid() else ""
        chosen = next((o for o in options if o.slug == wanted and o.number), None)
        return chosen or next((o for o in options if o.number), None)
