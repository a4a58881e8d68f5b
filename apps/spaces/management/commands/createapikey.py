from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.spaces.audit import Actor
from apps.spaces.models import ApiKeyMode, Space
from apps.spaces.services import apikey_create


class Command(BaseCommand):
    help = "Create an API key and print it once (and nothing else) on stdout."

    def add_arguments(self, parser):
        parser.add_argument("--space", required=True, help="Space slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--live", action="store_true", help="a live key (default: test)")

    def handle(self, space, name, live, **options):
        target = Space.objects.filter(slug=space).first()
        if target is None:
            raise CommandError(f"No Space with the slug {space!r}.")
        mode = ApiKeyMode.LIVE if live else ApiKeyMode.TEST
        try:
            _, raw = apikey_create(
                target, name=name, mode=mode, actor=Actor.system("manage.py createapikey")
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(raw)
