"""Deleting a customer or a Space deletes its secrets, in the deleting transaction.

Connected to `apps.spaces.signals.customer_deleting` / `space_deleting` (secrets depend on
spaces, not the reverse). The names removed go into the deletion's audit row; values never do.
"""

from __future__ import annotations

from django.dispatch import receiver

from apps.secrets.models import Secret
from apps.spaces.models import Customer, Space
from apps.spaces.signals import customer_deleting, space_deleting


def secrets_delete(secrets) -> list[str]:
    names = sorted(secrets.values_list("name", flat=True))
    secrets.delete()
    return names


@receiver(customer_deleting, dispatch_uid="secrets.customer_deleting")
def customer_secrets_delete(sender, *, customer: Customer, **kwargs) -> dict:
    return {"secrets": secrets_delete(Secret.objects.filter(customer=customer))}


@receiver(space_deleting, dispatch_uid="secrets.space_deleting")
def space_secrets_delete(sender, *, space: Space, **kwargs) -> dict:
    # Every customer's and the Space's own.
    return {"secrets": secrets_delete(Secret.objects.filter(space=space))}
