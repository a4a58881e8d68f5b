from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.spaces.audit import Actor
from apps.spaces.services import space_create


class Command(BaseCommand):
    help = "Create a Space owned by an existing user."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, help="email of an existing user")

    def handle(self, name, owner, **options):
        user = get_user_model().objects.filter(email__iexact=owner).first()
        if user is None:
            raise CommandError(f"No user with the email {owner}.")
        try:
            space = space_create(name, owner=user, actor=Actor.system("manage.py createspace"))
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(space.slug)
