"""Shared plumbing of the B2, B5 and B6 benchmarks: a PostgreSQL database of their own, the Redis db they
may flush, percentiles and the Markdown table every benchmark prints. Free loopback ports, waiting for a
server and a subprocess that is always stopped are the test suite's (``tests.support.processes``), which
this module puts on the path and hands on as ``harness.free_port``, ``port_open``, ``process_running`` and
``wait_until``.

Each benchmark owns a database named ``halo_bench_*`` on the server ``BENCH_PG`` (default
``postgres://postgres@127.0.0.1:5432``), created and migrated when missing, and Redis db 6 on
``BENCH_REDIS`` (default ``redis://127.0.0.1:6379/6``), which it flushes before it starts. Only loopback
addresses are ever used.
"""

import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.processes import ROOT, free_port, port_open, process_running, wait_until

__all__ = ["ROOT", "free_port", "port_open", "process_running", "wait_until"]

PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/6")


def database_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


def setup_django(database: str, *, redis: bool = False, migrate: bool = True) -> dict[str, str]:
    """Point this process at ``database`` (created if missing), optionally at the bench Redis db, set
    Django up and migrate. Returns the environment a server or worker subprocess should get."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            connection.execute(f'CREATE DATABASE "{database}"')
    os.environ["DATABASE_URL"] = database_url(database)
    os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("BENCH_SETTINGS", "halo.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if redis:
        os.environ["REDIS_URL"] = REDIS_URL
    else:
        os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def workspace_with_conversations(*, slug: str, conversations: int, body: str, **workspace_fields: Any) -> Any:
    """A fresh workspace ``slug`` (an old one is deleted) with an agent and ``conversations`` conversations of
    as many new contacts, each holding one user message ``body``: ready to be handed off."""
    from agents.models import Conversation, Message, hash_conversation_token
    from agents.services import agent_create
    from escalation.services import escalation_settings_ensure
    from halo.models import Contact, Workspace

    Workspace.objects.filter(slug=slug).delete()
    workspace = Workspace.objects.create(name=slug, slug=slug, allowed_origins=[], **workspace_fields)
    agent = agent_create(workspace=workspace, name="Bench")
    escalation_settings_ensure(agent=agent)
    contacts = Contact.objects.bulk_create(
        [
            Contact(workspace=workspace, user_id=f"{slug}-{n}", name=f"Customer {n}", email=f"c{n}@example.com")
            for n in range(conversations)
        ]
    )
    made = Conversation.objects.bulk_create(
        [
            Conversation(
                workspace=workspace, agent=agent, contact=contact, token_hash=hash_conversation_token(f"{slug}-{n}")
            )
            for n, contact in enumerate(contacts)
        ]
    )
    Message.objects.bulk_create([Message(conversation=made_one, author="user", body=body) for made_one in made])
    return workspace


def redis_flush() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (inclusive method); the single value of a one-sample list."""
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def machine_load() -> str:
    """The load average beside the core count: a shared machine's figures are read against it."""
    one, five, _ = os.getloadavg()
    return f"machine: {os.cpu_count()} cores, load average {one:.1f} (1 min), {five:.1f} (5 min)"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
