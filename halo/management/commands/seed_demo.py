"""``manage.py seed_demo``: load the demo workspace "Acme" and print how to log in.

The workspace is created once; then each app's seeder runs, lower layers first. An app adds its demo
data with a function ``seed(workspace)`` in its ``demo`` module, listed in ``SEEDERS`` (idempotent: running
it again changes nothing that is already there). ``--if-empty`` skips the seeders when the demo already
exists, which is what ``make run`` uses so a restart never touches data changed by hand. This command is
a composition root: it may import every app.
"""

from argparse import ArgumentParser
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from agents import demo as agents_demo
from escalation import demo as escalation_demo
from halo import demo as halo_demo
from halo.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD, DEMO_TEAMMATES, demo_workspace_get_or_create
from halo.models import Workspace
from inbox import demo as inbox_demo

SEEDERS: list[tuple[str, Callable[[Workspace], None]]] = [
    ("people", halo_demo.seed),
    ("agent and help center", agents_demo.seed),
    ("team inboxes", inbox_demo.seed),
    ("conversations and tickets", escalation_demo.seed),
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
            for what, seed in SEEDERS:
                self.stdout.write(f"Seeding {what} ...")
                seed(workspace)
        self.stdout.write(self.style.SUCCESS(f"Demo workspace: {workspace.name} (app_id {workspace.app_id})"))
        self.stdout.write(f"Log in at {settings.SITE_URL}/accounts/login/ as {DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD}")
        teammates = ", ".join(email for email, _ in DEMO_TEAMMATES)
        self.stdout.write(f"Teammates (same password): {teammates}")
        if raw_api_key is not None:
            self.stdout.write(f"Server API key (shown once): {raw_api_key}")
