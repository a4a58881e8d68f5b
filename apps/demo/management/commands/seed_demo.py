"""Idempotent demo data for `make run`: a demo user, its Space and sample workflows."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.demo.samples import seed_sample_workflows
from apps.spaces.audit import Actor
from apps.spaces.models import Space
from apps.spaces.services import space_create, user_create

DEMO_EMAIL = "demo@fastn.local"
DEMO_PASSWORD = "fastn-demo-2026"  # noqa: S105  printed by `make run`; embedded mode only
DEMO_SPACE = "Demo Space"


class Command(BaseCommand):
    help = "Create the demo user and Space if they do not exist yet."

    @transaction.atomic
    def handle(self, **options):
        User = get_user_model()
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if user is None:
            user = user_create(DEMO_EMAIL, DEMO_PASSWORD)
        space = Space.objects.filter(memberships__user=user, name=DEMO_SPACE).first()
        if space is None:
            space = space_create(DEMO_SPACE, owner=user, actor=Actor.system("make run"))
        made = seed_sample_workflows(space, actor=Actor.system("make run"), user=user)
        if made:
            self.stdout.write(f"sample workflows: {', '.join(made)}")
        self.stdout.write(f"demo space: {space.slug}")
