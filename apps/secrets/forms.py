from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from apps.secrets.models import NAME_MAX_LENGTH, SecretType, name_validator
from apps.secrets.services import MAX_VALUE_CHARS, validate_value
from apps.spaces.models import Customer


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value: a form shown again after a validation error
    must not echo the secret back into the page."""

    def format_value(self, value):
        return None


def value_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,  # the value is kept exactly as typed
        max_length=MAX_VALUE_CHARS,
        widget=WriteOnlyTextarea(
            attrs={"rows": 4, "class": "mono", "autocomplete": "off", "spellcheck": "false"}
        ),
        help_text="Stored encrypted. It is never shown again, not even to you.",
    )


class SecretCreateForm(forms.Form):
    name = forms.CharField(
        max_length=NAME_MAX_LENGTH,
        validators=[name_validator],
        widget=forms.TextInput(attrs={"class": "mono", "autocomplete": "off"}),
        help_text='UPPER_SNAKE_CASE. Workflows read it with fastn.secrets.get("NAME").',
    )
    type = forms.ChoiceField(
        choices=SecretType.choices,
        initial=SecretType.TEXT,
        widget=forms.RadioSelect,
        help_text="A JSON secret must be valid JSON; workflows receive it parsed.",
    )
    customer = forms.ModelChoiceField(
        label="Scope",
        queryset=Customer.objects.none(),
        required=False,
        empty_label="Space-wide (every customer without its own)",
        help_text="A customer's own secret wins over the Space-wide one of the same name.",
    )
    value = value_field("Value")

    def __init__(self, space, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this Space's customers: another Space's id is "not one of the available choices".
        self.fields["customer"].queryset = Customer.objects.filter(space=space)

    def clean(self):
        # Check the value now, so that one round trip reports every problem at once: the value
        # has to be typed again after any error.
        data = super().clean()
        if "type" in data and "value" in data:
            try:
                validate_value(data["type"], data["value"])
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


class SecretRotateForm(forms.Form):
    value = value_field("New value")
