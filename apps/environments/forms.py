from __future__ import annotations

from django import forms


class EnvironmentForm(forms.Form):
    name = forms.CharField(max_length=60, required=False)
    slug = forms.CharField(
        max_length=40,
        required=False,
        help_text="Used in the stage / x-fastn-env header. Leave blank to derive it from the name.",
    )


class RenameEnvironmentForm(forms.Form):
    name = forms.CharField(max_length=60, required=False)
