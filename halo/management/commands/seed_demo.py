"""``manage.py seed_demo``: load the demo workspace "Acme" and print how to log in.

The workspace is created once; then each app's seeder runs. An app adds its demo data by appending
``"<app>.demo.seed"`` to ``SEEDERS`` (a function ``seed(workspace)`` that is idempotent: running it again
changes nothing that is already there). ``--if-empty`` skips the seeders when the demo already exists,
which is what ``make run`` uses so a restart never touches data changed by hand.
"""

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from halo.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, DEMO_TEAMMATES, demo_workspace_get_or_create

# Each entry: the dotted path of ``seed(workspace: Workspace) -> None``, called in this order.
SEEDERS = [
    "halo.demo.seed",
    "agents.demo.seed",
    "inbox.demo.seed",
]


class Command(BaseCommand):
    help = "Load the demo workspace Acme (teammates, companies, contacts, and each app's demo data)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing but print the login if the demo already exists."
        )

    def handle(self, *args: Any, if_empty: bool, **options: Any) -> None:
        workspace, raw_api_key = demo_workspace_get_or_create()
        if raw_api_key is None and if_empty:
            self.stdout.write("Demo workspace Acme already exists; not re-seeding (--if-empty).")
        else:
            for path in SEEDERS:
                self.stdout.write(f"Seeding {path} ...")
                import_string(path)(workspace)
        self.stdout.write(self.style.SUCCESS(f"Demo workspace: {workspace.name} (app_id {workspace.app_id})"))
        self.stdout.write(f"Log in at {settings.SITE_URL}/accounts/login/ as {DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD}")
        teammates = ", ".join(email for email, _ in DEMO_TEAMMATES)
        self.stdout.write(f"Teammates (same password): {teammates}")
        if raw_api_key is not None:
            self.stdout.write(f"Server API key (shown once): {raw_api_key}")
