from django.core.management.base import BaseCommand, CommandError

from apps.spaces.audit import Actor
from apps.spaces.models import Space
from apps.spaces.services import space_delete


class Command(BaseCommand):
    help = (
        "Delete a Space for good: its workflows, executions, customers, secrets, fastn.state "
        "and every fastn.db database (the Space's own and each customer's). The audit log stays."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--yes", action="store_true", help="confirm (required)")

    def handle(self, slug, yes, **options):
        space = Space.objects.filter(slug=slug).first()
        if space is None:
            raise CommandError(f"No Space with the slug {slug}.")
        if not yes:
            raise CommandError(
                f"This deletes the Space “{space.name}” and all its data for good. "
                "Run again with --yes to confirm."
            )
        space_delete(space, actor=Actor.system("manage.py deletespace"))
        self.stdout.write(f"Deleted the Space {slug}.")
