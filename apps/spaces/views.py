from __future__ import annotations

import csv
from urllib.parse import urlsplit

from allauth.account.views import SignupView as AllauthSignupView
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.views.decorators.http import require_POST

from apps.spaces import services
from apps.spaces.access import (
    get_apikey_for_member,
    get_customer_for_member,
    get_invitation_for_member,
    get_membership_for_member,
    require,
)
from apps.spaces.audit import actor
from apps.spaces.forms import (
    ApiKeyForm,
    AuditFilterForm,
    CustomerForm,
    InviteForm,
    RoleForm,
    SpaceForm,
    SpaceSettingsForm,
    TransferOwnershipForm,
)
from apps.spaces.models import (
    ROLE_DESCRIPTIONS,
    ApiKey,
    Capability,
    Customer,
    Invitation,
    Membership,
    Role,
)
from apps.spaces.selectors import audit_events, space_people


def space_url(request, name: str, **kwargs) -> str:
    return reverse(name, kwargs={"space_slug": request.space.slug, **kwargs})


# --- Spaces ---------------------------------------------------------------------------------


@login_required
def home_redirect(request):
    memberships = Membership.objects.filter(user=request.user).select_related("space")
    preferred = request.session.get("space_slug")
    membership = next((m for m in memberships if m.space.slug == preferred), None)
    membership = membership or memberships.first()
    if membership is None:
        return redirect("space_create")
    return redirect("space_home", space_slug=membership.space.slug)


@login_required
def space_create(request):
    form = SpaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        space = services.space_create(
            form.cleaned_data["name"], owner=request.user, actor=actor(request), request=request
        )
        messages.success(request, f"Space “{space.name}” created.")
        return redirect("space_home", space_slug=space.slug)
    return render(request, "spaces/space_create.html", {"form": form})


@require(Capability.MANAGE_SPACE)
def space_settings(request):
    """Settings → General: the Space's name and time zone."""
    space = request.space
    initial = {"name": space.name, "time_zone": space.time_zone}
    form = SpaceSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.space_update(space, **form.cleaned_data, actor=actor(request), request=request)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect(space_url(request, "space_settings"))
    return render(request, "spaces/settings.html", {"form": form})


# --- People ---------------------------------------------------------------------------------


@require(Capability.VIEW)
def people(request):
    members, invitations = space_people(request.space)
    return render(
        request,
        "spaces/people.html",
        {
            "members": members,
            "invitations": invitations,
            "invite_form": InviteForm(),
            "roles": [(r.value, r.label, ROLE_DESCRIPTIONS[r]) for r in Role],
            "invitable_roles": [r for r in Role if r != Role.OWNER],
        },
    )


@require(Capability.MANAGE_SPACE)
def people_invite(request):
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, token = services.invitation_create(
                request.space,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
                actor=actor(request),
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            link = request.build_absolute_uri(reverse("invitation_accept", args=[token]))
            return render(
                request, "spaces/invite_sent.html", {"invitation": invitation, "link": link}
            )
    return render(request, "spaces/invite.html", {"form": form})


@require_POST
@require(Capability.MANAGE_SPACE)
def people_change_role(request, membership_id):
    membership = get_membership_for_member(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect(space_url(request, "people"))
    try:
        services.membership_change_role(
            membership, role=form.cleaned_data["role"], actor=actor(request), request=request
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        role = membership.get_role_display()
        messages.success(request, f"{membership.user.email} is now {role}.")
    return redirect(space_url(request, "people"))


@require_POST
@require(Capability.MANAGE_SPACE)
def people_remove(request, membership_id):
    membership = get_membership_for_member(request, membership_id)
    try:
        services.membership_remove(membership, actor=actor(request), request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user.email} was removed from the Space.")
    return redirect(space_url(request, "people"))


@require(Capability.TRANSFER_OWNERSHIP)
def people_transfer(request, membership_id):
    membership = get_membership_for_member(request, membership_id)
    form = TransferOwnershipForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.ownership_transfer(
                request.space, to=membership, actor=actor(request), request=request
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{membership.user.email} is now the Owner.")
            return redirect(space_url(request, "people"))
    return render(request, "spaces/transfer.html", {"form": form, "target": membership})


@require_POST
@require(Capability.MANAGE_SPACE)
def invitation_revoke(request, invitation_id):
    invitation = get_invitation_for_member(request, invitation_id)
    try:
        services.invitation_revoke(invitation, actor=actor(request), request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Invitation for {invitation.email} revoked.")
    return redirect(space_url(request, "people"))


def invitation_in_next(request) -> Invitation | None:
    """The pending invitation whose page `next` leads back to (the invitation page's "Sign up"
    link carries it), else None."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    try:
        match = resolve(urlsplit(target).path)
    except Resolver404:
        return None
    if match.url_name != "invitation_accept":
        return None
    invitation = services.invitation_for_token(match.kwargs["token"])
    return invitation if invitation is not None and invitation.is_pending else None


class SignupView(AllauthSignupView):
    """allauth's sign-up, aware of an invitation: someone joining an existing Space is not
    asked to name a Space of their own, and does not get one."""

    def dispatch(self, request, *args, **kwargs):
        self.invitation = invitation_in_next(request)
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "invitation": self.invitation}

    def get_initial(self):
        initial = super().get_initial()
        if self.invitation is not None:
            initial.setdefault("email", self.invitation.email)
        return initial

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "invitation": self.invitation}


signup = SignupView.as_view()


def invitation_accept(request, token):
    invitation = services.invitation_for_token(token)
    if invitation is None:
        return render(
            request,
            "spaces/invitation.html",
            {"problem": "This invitation link is not valid."},
            status=404,
        )
    if not request.user.is_authenticated:
        return render(request, "spaces/invitation.html", {"invitation": invitation, "token": token})
    if request.method == "POST":
        try:
            services.invitation_accept(invitation, user=request.user, request=request)
        except ValidationError as exc:
            return render(
                request,
                "spaces/invitation.html",
                {"invitation": invitation, "problem": " ".join(exc.messages)},
                status=400,
            )
        messages.success(request, f"Welcome to {invitation.space.name}.")
        return redirect("space_home", space_slug=invitation.space.slug)
    return render(request, "spaces/invitation.html", {"invitation": invitation, "token": token})


# --- Customers ------------------------------------------------------------------------------


@require(Capability.VIEW)
def customers(request):
    rows = Customer.objects.filter(space=request.space)
    return render(request, "spaces/customers.html", {"customers": rows, "form": CustomerForm()})


@require(Capability.MANAGE_SPACE)
def customer_create(request):
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(
                request.space, **form.cleaned_data, actor=actor(request), request=request
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Customer “{customer.name}” created.")
            return redirect(space_url(request, "customers"))
    return render(request, "spaces/customer_form.html", {"form": form})


@require(Capability.MANAGE_SPACE)
def customer_edit(request, customer_id):
    customer = get_customer_for_member(request, customer_id)
    form = CustomerForm(request.POST or None, instance=customer)
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_update(
                Customer.objects.get(pk=customer.pk),
                **form.cleaned_data,
                actor=actor(request),
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Customer saved.")
            return redirect(space_url(request, "customers"))
    return render(request, "spaces/customer_form.html", {"form": form, "customer": customer})


@require_POST
@require(Capability.MANAGE_SPACE)
def customer_delete(request, customer_id):
    customer = get_customer_for_member(request, customer_id)
    services.customer_delete(customer, actor=actor(request), request=request)
    messages.success(request, f"Customer “{customer.name}” deleted.")
    return redirect(space_url(request, "customers"))


# --- API keys -------------------------------------------------------------------------------


@require(Capability.MANAGE_SPACE)
def apikeys(request):
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            _, new_key = services.apikey_create(
                request.space,
                name=form.cleaned_data["name"],
                mode=form.cleaned_data["mode"],
                created_by=request.user,
                actor=actor(request),
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = ApiKeyForm()
    keys = ApiKey.objects.filter(space=request.space).select_related("created_by")
    response = render(
        request, "spaces/apikeys.html", {"keys": keys, "form": form, "new_key": new_key}
    )
    if new_key:
        # The full key is in this response only: keep it out of every cache.
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@require(Capability.MANAGE_SPACE)
def apikey_revoke(request, apikey_id):
    api_key = get_apikey_for_member(request, apikey_id)
    try:
        services.apikey_revoke(api_key, actor=actor(request), request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Key “{api_key.name}” revoked. Requests using it now fail.")
    return redirect(space_url(request, "apikeys"))


# --- Audit log ------------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 50


@require(Capability.MANAGE_SPACE)
def audit_log(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    events = audit_events(request.space, **filters)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    if request.htmx:
        return render(request, "spaces/audit_log.html#results", context)
    return render(request, "spaces/audit_log.html", context)


class Echo:
    def write(self, value):
        return value


def csv_cell(value) -> str:
    # A cell starting with = + - @ is a formula to spreadsheet programs: neutralise it.
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require(Capability.MANAGE_SPACE)
def audit_log_csv(request):
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    events = audit_events(request.space, **filters)
    writer = csv.writer(Echo())
    header = ["timestamp", "actor_type", "user", "action", "resource_type", "resource_id",
              "resource", "outcome", "ip_address"]  # fmt: skip

    def rows():
        yield writer.writerow(header)
        for e in events.iterator(chunk_size=2000):
            yield writer.writerow([csv_cell(v) for v in (
                e.created_at.isoformat(), e.actor_type, e.actor_label, e.action,
                e.resource_type, e.resource_id, e.resource_label, e.get_outcome_display(),
                e.ip_address or "",
            )])  # fmt: skip

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="audit-{request.space.slug}.csv"'
    return response
