"""Shared plumbing of the benchmarks: a PostgreSQL database of their own, the Redis db they may flush, the
Procfile's processes, the CPU time of processes read from ``/proc``, percentiles, the machine, and the
Markdown table every benchmark prints. Free loopback ports, waiting for a server and a subprocess that is
always stopped (with its children) are the test suite's (``tests.support.processes``), which this module
puts on the path and hands on as ``harness.free_port``, ``port_open``, ``process_running`` and
``wait_until``.

Each benchmark owns a database named ``halo_bench_*`` (the peer comparison: ``halo_peer_bench*`` and
``helpdesk_peer_bench*``) on the server ``BENCH_PG`` (default ``postgres://postgres@127.0.0.1:5432``), created
and migrated when missing, and Redis db 6 on ``BENCH_REDIS`` (default ``redis://127.0.0.1:6379/6``), which it
flushes before it starts, or a redis-server of its own. Only loopback addresses are ever used.
"""

import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.processes import free_port, port_open, process_running, wait_until  # noqa: E402

__all__ = ["free_port", "port_open", "process_running", "wait_until"]

PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/6")


def database_url(name: str) -> str:
    return f"{PG_SERVER}/{name}"


def setup_django(database: str, *, redis: bool | str = False, migrate: bool = True) -> dict[str, str]:
    """Point this process at ``database`` (created if missing), optionally at a Redis (``True``: the bench
    Redis db; a string: that URL), set Django up and migrate. Returns the environment a server or worker
    subprocess should get."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            connection.execute(f'CREATE DATABASE "{database}"')
    os.environ["DATABASE_URL"] = database_url(database)
    os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("BENCH_SETTINGS", "halo.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if redis:
        os.environ["REDIS_URL"] = redis if isinstance(redis, str) else REDIS_URL
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


def procfile_command(name: str) -> str:
    """The command of the Procfile's process ``name`` (``web``, ``worker``...), as a shell line: a benchmark
    starts what production starts, with the same options."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        key, _, command = line.partition(":")
        if key.strip() == name:
            return command.strip()
    raise KeyError(f"no process {name!r} in the Procfile")


def procfile_argv(command: str) -> list[str]:
    """Run a Procfile line through the shell (it expands ``${PORT:-8000}``), replaced by its program (exec), so
    the process a benchmark stops is the server itself."""
    return ["sh", "-c", f"exec {command}"]


def venv_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with this interpreter's ``bin`` first on ``PATH``, where the Procfile's programs live."""
    return {**env, "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (``/proc/<pid>/stat``; 0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (a gunicorn master and its workers, a Celery worker and its pool)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def database_backends(database: str, *, exclude: Sequence[int] = ()) -> list[int]:
    """The PostgreSQL backends serving ``database`` (their process title names it; other databases' work on
    the shared server is not counted), minus ``exclude`` (e.g. the benchmark's own connection)."""
    backends = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            if f" {database} " in (entry / "cmdline").read_text():
                backends.append(int(entry.name))
        except OSError:
            continue
    return backends


def cpu_reading(pids: Sequence[int]) -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in pids}


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two readings; a process started in between counts whole."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def cpu_model() -> str:
    """The CPU's model name and the number of cores (``lscpu``'s "Model name", ``/proc/cpuinfo``)."""
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores"


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (inclusive method); the single value of a one-sample list."""
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


def machine_load() -> str:
    """The load average beside the core count: a shared machine's figures are read against it."""
    one, five, _ = os.getloadavg()
    return f"machine: {cpu_model()}, load average {one:.1f} (1 min), {five:.1f} (5 min)"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
