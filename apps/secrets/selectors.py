from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from apps.secrets.models import Secret
from apps.spaces.models import Space


def space_secrets(space: Space) -> QuerySet[Secret]:
    """For listing: the encrypted value stays in the database."""
    return (
        Secret.objects.filter(space=space)
        .select_related("customer", "created_by")
        .defer("ciphertext", "nonce")
        .order_by("name", "customer__name")
    )


def get_secret_for_member(request, secret_id) -> Secret:
    """A secret of the current Space, or 404: another Space's id looks like a missing one."""
    return get_object_or_404(
        Secret.objects.select_related("space", "customer"), space=request.space, id=secret_id
    )
