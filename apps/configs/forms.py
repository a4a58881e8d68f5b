from __future__ import annotations

from django import forms

from apps.configs.models import KEY_MAX_LENGTH, ConfigKey, key_validator
from apps.configs.services import MAX_VALUE_CHARS

ENV_PREFIX = "env_"


class ConfigForm(forms.Form):
    """Key (on create only: workflows refer to it), description, and a value per environment."""

    key = forms.CharField(
        max_length=KEY_MAX_LENGTH,
        validators=[key_validator],
        widget=forms.TextInput(attrs={"class": "mono", "autocomplete": "off"}),
        help_text='Workflows read it with fastn.envConfig.get("key").',
    )
    description = forms.CharField(max_length=200, required=False)

    def __init__(self, environments, *args, config: ConfigKey | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.environments = list(environments)
        current = {}
        if config is not None:
            del self.fields["key"]
            self.fields["description"].initial = config.description
            current = {v.environment_id: v.value for v in config.values.all()}
        for env in self.environments:
            self.fields[ENV_PREFIX + env.slug] = forms.CharField(
                label=f"Value in {env.name}",
                required=False,
                max_length=MAX_VALUE_CHARS,
                initial=current.get(env.id, ""),
                widget=forms.TextInput(attrs={"class": "mono", "autocomplete": "off"}),
                help_text="Blank: not set in this environment.",
            )

    def env_values(self) -> dict[str, str]:
        return {env.slug: self.cleaned_data[ENV_PREFIX + env.slug] for env in self.environments}
