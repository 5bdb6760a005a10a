"""``manage.py create_workspace NAME --admin-email E --admin-password P``: provision a workspace, print JSON.

The JSON holds what the workspace's developers need once: ``workspace_id``, ``app_id`` (the widget's
public id), ``api_key`` (shown only here: only its hash is stored) and ``identity_secret`` (signs
``user_hash``). Apps that provision something for every new workspace add it to ``PROVISIONERS``; the ids
they return are added to the JSON (the agents app returns ``agent_id``). This command is a composition
root: it may import every app.
"""

import json
import sys
from argparse import ArgumentParser
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from agents.services import agent_provision
from halo.services import workspace_create

# Each provisioner runs in the same transaction as the workspace and returns ids for the JSON; the agents
# app adds the workspace's default agent (``{"agent_id": ...}``).
PROVISIONERS: list[Callable[..., dict[str, object]]] = [agent_provision]


class Command(BaseCommand):
    help = "Create a workspace with its admin login and first API key; prints JSON with the ids and secrets."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument(
            "--admin-password",
            help="The admin's password (ignored if the login already exists). Omit it to be prompted.",
        )
        parser.add_argument("--slug", help="URL-safe short name; derived from NAME if omitted.")
        parser.add_argument("--timezone", default="UTC")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["admin_password"]
        if password is None and sys.stdin.isatty():
            from getpass import getpass

            password = getpass("Admin password: ")
        try:
            with transaction.atomic():
                created = workspace_create(
                    name=options["name"],
                    admin_email=options["admin_email"],
                    admin_password=password,
                    slug=options["slug"],
                    timezone_name=options["timezone"],
                )
                extra: dict[str, object] = {}
                for provision in PROVISIONERS:
                    extra.update(provision(workspace=created.workspace))
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                messages = "; ".join(f"{field}: {' '.join(errors)}" for field, errors in error.message_dict.items())
            else:
                messages = " ".join(error.messages)
            raise CommandError(messages) from None
        workspace = created.workspace
        output = {
            "workspace_id": workspace.pk,
            "slug": workspace.slug,
            "app_id": workspace.app_id,
            "api_key": created.raw_api_key,
            "identity_secret": workspace.identity_secret,
            **extra,
        }
        self.stdout.write(json.dumps(output, indent=2))
