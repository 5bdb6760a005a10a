"""B1: widget message → AI turn → decision → (ticket) over HTTP, production serving layout, 16 clients.

Serves Halo with gunicorn (WSGI, ``gthread`` workers) on PostgreSQL, with a 1,000-article help center and
the builtin responder, and drives it with concurrent clients on loopback. Two phases in the same run and
the same server: the baseline (``GET /bench/hello``, a DRF hello-world with no auth, no throttle, no
database) and the widget message (``POST /api/widget/v1/conversations/{id}/messages`` with its token:
token check, user message, knowledge search, AI turn, escalation judge, ticket when it escalates). Each
client moves to a fresh conversation every 5 messages, so escalation sees realistic turn counts. The
load generator shares the machine with the server: compare the ratio, not the absolute numbers.

    .venv/bin/python bench/agents_b1.py [--clients 16] [--seconds 20] [--workers 2] [--threads 4] [--pace 1]

Three phases: the baseline and the widget message at saturation (closed loop: each client sends its next
request as soon as the previous answer arrives), which give the throughput ratio; then the widget message
with the same number of clients each sending one message every ``--pace`` seconds (a chat user does not
type the instant an answer arrives), which gives the round-trip latency: at saturation, latency is queueing
by construction (Little's law: clients / throughput), so its p99 is printed but not the one judged. Each
phase also prints the CPU time per request of the gunicorn workers, of the PostgreSQL backends serving the
benchmark database and of the load generator, read from ``/proc``: unlike throughput, CPU per request
hardly depends on what else the shared machine is running.

The server is started as the Procfile's ``web`` process is: ``gthread`` workers, its default 2 workers x
4 threads (``WEB_CONCURRENCY`` / ``WEB_THREADS``), and an access log (written to
``<tmp>/halo_bench_b1_access.log`` instead of stdout), so both phases pay what production pays per request.

The workload is what a visitor sends, not what is cheapest: every client asks the 8 questions below in
turn, 5 messages per conversation. Some are answered by the AI, some are human-only topics or find
nothing and escalate; once a conversation is handed off, its next messages go to the team (no AI turn,
an inbox event). In a run about 45% of the messages are AI turns that do not escalate, ~10% AI turns that
create a ticket, ~45% messages on a handed-off conversation (the figures are printed per run).

Uses ``DATABASE_URL`` if set, else the PostgreSQL database ``halo_bench_agents`` (see ``bench/agents.py``).
``B1_TWO_TRANSACTIONS=1`` turns on the agent's web-search skill (provider none), which takes the
network-responder path (two transactions per message) for comparison.
Targets (B1): throughput ≥ 25% of the baseline; p99 ≤ 100 ms (paced phase). Exit status 1 if one
is missed or any request failed.
"""

import argparse
import asyncio
import importlib.util
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.processes import ROOT, free_port, process_running, wait_until

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


def hello_served(url: str) -> bool:
    try:
        return httpx.get(f"{url}/bench/hello", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has consumed so far (Linux ``/proc``; 0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(server: subprocess.Popen[bytes], database: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each gunicorn worker (the master's children) and each PostgreSQL backend
    serving ``database`` (its title names the database: other databases' work on the machine is not counted)."""
    workers = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    backends = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and f" {database} " in (entry / "cmdline").read_text():
                backends[int(entry.name)] = cpu_seconds(int(entry.name))
        except OSError:
            continue
    return {"web": {int(pid): cpu_seconds(int(pid)) for pid in workers}, "database": backends}


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two readings; a process started in between counts whole."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--pace", type=float, default=1.0, help="seconds between two messages of one client in the paced phase"
    )
    options = parser.parse_args()

    bench_agents.setup_django()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one log line per request would load the client
    # Enough conversations that none gets more than MESSAGES_PER_CONVERSATION messages in the run: the
    # saturated phase takes the first 100 per client, the paced phase the rest.
    app_id, conversations = prepare(conversations=options.clients * 125)
    saturated, paced = conversations[: options.clients * 100], conversations[options.clients * 100 :]
    print(f"workspace app_id {app_id}, {len(conversations)} conversations ready")

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "b1_settings",
        "THROTTLE_WIDGET": "100000000/min",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)  # B1 measures the web path; the embedded broker is not started by gunicorn
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "halo.wsgi:application",
        "--pythonpath",
        f"{ROOT / 'bench' / 'agents_http'},{ROOT}",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(options.workers),
        "--threads",
        str(options.threads),
        "--log-level",
        "warning",
        "--access-logfile",
        str(Path(tempfile.gettempdir()) / "halo_bench_b1_access.log"),
    ]
    url = f"http://127.0.0.1:{port}"
    with process_running(gunicorn, env=env, stop_timeout=10) as server:
        wait_until(lambda: hello_served(url), timeout=30, what="gunicorn", process=server, interval=0.2)

        asyncio.run(drive(url, options.clients, 2, Hello()))  # warm up every worker
        from django.db import connection

        database = str(connection.settings_dict["NAME"])
        phases: list[tuple[str, RequestFactory, float | None]] = [
            ("DRF hello-world (baseline)", Hello(), None),
            ("widget message (builtin AI + escalation)", WidgetMessage(saturated, options.clients), None),
            (
                f"widget message, paced: 1 per {options.pace:g} s per client",
                WidgetMessage(paced, options.clients),
                options.pace,
            ),
        ]
        rows = []
        widget_mix: Counter[str] = Counter()
        for label, factory, interval in phases:
            mix = Counter[str]() if isinstance(factory, WidgetMessage) else None
            before, client_before = server_cpu(server, database), time.process_time()
            latencies, errors, elapsed = asyncio.run(
                drive(url, options.clients, options.seconds, factory, mix, interval)
            )
            after, client_cpu = server_cpu(server, database), time.process_time() - client_before
            cpu = {name: cpu_used(before[name], after[name]) * 1000 / len(latencies) for name in after}
            client_cpu = client_cpu * 1000 / len(latencies)
            rows.append(
                (
                    label,
                    len(latencies) / elapsed,
                    statistics.median(latencies),
                    p99(latencies),
                    errors,
                    (cpu["web"], cpu["database"], client_cpu),
                )
            )
            if mix is not None and interval is None:
                widget_mix = mix

    print(
        f"\n{options.clients} clients, {options.seconds:.0f} s per phase, gunicorn {options.workers} workers x "
        f"{options.threads} threads, 1,000 articles\n"
    )
    print(
        "| scenario | requests/s | median ms | p99 ms | errors "
        "| CPU ms per request: gunicorn | PostgreSQL | load generator |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, rate, median, tail, errors, (web, database, client) in rows:
        print(
            f"| {label} | {rate:.0f} | {median:.1f} | {tail:.1f} | {errors} "
            f"| {web:.2f} | {database:.2f} | {client:.2f} |"
        )
    total = sum(widget_mix.values())
    print(
        "\nwidget messages by outcome: "
        + "; ".join(f"{kind} {count / total:.0%}" for kind, count in widget_mix.items())
    )
    ratio = rows[1][1] / rows[0][1]
    tail = rows[2][3]
    # CPU per request hardly depends on what else the machine runs, unlike throughput: the servers' CPU per
    # request (gunicorn + PostgreSQL) is what bounds their throughput once the load generator runs elsewhere.
    servers_cpu = [row[5][0] + row[5][1] for row in rows]
    print(
        f"\nserver CPU per request: hello-world {servers_cpu[0]:.2f} ms, widget {servers_cpu[1]:.2f} ms "
        f"(ratio {servers_cpu[0] / servers_cpu[1]:.0%}); machine load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"throughput ratio {ratio:.0%} (target ≥ 25%); widget p99 {tail:.0f} ms with {options.clients} paced "
        f"clients (target ≤ 100 ms; at saturation {rows[1][3]:.0f} ms, queueing: {options.clients} clients / "
        f"{rows[1][1]:.0f} req/s = {options.clients / rows[1][1] * 1000:.0f} ms mean by Little's law)"
    )
    errors = sum(row[4] for row in rows)
    return 0 if ratio >= 0.25 and tail <= 100 and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
