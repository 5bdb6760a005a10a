"""B1: widget message → AI turn → decision → (ticket) over HTTP, as production runs it, 16 clients.

Serves Halo as the Procfile's ``web`` process does (gunicorn, ``gthread``, 2 workers x 4 threads by default
through ``WEB_CONCURRENCY`` / ``WEB_THREADS``, access log on, written to ``<tmp>/halo_bench_b1_web.log``) on
PostgreSQL, with a 1,000-article help center and the builtin responder, and as production does: ``REDIS_URL``
set (a redis-server of the benchmark's own on a free port, so its CPU is this run's alone) for the cache and
the widget's throttle, the channel layer and the Celery broker, and the Procfile's ``worker`` draining the
outbox during the run (log: ``<tmp>/halo_bench_b1_worker.log``). Concurrent clients on loopback drive it. The
load generator shares the machine with the servers: compare the ratio, not the absolute numbers.

    .venv/bin/python bench/agents_b1.py [--clients 16] [--seconds 20] [--workers 2] [--threads 4] [--pace 1]

Three phases in the same run and the same servers: the baseline (``GET /bench/hello``, a DRF hello-world
with no auth, no throttle, no database) and the widget message (``POST /api/widget/v1/conversations/{id}/
messages`` with its token: throttle, token check, user message, knowledge search, AI turn, escalation
judge, ticket when it escalates) at saturation (closed loop: each client sends its next request as soon as
the previous answer arrives), which give the throughput ratio; then the widget message with the same number
of clients each sending one message every ``--pace`` seconds (a chat user does not type the instant an
answer arrives), which gives the round-trip latency: at saturation, latency is queueing by construction
(Little's law: clients / throughput), so its p99 is printed but not the one judged. Each client moves to a
fresh conversation every 5 messages, so escalation sees realistic turn counts.

Before each phase the database is vacuumed and analysed (``VACUUM ANALYZE``: autovacuum is off on the
development servers, and every table the run writes then keeps fresh statistics and no dead rows from the
phase before or an earlier run). After a widget phase the benchmark waits until the worker has drained the
outbox, so the work a message causes after its commit is counted. Each phase prints the CPU time per
request of the gunicorn workers, the PostgreSQL backends serving the benchmark database, Redis, the Celery
worker (its pool included) and the load generator, read from ``/proc``: unlike throughput, CPU per request
hardly depends on what else the shared machine is running. Before the phases, one message of each outcome is
sent with ``X-Bench-Count: 1`` (``bench/querycount.py``) and its SQL statements and commits are printed.

The workload is what a visitor sends, not what is cheapest: every client asks the 8 questions below in
turn, 5 messages per conversation. Some are answered by the AI, some are human-only topics or find
nothing and escalate; once a conversation is handed off, its next messages go to the team (no AI turn,
an inbox event). The shares are printed per run.

Uses ``DATABASE_URL`` if set, else the PostgreSQL database ``halo_bench_agents`` (see ``bench/agents.py``).
``B1_TWO_TRANSACTIONS=1`` turns on the agent's web-search skill (provider none), which takes the
network-responder path (two transactions per message) for comparison.
Targets: throughput ≥ 25% of the baseline; paced p99 ≤ 50 ms. Exit status 1 if one is missed or any
request failed.
"""

import argparse
import asyncio
import importlib.util
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

ROOT = harness.ROOT

# bench/agents.py, loaded under another name: "agents" is the Django app.
_spec = importlib.util.spec_from_file_location("bench_agents", ROOT / "bench" / "agents.py")
assert _spec is not None
assert _spec.loader is not None
bench_agents = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_agents)

MESSAGES_PER_CONVERSATION = 5
QUESTIONS = [
    "How do I reset my password?",
    "where can I download my invoices",
    "Can I connect Slack?",
    "export data as csv",
    "my card was declined",
    "do you sell garden furniture",
    "I want a refund for last month",
    "which browsers are supported",
]
TARGET_RATIO = 0.25
TARGET_PACED_P99_MS = 50.0
LOGS = Path(tempfile.gettempdir())
# One message of each outcome, in this order on one conversation (counted, not timed).
COUNTED_MESSAGES = ("How do I reset my password?", "I want a refund for last month", "thanks, waiting")


def prepare(conversations: int) -> tuple[str, list[tuple[int, str]]]:
    """The help center and ``conversations`` fresh conversations with their raw tokens."""
    from agents.models import Conversation, hash_conversation_token
    from halo.models import Contact

    workspace, agent = bench_agents.build_help_center(1000)
    if os.environ.get("B1_TWO_TRANSACTIONS"):  # experiment: the network-responder path (web search, provider none)
        agent.web_search_enabled = True
        agent.save(update_fields=["web_search_enabled"])
    contacts = Contact.objects.bulk_create(
        [Contact(workspace=workspace, user_id=f"b1-user-{n}") for n in range(conversations)]
    )
    created = Conversation.objects.bulk_create(
        [
            Conversation(
                workspace=workspace, contact=contact, agent=agent, token_hash=hash_conversation_token(f"b1-{n}")
            )
            for n, contact in enumerate(contacts)
        ]
    )
    return str(workspace.app_id), [(conversation.pk, f"b1-{n}") for n, conversation in enumerate(created)]


async def drive(
    url: str,
    clients: int,
    seconds: float,
    request_for: "RequestFactory",
    mix: Counter[str] | None = None,
    interval: float | None = None,
) -> tuple[list[float], int, float]:
    """``clients`` concurrent clients for ``seconds``: each sends its next request as soon as the previous
    answer arrives (closed loop, saturation), or, with ``interval``, one request every ``interval`` seconds
    (paced; a late request's latency counts from when it was due, so a slow server is not hidden)."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker(index: int) -> None:
            nonlocal errors
            sent = 0
            due = time.perf_counter() + (interval or 0) * index / clients  # paced clients are spread out
            while due < deadline:
                if interval is not None:
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                else:
                    due = time.perf_counter()
                method, path, headers, body = request_for(index, sent)
                response = await client.request(method, path, headers=headers, json=body)
                latencies.append((time.perf_counter() - due) * 1000)
                if response.status_code >= 400:
                    errors += 1
                elif mix is not None:
                    mix[message_kind(response.json())] += 1
                sent += 1
                due += interval or 0

        started = time.perf_counter()
        await asyncio.gather(*(worker(index) for index in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def message_kind(payload: dict[str, Any]) -> str:
    """What a widget message turned into: an AI answer, an AI turn that handed off, or a message to the team."""
    ai_answered = any(message["author"] == "ai" for message in payload["messages"])
    if not ai_answered:
        return "message on a handed-off conversation (no AI turn)"
    return "AI turn that escalated (ticket)" if payload["ticket"] else "AI answer, no escalation"


class RequestFactory:
    def __call__(self, index: int, sent: int) -> tuple[str, str, dict[str, str], object]:
        raise NotImplementedError


class Hello(RequestFactory):
    def __call__(self, index: int, sent: int) -> tuple[str, str, dict[str, str], object]:
        return "GET", "/bench/hello", {}, None


class WidgetMessage(RequestFactory):
    def __init__(self, conversations: list[tuple[int, str]], clients: int) -> None:
        self.conversations = conversations
        self.clients = clients

    def __call__(self, index: int, sent: int) -> tuple[str, str, dict[str, str], object]:
        slot = (sent // MESSAGES_PER_CONVERSATION) * self.clients + index
        conversation_id, token = self.conversations[slot % len(self.conversations)]
        question = QUESTIONS[(index + sent) % len(QUESTIONS)]
        return (
            "POST",
            f"/api/widget/v1/conversations/{conversation_id}/messages",
            {"Authorization": f"Bearer {token}"},
            {"body": question},
        )


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


class Monitor:
    """This process's own connection to the benchmark database: vacuums and watches the outbox; its backend is
    left out of the database's CPU."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.connection = psycopg.connect(url, autocommit=True)
        self.pid = self.connection.info.backend_pid

    def vacuum(self) -> None:
        self.connection.execute("VACUUM ANALYZE")

    def outbox_pending(self) -> int:
        row = self.connection.execute(
            "SELECT count(*) FROM halo_outboxmessage WHERE state IN ('pending', 'running')"
        ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.connection.close()


def count_outcomes(url: str, conversation: tuple[int, str]) -> list[tuple[str, int, int]]:
    """SQL statements and commits of one message of each outcome, counted by the server (``querycount``)."""
    conversation_id, token = conversation
    counted = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for body in COUNTED_MESSAGES:
            response = client.post(
                f"/api/widget/v1/conversations/{conversation_id}/messages",
                json={"body": body},
                headers={"Authorization": f"Bearer {token}", "X-Bench-Count": "1"},
            )
            response.raise_for_status()
            counted.append(
                (
                    message_kind(response.json()),
                    int(response.headers["X-Bench-Queries"]),
                    int(response.headers["X-Bench-Commits"]),
                )
            )
    return counted


COMPONENTS = ("gunicorn", "PostgreSQL", "Redis", "Celery worker")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--pace", type=float, default=1.0, help="seconds between two messages of one client in the paced phase"
    )
    options = parser.parse_args()

    print(harness.machine_load())
    bench_agents.setup_django()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one log line per request would load the client
    # Enough conversations that none gets more than MESSAGES_PER_CONVERSATION messages in the run: the
    # saturated phase takes the first 100 per client, the paced phase the rest; one more is counted.
    app_id, conversations = prepare(conversations=options.clients * 125 + 1)
    counted_conversation = conversations.pop()
    saturated, paced = conversations[: options.clients * 100], conversations[options.clients * 100 :]
    print(f"workspace app_id {app_id}, {len(conversations)} conversations ready")
    from django.db import connection

    database = str(connection.settings_dict["NAME"])
    connection.close()  # from here on this process reads the database through its monitor only

    rows = []
    widget_mix: Counter[str] = Counter()
    with ExitStack() as stack:
        from tests.reliability.processes import RedisServer

        redis = RedisServer(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="halo_b1_redis_"))))
        redis.start()
        stack.callback(redis.stop)
        port = harness.free_port()
        env = harness.venv_env(
            {
                **os.environ,
                "PYTHONPATH": os.pathsep.join([str(ROOT / "bench" / "agents_http"), str(ROOT / "bench"), str(ROOT)]),
                "DJANGO_SETTINGS_MODULE": "b1_settings",
                "REDIS_URL": redis.url,
                "DEBUG": "false",
                # The throttle is paid (its cache read and write), never hit. Per second, not per minute: DRF keeps
                # every request of the window in the cached history, and all clients share one address here, so a
                # minute at saturation would make it a list of thousands that a real visitor (120/min) never has.
                "THROTTLE_WIDGET": "1000000/s",
                "LOG_LEVEL": "WARNING",
                "PORT": str(port),
                "WEB_CONCURRENCY": str(options.workers),
                "WEB_THREADS": str(options.threads),
            }
        )
        web = stack.enter_context(
            harness.process_running(
                harness.procfile_argv(harness.procfile_command("web")), env=env, log=LOGS / "halo_bench_b1_web.log"
            )
        )
        worker = stack.enter_context(
            harness.process_running(
                harness.procfile_argv(harness.procfile_command("worker")),
                env=env,
                log=LOGS / "halo_bench_b1_worker.log",
            )
        )
        # Beat as in production: its outbox sweep hands the worker the jobs recorded before it started (the
        # help center's embedding jobs, which the benchmark ran in process), so the outbox drains.
        beat_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="halo_bench_b1_beat_")))
        stack.enter_context(
            harness.process_running(
                harness.procfile_argv(harness.procfile_command("beat")),
                env={**env, "CELERY_BEAT_SCHEDULE_FILE": str(beat_dir / "schedule")},
                log=LOGS / "halo_bench_b1_beat.log",
            )
        )
        monitor = Monitor(os.environ["DATABASE_URL"])
        stack.callback(monitor.close)
        url = f"http://127.0.0.1:{port}"
        harness.wait_until(lambda: harness.port_open(port), timeout=60, what="gunicorn", process=web)

        def cpu_now() -> dict[str, dict[int, float]]:
            pids = {
                "gunicorn": harness.process_tree(web.pid),
                "PostgreSQL": harness.database_backends(database, exclude=[monitor.pid]),
                "Redis": [redis.process.pid] if redis.process else [],
                "Celery worker": harness.process_tree(worker.pid),
            }
            return {component: harness.cpu_reading(found) for component, found in pids.items()}

        asyncio.run(drive(url, options.clients, 2, Hello()))  # warm up every worker
        counted = count_outcomes(url, counted_conversation)
        phases: list[tuple[str, RequestFactory, float | None]] = [
            ("DRF hello-world (baseline)", Hello(), None),
            ("widget message (builtin AI + escalation)", WidgetMessage(saturated, options.clients), None),
            (
                f"widget message, paced: 1 per {options.pace:g} s per client",
                WidgetMessage(paced, options.clients),
                options.pace,
            ),
        ]
        for label, factory, interval in phases:
            monitor.vacuum()
            harness.wait_until(lambda: monitor.outbox_pending() == 0, timeout=120, what="the outbox to drain")
            mix = Counter[str]() if isinstance(factory, WidgetMessage) else None
            before, client_before = cpu_now(), time.process_time()
            latencies, errors, elapsed = asyncio.run(
                drive(url, options.clients, options.seconds, factory, mix, interval)
            )
            client_cpu = (time.process_time() - client_before) * 1000 / len(latencies)
            harness.wait_until(lambda: monitor.outbox_pending() == 0, timeout=120, what="the outbox to drain")
            after = cpu_now()
            cpu = {name: harness.cpu_used(before[name], after[name]) * 1000 / len(latencies) for name in COMPONENTS}
            rows.append(
                (label, len(latencies) / elapsed, statistics.median(latencies), p99(latencies), errors, cpu, client_cpu)
            )
            if mix is not None and interval is None:
                widget_mix = mix

    print(
        f"\n{options.clients} clients, {options.seconds:.0f} s per phase, gunicorn {options.workers} workers x "
        f"{options.threads} threads (the Procfile's web), the Procfile's worker, Redis, 1,000 articles; "
        f"{harness.machine_load()}\n"
    )
    harness.print_table(
        ("message (counted, not timed)", "SQL statements", "commits"),
        [(kind, queries, commits) for kind, queries, commits in counted],
    )
    print()
    harness.print_table(
        (
            "scenario",
            "requests/s",
            "median ms",
            "p99 ms",
            "errors",
            *(f"CPU ms/request: {component}" for component in COMPONENTS),
            "server CPU total",
            "load generator",
        ),
        [
            (
                label,
                f"{rate:.0f}",
                f"{median:.1f}",
                f"{tail:.1f}",
                errors,
                *(f"{cpu[component]:.2f}" for component in COMPONENTS),
                f"{sum(cpu.values()):.2f}",
                f"{client:.2f}",
            )
            for label, rate, median, tail, errors, cpu, client in rows
        ],
    )
    total = sum(widget_mix.values())
    print(
        "\nwidget messages by outcome: "
        + "; ".join(f"{kind} {count / total:.0%}" for kind, count in widget_mix.items())
    )
    ratio = rows[1][1] / rows[0][1]
    tail = rows[2][3]
    # CPU per request hardly depends on what else the machine runs, unlike throughput: the servers' CPU per
    # request (gunicorn, PostgreSQL, Redis, the worker) is what bounds their throughput once the load
    # generator runs elsewhere.
    servers_cpu = [sum(row[5].values()) for row in rows]
    print(
        f"\nserver CPU per request: hello-world {servers_cpu[0]:.2f} ms, widget {servers_cpu[1]:.2f} ms "
        f"(ratio {servers_cpu[0] / servers_cpu[1]:.0%})"
    )
    print(
        f"throughput ratio {ratio:.0%} (target ≥ {TARGET_RATIO:.0%}); widget p99 {tail:.0f} ms with "
        f"{options.clients} paced clients (target ≤ {TARGET_PACED_P99_MS:.0f} ms; at saturation {rows[1][3]:.0f} ms, "
        f"queueing: {options.clients} clients / {rows[1][1]:.0f} req/s = "
        f"{options.clients / rows[1][1] * 1000:.0f} ms mean by Little's law)"
    )
    errors = sum(row[4] for row in rows)
    return 0 if ratio >= TARGET_RATIO and tail <= TARGET_PACED_P99_MS and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
