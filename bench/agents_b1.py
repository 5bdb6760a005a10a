"""B1: widget message → AI turn → decision → (ticket) over HTTP, production serving layout, 16 clients.

Serves Halo with gunicorn (WSGI, ``gthread`` workers) on PostgreSQL, with a 1,000-article help center and
the builtin responder, and drives it with concurrent clients on loopback. Two phases in the same run and
the same server: the baseline (``GET /bench/hello``, a DRF hello-world with no auth, no throttle, no
database) and the widget message (``POST /api/widget/v1/conversations/{id}/messages`` with its token:
token check, user message, knowledge search, AI turn, escalation judge, ticket when it escalates). Each
client moves to a fresh conversation every 5 messages, so escalation sees realistic turn counts. The
load generator shares the machine with the server: compare the ratio, not the absolute numbers.

    .venv/bin/python bench/agents_b1.py [--clients 16] [--seconds 20] [--workers 2] [--threads 4]

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
Targets (QUALITY.md B1): throughput ≥ 25% of the baseline; p99 ≤ 100 ms. Exit status 1 if one is missed.
"""

import argparse
import asyncio
import importlib.util
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    url: str, clients: int, seconds: float, request_for: "RequestFactory", mix: Counter[str] | None = None
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker(index: int) -> None:
            nonlocal errors
            sent = 0
            while time.perf_counter() < deadline:
                method, path, headers, body = request_for(index, sent)
                started = time.perf_counter()
                response = await client.request(method, path, headers=headers, json=body)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code >= 400:
                    errors += 1
                elif mix is not None:
                    mix[message_kind(response.json())] += 1
                sent += 1

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    options = parser.parse_args()

    bench_agents.setup_django()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one log line per request would load the client
    # Enough conversations that none gets more than MESSAGES_PER_CONVERSATION messages in the run.
    app_id, conversations = prepare(conversations=options.clients * 100)
    print(f"workspace app_id {app_id}, {len(conversations)} conversations ready")

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "b1_settings",
        "THROTTLE_WIDGET": "100000000/min",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)  # B1 measures the web path; the embedded broker is not started by gunicorn
    server = subprocess.Popen(
        [
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
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/bench/hello", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)

        asyncio.run(drive(url, options.clients, 2, Hello()))  # warm up every worker
        rows = []
        widget_mix: Counter[str] = Counter()
        for label, factory in [
            ("DRF hello-world (baseline)", Hello()),
            ("widget message (builtin AI + escalation)", WidgetMessage(conversations, options.clients)),
        ]:
            mix = Counter[str]() if isinstance(factory, WidgetMessage) else None
            latencies, errors, elapsed = asyncio.run(drive(url, options.clients, options.seconds, factory, mix))
            rows.append((label, len(latencies) / elapsed, statistics.median(latencies), p99(latencies), errors))
            if mix is not None:
                widget_mix = mix
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(
        f"\n{options.clients} clients, {options.seconds:.0f} s per phase, gunicorn {options.workers} workers x "
        f"{options.threads} threads, 1,000 articles\n"
    )
    print("| scenario | requests/s | median ms | p99 ms | errors |")
    print("|---|---|---|---|---|")
    for label, rate, median, tail, errors in rows:
        print(f"| {label} | {rate:.0f} | {median:.1f} | {tail:.1f} | {errors} |")
    total = sum(widget_mix.values())
    print(
        "\nwidget messages by outcome: "
        + "; ".join(f"{kind} {count / total:.0%}" for kind, count in widget_mix.items())
    )
    ratio = rows[1][1] / rows[0][1]
    tail = rows[1][3]
    print(f"\nthroughput ratio {ratio:.0%} (target ≥ 25%); widget p99 {tail:.0f} ms (target ≤ 100 ms)")
    return 0 if ratio >= 0.25 and tail <= 100 and rows[1][4] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
