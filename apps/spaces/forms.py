from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator

from apps.spaces.audit import Actor, audit_record
from apps.spaces.models import ApiKeyMode, Customer, Role
from apps.spaces.services import space_create
from apps.spaces.timezones import time_zone_choices

INVITABLE_ROLES = [(r.value, r.label) for r in Role if r != Role.OWNER]


class SignupSpaceForm(forms.Form):
    """Extra field on allauth's sign-up form: signing up creates the user's first Space —
    unless they sign up to accept an invitation (`invitation`, from the sign-up view), which
    is joining someone else's Space."""

    space_name = forms.CharField(
        label="Workspace name",
        max_length=80,
        required=False,
        help_text="You can rename it or create more Spaces later.",
    )

    def __init__(self, *args, invitation=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.invitation = invitation
        if invitation is not None:
            del self.fields["space_name"]

    def clean(self):
        cleaned_data = super().clean()
        email = cleaned_data.get("email") or ""
        if self.invitation is not None and email.lower() != self.invitation.email.lower():
            self.add_error(
                "email",
                f"This invitation is for {self.invitation.email}: sign up with that address "
                "to accept it.",
            )
        return cleaned_data

    def signup(self, request, user) -> None:
        if self.invitation is not None:
            return  # they accept it on the invitation page, where `next` leads
        name = self.cleaned_data.get("space_name") or f"{user.email.split('@')[0]}'s Space"
        actor = Actor.for_user(user)
        space = space_create(name, owner=user, actor=actor, request=request)
        audit_record(
            space=space,
            actor=actor,
            action="auth.signup",
            resource=user,
            resource_label=user.email,
            request=request,
        )
        request.session["space_slug"] = space.slug


class SpaceForm(forms.Form):
    name = forms.CharField(max_length=80)


class SpaceSettingsForm(forms.Form):
    """Settings → General."""

    name = forms.CharField(max_length=80)
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=time_zone_choices,
        help_text="New schedules start in this zone; each schedule can choose its own.",
    )


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=INVITABLE_ROLES, initial=Role.DEVELOPER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=INVITABLE_ROLES)


class TransferOwnershipForm(forms.Form):
    confirm = forms.BooleanField(
        required=True, label="I understand I will become an Admin of this Space."
    )


external_id_validator = RegexValidator(
    r"^[A-Za-z0-9._:@-]+$",
    "Use letters, digits and . _ : @ - only (it travels in an HTTP header).",
)


class CustomerForm(forms.ModelForm):
    external_id = forms.CharField(
        max_length=120,
        validators=[external_id_validator],
        help_text="The value API callers send in x-fastn-space-tenantid.",
    )

    class Meta:
        model = Customer
        fields = ["name", "external_id"]


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=80)
    mode = forms.ChoiceField(
        choices=ApiKeyMode.choices,
        initial=ApiKeyMode.TEST,
        widget=forms.RadioSelect,
        help_text="A test key reaches only DRAFT and the test environment.",
    )


TIME_RANGES = {"1h": 1, "24h": 24, "7d": 24 * 7, "30d": 24 * 30}


class AuditFilterForm(forms.Form):
    user = forms.CharField(required=False, max_length=254)
    action = forms.CharField(required=False, max_length=64)
    range = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any time"),
            ("1h", "Last hour"),
            ("24h", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("30d", "Last 30 days"),
        ],
    )
