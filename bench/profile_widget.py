"""Where a widget request's time goes: per SQL statement and per layer, in process, on the production path.

    .venv/bin/python bench/profile_widget.py                 # --path handoff --requests 300
    .venv/bin/python bench/profile_widget.py --path b1       # the B1 mix (AI answers, escalations, handed off)
    .venv/bin/python bench/profile_widget.py --cpu           # CPU per request only (A/B runs of two checkouts)

Runs the widget API in this process through DRF's test client (the whole middleware and DRF stack, not
gunicorn) on PostgreSQL (database ``halo_bench_profile``, created and migrated when missing; ``DATABASE_URL``
overrides) with ``REDIS_URL`` pointing at a redis-server of its own, so the throttle's cache, the channel
layer's publish and the Celery publish after commit are paid as in production (no worker runs: outbox rows
stay pending). Paths:

- ``handoff`` — a new visitor's first message asking for a human (``POST /api/widget/v1/conversations``):
  contact, conversation, message, handoff, ticket; what ``bench/peer_helpdesk.py`` times as Halo's creation.
- ``b1`` — B1's messages: 8 questions in turn, 5 per conversation, over the 1,000-article help center.

Prints, after a warm-up: each SQL statement of one request (in order, the mean time of each over the
requests, and whether it ran inside the transaction), the commits, and the wall time of the requests split
by layer with pyinstrument (sampling every 0.2 ms): for each sample, the innermost frame of Halo's own code
(``agents``, ``escalation``, ``inbox``, ``halo``, ``segments``; "framework" when none: Django's and DRF's
request handling) beside the library running at that moment (psycopg — mostly waiting for PostgreSQL —,
the Django ORM compiling SQL, DRF, Redis clients, the rest of Django, Halo's own lines; the standard
library counts for the library that called it). Wall time: waiting for PostgreSQL or Redis counts where it
happens.

``--cpu`` prints only the CPU time of this process per request (``time.process_time``: every thread of the
process, so the channel layer's sending thread counts, as it does in a gunicorn worker) and of the
PostgreSQL backend serving its connection (``/proc``; the server must run on this machine), without the
profiler: run it from two checkouts in turn, a few times each, to compare them on a shared machine.
"""

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

ROOT = harness.ROOT
APPS = ("agents", "escalation", "inbox", "halo", "segments")
HANDOFF_TEXT = "I was charged twice for invoice #{n}. I want to talk to a human."
ORIGIN = "https://shop.example"


def library_of(path: str) -> str | None:
    """Which library a frame's file belongs to (the column of the layer table); None for Python's standard
    library, whose time goes to the library that called it (psycopg waits for PostgreSQL in ``selectors``)."""
    if "site-packages" in path:
        package = path.split("site-packages/", 1)[1].split("/", 1)[0]
        if package == "django":
            return "Django ORM" if "/django/db/" in path else "Django (rest)"
        return {
            "rest_framework": "DRF",
            "psycopg": "psycopg (SQL round trips)",
            "psycopg_binary": "psycopg (SQL round trips)",
            "redis": "Redis clients",
            "kombu": "Redis clients",
            "celery": "Redis clients",
            "channels": "Redis clients",
            "channels_redis": "Redis clients",
            "msgpack": "Redis clients",
        }.get(package, package)
    if path.startswith(str(ROOT)):
        return "Halo's own lines"
    return None


def owner_of(path: str) -> str | None:
    """The Halo app a frame's file belongs to, if any (the row of the layer table)."""
    if path.startswith(str(ROOT)) and "site-packages" not in path:
        top = Path(path).relative_to(ROOT).parts[0]
        return top if top in APPS else None
    return None


def layer_times(
    frame: Any,
    owner: str = "framework",
    library: str = "Python stdlib",
    table: dict[tuple[str, str], float] | None = None,
) -> Any:
    """Self time of every frame of a pyinstrument tree, by (innermost Halo app above it, its library — for
    the standard library, the library that called it)."""
    table = table if table is not None else defaultdict(float)
    path = frame.file_path or ""
    owner = owner_of(path) or owner
    library = (library_of(path) if path else None) or library
    table[owner, library] += frame.total_self_time  # with its synthetic "[self]" children's time
    for child in frame.children:
        if not child.is_synthetic:
            layer_times(child, owner, library, table)
    return table


def handoff_requests(client: Any, workspace: Any) -> Callable[[int], Any]:
    def send(n: int) -> Any:
        response = client.post(
            f"/api/widget/v1/conversations?app_id={workspace.app_id}",
            {"app_id": workspace.app_id, "user": {"visitor_id": f"profile-{os.getpid()}-{n}"}, "body": HANDOFF_TEXT},
            format="json",
            HTTP_ORIGIN=ORIGIN,
        )
        assert response.status_code == 201, response.content
        assert response.json()["ticket"], "the message did not hand off"
        return response

    return send


def b1_requests(client: Any) -> Callable[[int], Any]:
    import importlib.util

    from agents.models import Conversation, hash_conversation_token
    from halo.models import Contact

    spec = importlib.util.spec_from_file_location("bench_b1", ROOT / "bench" / "agents_b1.py")
    assert spec is not None
    assert spec.loader is not None
    b1 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(b1)
    workspace, agent = b1.bench_agents.build_help_center(1000)
    from escalation.services import escalation_settings_ensure

    escalation_settings_ensure(agent=agent)
    conversations: list[int] = []

    def send(n: int) -> Any:
        if n % b1.MESSAGES_PER_CONVERSATION == 0:
            contact = Contact.objects.create(workspace=workspace, user_id=f"profile-{os.getpid()}-{n}")
            conversation = Conversation.objects.create(
                workspace=workspace, contact=contact, agent=agent, token_hash=hash_conversation_token(f"p-{n}")
            )
            conversations.append(conversation.pk)
        token = f"p-{n - n % b1.MESSAGES_PER_CONVERSATION}"
        response = client.post(
            f"/api/widget/v1/conversations/{conversations[-1]}/messages",
            {"body": b1.QUESTIONS[n % len(b1.QUESTIONS)]},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == 201, response.content
        return response

    return send


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--path", choices=("handoff", "b1"), default="handoff")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--cpu", action="store_true", help="only this process's CPU time per request, no profiler")
    options = parser.parse_args()

    from pyinstrument import Profiler

    from tests.reliability.processes import RedisServer

    with tempfile.TemporaryDirectory(prefix="halo_profile_redis_") as redis_dir:
        redis = RedisServer(Path(redis_dir))
        redis.start()
        try:
            os.environ["DEBUG"] = "false"
            os.environ["THROTTLE_WIDGET"] = "1000000/s"  # paid, never hit; a second's history (see agents_b1.py)
            database = os.environ.get("DATABASE_URL", "").rsplit("/", 1)[-1] or "halo_bench_profile"
            os.environ.pop("DATABASE_URL", None)
            harness.setup_django(database, redis=redis.url)
            from django.db import connection
            from rest_framework.test import APIClient

            from agents.services import agent_create
            from escalation.services import escalation_settings_ensure
            from halo.models import Workspace

            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
            client = APIClient()
            if options.path == "handoff":
                Workspace.objects.filter(slug="profile").delete()
                workspace = Workspace.objects.create(name="Profile", slug="profile", allowed_origins=[ORIGIN])
                escalation_settings_ensure(agent=agent_create(workspace=workspace, name="Ada"))
                send = handoff_requests(client, workspace)
            else:
                send = b1_requests(client)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
            for n in range(30):  # warm-up: connections, plans, imports
                send(n)
            if options.cpu:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    backend = cursor.fetchone()[0]
                gc.collect()
                cpu, started = time.process_time(), time.perf_counter()
                backend_cpu = harness.cpu_seconds(backend)
                for n in range(1000, 1000 + options.requests):
                    send(n)
                backend_ms = (harness.cpu_seconds(backend) - backend_cpu) * 1000 / options.requests
                cpu_ms = (time.process_time() - cpu) * 1000 / options.requests
                wall_ms = (time.perf_counter() - started) * 1000 / options.requests
                print(
                    f"\n{options.path}: {options.requests} requests in process, {harness.machine_load()}: "
                    f"{cpu_ms:.2f} ms of CPU per request (wall {wall_ms:.2f} ms), "
                    f"its PostgreSQL backend {backend_ms:.2f} ms"
                )
                return 0

            from querycount import recording

            statements: dict[int, list[float]] = defaultdict(list)
            texts: dict[int, tuple[str, bool]] = {}
            counts = []
            for n in range(30, 30 + min(options.requests, 100)):
                with recording() as recorded:
                    send(n)
                for index, statement in enumerate(recorded.statements):
                    statements[index].append(statement.milliseconds)
                    texts.setdefault(index, (" ".join(statement.sql.split())[:140], statement.in_transaction))
                counts.append((len(recorded.statements), recorded.commits))

            profiler = Profiler(interval=0.0002)
            started = time.perf_counter()
            profiler.start()
            for n in range(1000, 1000 + options.requests):
                send(n)
            profiler.stop()
            wall = (time.perf_counter() - started) * 1000 / options.requests
            session = profiler.last_session
            assert session is not None
            table = layer_times(session.root_frame())
        finally:
            redis.stop()

    print(f"\n{options.path}: {options.requests} requests in process, {harness.machine_load()}\n")
    if options.path == "handoff":
        harness.print_table(
            ("#", "SQL statement (first 140 characters)", "in the transaction", "mean ms"),
            [
                (index + 1, texts[index][0], "yes" if texts[index][1] else "no", f"{statistics.mean(times):.3f}")
                for index, times in statements.items()
            ],
        )
        sql_total = sum(statistics.mean(times) for times in statements.values())
        print(
            f"\n{len(statements)} statements and {counts[-1][1]} commits per request; "
            f"{sql_total:.2f} ms of SQL round trips per request (measured around the driver's execute)"
        )
    else:
        sizes = [size for size, _ in counts]
        print(f"statements per request: min {min(sizes)}, max {max(sizes)}, mean {statistics.mean(sizes):.1f}")
    total = sum(table.values())
    scale = wall / total  # per request, in ms
    owners = sorted({owner for owner, _ in table}, key=lambda o: -sum(v for (w, _), v in table.items() if w == o))
    libraries = sorted({lib for _, lib in table}, key=lambda lib: -sum(v for (_, li), v in table.items() if li == lib))
    print(f"\nwall time per request {wall:.2f} ms, by the Halo code running it (rows) and the library (columns), ms:\n")
    harness.print_table(
        ("layer", *libraries, "total"),
        [
            (
                owner,
                *(f"{table.get((owner, lib), 0) * scale:.2f}" for lib in libraries),
                f"{sum(v for (w, _), v in table.items() if w == owner) * scale:.2f}",
            )
            for owner in owners
        ]
        + [
            (
                "total",
                *(f"{sum(v for (_, li), v in table.items() if li == lib) * scale:.2f}" for lib in libraries),
                f"{wall:.2f}",
            )
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
