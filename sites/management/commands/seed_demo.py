"""Load the demo organisation (sites.demo) and print the demo accounts."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sites.demo import DEMO_PASSWORD, demo_load


class Command(BaseCommand):
    help = (
        "Create or update the synthetic demo organisation (Breton GHTs, CH Cayenne), its accounts "
        "and a few exams. Idempotent. Refuses to run with DEBUG off unless --force."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (a demo server). The accounts have a published password.",
        )

    def handle(self, *args, force: bool = False, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts whose password is published in README.md, so it runs only "
                "with DEBUG=True. On a demo server that runs with DEBUG off, pass --force."
            )
        result = demo_load()
        counts = ", ".join(f"{kind}: {n}" for kind, n in result.counts.items())
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {counts}."))
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        width = max(len(a.username) for a in result.accounts)
        for account in result.accounts:
            self.stdout.write(f"  {account.username:<{width}}  {account.role} — {account.where}")
