"""Halo beside django-helpdesk 2.6.1: the staff list, the ticket page and ticket creation, served the same way.

    .venv/bin/python bench/peer_helpdesk.py    # --tickets 100000 --samples 200 --seconds 20 --clients 8

The peer is django-helpdesk 2.6.1 from PyPI, installed by this script into its own venv (``var/peer/venv``,
git-ignored; Django, psycopg and gunicorn at the versions of ``requirements.txt``) and run as the small
project in ``bench/peer/`` (django-helpdesk at the root, as its guide mounts it; ``DEBUG`` off). Both get the
same data in their own PostgreSQL database on the same server: ``--tickets`` tickets created one second apart,
15% open and the rest closed, each with one message (Halo: the customer's message in the ticket's
conversation; django-helpdesk: the follow-up that opened it), plus one open ticket with 20 messages. Each data
set is generated once into a template database with ``INSERT … SELECT generate_series`` and vacuumed; every
run measures a fresh copy (``CREATE DATABASE … TEMPLATE``), so runs start from the same rows and statistics.

Both are served as the Procfile's ``web`` process (gunicorn, 2 workers x 4 threads, access log on). Halo
runs as production does: ``REDIS_URL`` (a redis-server of the benchmark's own, so its CPU is Halo's alone)
for the cache and throttles, the channel layer and the Celery broker, and the Procfile's ``worker``
draining the outbox during the run. django-helpdesk needs neither: it sends its e-mail inside the request
(to Django's dummy backend here: rendered, not sent).

What is measured, as a browser or widget would ask it:

- **list** — the staff list's first page. Halo: ``GET /inbox/open/`` (50 rows, rendered on the server).
  django-helpdesk: ``GET /tickets/`` and then its data request, ``GET /datatables_ticket_list/<query>``
  with the parameters DataTables sends on its first draw (recorded from Chromium), 50 rows a page (the
  staff member's setting, as Halo's page size); one sample is both requests, one after the other.
- **ticket** — the single ticket page of the ticket with 20 messages.
- **create** — a new ticket from a customer nobody knew. Halo: the widget's first message from a new
  visitor asking for a human (``POST /api/widget/v1/conversations``: contact, conversation, message,
  handoff, ticket, system message, outbox, live event), with the CORS ``Origin`` a widget sends.
  django-helpdesk: its public form (``POST /tickets/submit/``, with the CSRF token the form page gave)
  and its API (``POST /api/tickets/``, a staff token).

Two phases, each interleaved (rounds; in each round every scenario of every system, in alternating order):
one request at a time (``--samples`` per row), then ``--clients`` concurrent clients in a closed loop
(``--seconds`` per row). The written tables are vacuumed and analysed between the phases (autovacuum is
off on the development servers). Printed per row: median and p95 latency, requests per second, SQL
statements and commits per request (counted by ``bench/querycount.py`` on separate requests, so the
timed ones pay nothing for it), and CPU time per request of the gunicorn workers, the PostgreSQL backends
of the system's database, Redis and the Celery worker (``/proc``; after a block of Halo creations the
benchmark waits for the outbox to drain, so the worker's share is counted). Then the ratio Halo / peer of
each. Exit status 1 when a Halo median is above the peer's (a ratio above 1.0) or a request failed.

``--systems halo`` measures Halo alone (e.g. ``--tickets 1000000`` for the inbox at 1M tickets);
``--rebuild`` regenerates the template databases; ``--clean`` drops every database of this benchmark.
The server is ``BENCH_PG`` (default ``postgres://postgres@127.0.0.1:5432``); the databases are
``halo_peer_bench`` / ``helpdesk_peer_bench`` and their templates ``*_t<tickets>``. Logs: ``<tmp>/halo_peer_*.log``.
"""

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

ROOT = harness.ROOT
PEER_PROJECT = ROOT / "bench" / "peer"
PEER_VAR = ROOT / "var" / "peer"
PEER_VENV = PEER_VAR / "venv"
PEER_PYTHON = PEER_VENV / "bin" / "python"
HELPDESK = "django-helpdesk==2.6.1"
SHARED_PINS = ("Django", "psycopg[binary]", "gunicorn")  # the peer gets Halo's versions of these

HALO_DB, HELPDESK_DB = "halo_peer_bench", "helpdesk_peer_bench"
LOGS = Path(tempfile.gettempdir())
ORIGIN = "https://shop.example"
THREAD_MESSAGES = 20
OPEN_SHARE_PERCENT = 15
TEAMMATE = "peer-teammate@peer.test"
HANDOFF_TEXT = "I was charged twice for invoice #{n}. I want to talk to a human."

# What DataTables (django-helpdesk's ticket list script) asks on its first draw, recorded from Chromium:
# every column's settings, the first 50 rows (the page size), no order (the server's default applies).
DATATABLES_COLUMNS = [
    "id",
    "ticket",
    "priority",
    "queue",
    "status",
    "created",
    "due_date",
    "assigned_to",
    "submitter",
    "last_followup",
    "time_spent",
    "kbitem",
]


def datatables_params(draw: int) -> dict[str, str]:
    params = {"draw": str(draw)}
    for index, name in enumerate(DATATABLES_COLUMNS):
        prefix = f"columns[{index}]"
        params |= {
            f"{prefix}[data]": name,
            f"{prefix}[name]": "",
            f"{prefix}[searchable]": "true",
            f"{prefix}[orderable]": "false" if index == 0 else "true",
            f"{prefix}[search][value]": "",
            f"{prefix}[search][regex]": "false",
        }
    return params | {"start": "0", "length": "50", "search[value]": "", "search[regex]": "false", "_": str(draw)}


# --- databases ------------------------------------------------------------------------------------------


def admin_execute(*statements: str) -> None:
    import psycopg

    with psycopg.connect(harness.database_url("postgres"), autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def database_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(harness.database_url("postgres"), autocommit=True) as connection:
        return connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def template_name(database: str, tickets: int) -> str:
    return f"{database}_t{tickets}"


def fresh_copy(database: str, tickets: int) -> bool:
    """Replace ``database`` by a copy of its template for ``tickets``; False when there is no template yet."""
    template = template_name(database, tickets)
    if not database_exists(template):
        return False
    admin_execute(
        f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)', f'CREATE DATABASE "{database}" TEMPLATE "{template}"'
    )
    return True


def keep_as_template(database: str, tickets: int) -> None:
    template = template_name(database, tickets)
    admin_execute(f'DROP DATABASE IF EXISTS "{template}"', f'CREATE DATABASE "{template}" TEMPLATE "{database}"')


def drop_all() -> None:
    import psycopg

    with psycopg.connect(harness.database_url("postgres"), autocommit=True) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE 'halo\\_peer\\_bench%' "
                "OR datname LIKE 'helpdesk\\_peer\\_bench%'"
            )
        ]
        for name in names:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            print(f"dropped {name}")


# --- the peer's venv and project ------------------------------------------------------------------------


def requirement_pin(name: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == name.lower():
            return line.split("#")[0].strip()
    raise KeyError(name)


def peer_install() -> None:
    """django-helpdesk 2.6.1 from PyPI in ``var/peer/venv`` (made once; pip is asked again only if it changed)."""
    wanted = [HELPDESK, *(requirement_pin(name) for name in SHARED_PINS)]
    marker = PEER_VENV / ".bench-installed"
    if marker.exists() and marker.read_text() == "\n".join(wanted):
        return
    print(f"installing {', '.join(wanted)} into {PEER_VENV.relative_to(ROOT)}")
    if not PEER_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(PEER_PYTHON), "-m", "pip", "install", "-q", *wanted], check=True)
    marker.write_text("\n".join(wanted))


def peer_env(secret_key: str) -> dict[str, str]:
    server = urlsplit(harness.PG_SERVER)
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PEER_PROJECT), str(ROOT / "bench")]),  # bench/: querycount
        "DJANGO_SETTINGS_MODULE": "helpdesk_settings",
        "PEER_SECRET_KEY": secret_key,
        "PEER_DB_NAME": HELPDESK_DB,
        "PEER_DB_HOST": server.hostname or "127.0.0.1",
        "PEER_DB_PORT": str(server.port or 5432),
        "PEER_DB_USER": server.username or "postgres",
        "PEER_DB_PASSWORD": server.password or "",
        "PEER_STATIC_ROOT": str(PEER_VAR / "static"),
        "PEER_MEDIA_ROOT": str(PEER_VAR / "media"),
    }


def peer_setup(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [str(PEER_PYTHON), str(PEER_PROJECT / "helpdesk_setup.py"), *command],
        env=env,
        cwd=PEER_PROJECT,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def helpdesk_prepare(tickets: int, *, rebuild: bool, env: dict[str, str]) -> dict[str, Any]:
    if rebuild or not fresh_copy(HELPDESK_DB, tickets):
        started = time.perf_counter()
        admin_execute(f'DROP DATABASE IF EXISTS "{HELPDESK_DB}" WITH (FORCE)', f'CREATE DATABASE "{HELPDESK_DB}"')
        built = peer_setup(["build", str(tickets)], env)
        keep_as_template(HELPDESK_DB, tickets)
        print(f"django-helpdesk: {built['tickets']:,} tickets generated in {time.perf_counter() - started:.0f} s")
    return peer_setup(["login"], env)


# --- Halo's data ----------------------------------------------------------------------------------------


def halo_build(tickets: int) -> None:
    """The same data set as ``bench/peer/helpdesk_setup.py build``, in Halo's tables (see the module docstring)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from agents.models import Conversation, Message, hash_conversation_token
    from agents.services import agent_create
    from escalation.services import escalation_settings_ensure
    from halo.models import Contact, Membership, Workspace
    from inbox.models import Ticket

    workspace = Workspace.objects.create(name="Peer", slug="peer", allowed_origins=[ORIGIN])
    agent = agent_create(workspace=workspace, name="Ada")
    escalation_settings_ensure(agent=agent)
    user = get_user_model().objects.create(username=TEAMMATE, email=TEAMMATE, first_name="Sam", last_name="Peer")
    Membership.objects.create(workspace=workspace, user=user)
    params = {"ws": workspace.pk, "agent": agent.pk, "n": tickets, "open": OPEN_SHARE_PERCENT}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO halo_contact (workspace_id, user_id, name, email, custom_fields, created_at)
               SELECT %(ws)s, 'customer-' || g, 'Customer ' || g, 'customer' || g || '@example.com', '{}',
                      now() - make_interval(secs => %(n)s - g)
                 FROM generate_series(1, %(n)s) g""",
            params,
        )
        cursor.execute(
            """INSERT INTO agents_conversation (workspace_id, agent_id, contact_id, status, token_hash, created_at,
                                                updated_at)
               SELECT %(ws)s, %(agent)s, c.id, 'handed_off', md5(c.user_id), c.created_at, c.created_at
                 FROM halo_contact c WHERE c.workspace_id = %(ws)s ORDER BY c.id""",
            params,
        )
        cursor.execute(
            """INSERT INTO agents_message (conversation_id, author, body, sources, created_at)
               SELECT v.id, 'user',
                      'I was charged twice for invoice #' || v.id || '. Please refund one of the payments.',
                      '[]', v.created_at
                 FROM agents_conversation v WHERE v.workspace_id = %(ws)s""",
            params,
        )
        cursor.execute(
            """INSERT INTO inbox_ticket (workspace_id, contact_id, agent_id, status, reason, confidence, summary,
                                         summary_state, knowledge_sources, tools_tried, settings_version,
                                         escalation_count, created_at, updated_at, closed_at, verdict, rating_comment)
               SELECT %(ws)s, c.id, %(agent)s,
                      CASE WHEN (row_number() OVER (ORDER BY c.id)) %% 100 <= %(open)s THEN 'open' ELSE 'closed' END,
                      'manual', NULL, 'The customer was charged twice.', 'ready', '[]', '[]', 1, 1,
                      c.created_at, c.created_at, NULL, '', ''
                 FROM halo_contact c WHERE c.workspace_id = %(ws)s ORDER BY c.id""",
            params,
        )
        cursor.execute(
            "UPDATE inbox_ticket SET closed_at = created_at WHERE workspace_id = %(ws)s AND status = 'closed'", params
        )
        cursor.execute(
            """INSERT INTO inbox_ticket_conversations (ticket_id, conversation_id)
               SELECT t.id, v.id FROM inbox_ticket t JOIN agents_conversation v ON v.contact_id = t.contact_id
                WHERE t.workspace_id = %(ws)s""",
            params,
        )
        contact = Contact.objects.create(workspace=workspace, user_id="thread", name="Thread Customer")
        conversation = Conversation.objects.create(
            workspace=workspace,
            agent=agent,
            contact=contact,
            status=Conversation.Status.HANDED_OFF,
            token_hash=hash_conversation_token("thread"),
        )
        Message.objects.bulk_create(
            [
                Message(
                    conversation=conversation,
                    author=Message.Author.USER if n % 2 == 0 else Message.Author.TEAMMATE,
                    teammate=None if n % 2 == 0 else user,
                    body=f"Message {n + 1} of the thread about the double charge.",
                )
                for n in range(THREAD_MESSAGES)
            ]
        )
        ticket = Ticket.objects.create(
            workspace=workspace, contact=contact, agent=agent, status=Ticket.Status.OPEN, reason="manual"
        )
        ticket.conversations.add(conversation)
    from inbox.services import inbox_counts_rebuild

    inbox_counts_rebuild(workspace_id=workspace.pk)  # the sidebar's cells, for tickets not written by the inbox
    vacuum_analyze()


def vacuum_analyze() -> None:
    """``VACUUM ANALYZE`` the database this process is connected to (autovacuum is off on these servers)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def halo_prepare(tickets: int, *, rebuild: bool, redis_url: str) -> dict[str, Any]:
    """Halo's run database (a fresh copy of the template, built first if missing), Django set up on it in this
    process, and what the clients need: a teammate's session cookie, the widget's app id, the thread ticket."""
    built = not rebuild and fresh_copy(HALO_DB, tickets)
    if not built:
        admin_execute(f'DROP DATABASE IF EXISTS "{HALO_DB}" WITH (FORCE)')
    harness.setup_django(HALO_DB, redis=redis_url)
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.db import connection

    from halo.models import Workspace
    from inbox.models import Ticket

    if not built:
        started = time.perf_counter()
        halo_build(tickets)
        connection.close()
        keep_as_template(HALO_DB, tickets)
        print(f"Halo: {tickets:,} tickets generated in {time.perf_counter() - started:.0f} s")
    user = get_user_model().objects.get(username=TEAMMATE)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    workspace = Workspace.objects.get(slug="peer")
    thread = Ticket.objects.filter(workspace=workspace, contact__user_id="thread").get()
    return {"session": session.session_key, "app_id": workspace.app_id, "thread_ticket": thread.pk}


class Monitor:
    """The benchmark's own connection to a database (the measuring runs in an event loop, where Django's ORM
    may not): waits for the outbox, vacuums; its backend is left out of the database's CPU."""

    def __init__(self, database: str) -> None:
        import psycopg

        self.connection = psycopg.connect(harness.database_url(database), autocommit=True)
        self.pid = self.connection.info.backend_pid

    def value(self, sql: str) -> Any:
        row = self.connection.execute(sql).fetchone()
        return row[0] if row else None

    def vacuum(self) -> None:
        self.connection.execute("VACUUM ANALYZE")

    def close(self) -> None:
        self.connection.close()


OUTBOX_PENDING = "SELECT count(*) FROM halo_outboxmessage WHERE state IN ('pending', 'running')"


# --- what the clients send -------------------------------------------------------------------------------


class RequestFailed(Exception):
    pass


def expect(response: httpx.Response, status: int, what: str) -> httpx.Response:
    if response.status_code != status:
        raise RequestFailed(f"{what}: {response.status_code} {response.text[:300]}")
    return response


@dataclass
class Counted:
    """SQL statements and commits of one sample (a sample may be several requests)."""

    queries: int = 0
    commits: int = 0

    def add(self, response: httpx.Response) -> None:
        self.queries += int(response.headers.get("X-Bench-Queries", 0))
        self.commits += int(response.headers.get("X-Bench-Commits", 0))


COUNT = {"X-Bench-Count": "1"}
STAFF_SCENARIOS = ("list", "ticket")  # the others are sent by customers (no staff session)
Step = Callable[[httpx.AsyncClient, int, Counted | None], Awaitable[None]]


def halo_steps(setup: dict[str, Any]) -> dict[str, Step]:
    run = secrets.token_hex(4)

    async def inbox_list(client: httpx.AsyncClient, n: int, counted: Counted | None) -> None:
        response = await client.get("/inbox/open/", headers=COUNT if counted else None)
        if b"/inbox/tickets/" not in expect(response, 200, "Halo list").content:
            raise RequestFailed("Halo list: no ticket rows")
        if counted:
            counted.add(response)

    async def ticket(client: httpx.AsyncClient, n: int, counted: Counted | None) -> None:
        response = await client.get(f"/inbox/tickets/{setup['thread_ticket']}/", headers=COUNT if counted else None)
        expect(response, 200, "Halo ticket page")
        if counted:
            counted.add(response)

    async def create(client: httpx.AsyncClient, n: int, counted: Counted | None) -> None:
        response = await client.post(
            f"/api/widget/v1/conversations?app_id={setup['app_id']}",
            json={
                "app_id": setup["app_id"],
                "user": {"visitor_id": f"peer-{run}-{n}"},
                "body": HANDOFF_TEXT.format(n=n),
            },
            headers={"Origin": ORIGIN, **(COUNT if counted else {})},
        )
        if expect(response, 201, "Halo widget handoff").json()["ticket"] is None:
            raise RequestFailed("Halo widget handoff: no ticket")
        if counted:
            counted.add(response)

    return {"list": inbox_list, "ticket": ticket, "create": create}


def helpdesk_steps(setup: dict[str, Any]) -> dict[str, Step]:
    async def ticket_list(client: httpx.AsyncClient, n: int, counted: Counted | None) -> None:
        page = expect(await client.get("/tickets/", headers=COUNT if counted else None), 200, "helpdesk list page")
        found = re.search(r'"(/datatables_ticket_list/[^"?]+)"', page.text)
        if found is None:
            raise RequestFailed("helpdesk list page: no data URL")
        data = await client.get(found.group(1), params=datatables_params(n + 1), headers=COUNT if counted else None)
        if len(expect(data, 200, "helpdesk list data").json()["data"]) != 50:
            raise RequestFailed("helpdesk list data: not 50 rows")
        if counted:
            counted.add(page)
            counted.add(data)

    async def ticket(client: httpx.AsyncClient, n: int, counted: Counted | None) -> None:
        response = await client.get(f"/tickets/{setup['thread_ticket']}/", headers=COUNT if counted else None)
        expect(response, 200, "helpdesk ticket page")
        if counted:
            counted.add(response)

    def ticket_fields(n: int) -> dict[str, Any]:
        return {
            "queue": setup["queue"],
            "title": f"Charged twice for invoice #{n}",
            "submitter_email": f"new{n}@example.com",
            "priority": 3,
        }

    async def form(client: httpx.AsyncClient, n: int, counted: Counted | None) -> None:
        if "csrftoken" not in client.cookies:  # the form page, once per client (a visitor loads it before posting)
            expect(await client.get("/tickets/submit/"), 200, "helpdesk form page")
        data = {**ticket_fields(n), "body": HANDOFF_TEXT.format(n=n), "due_date": ""}
        response = await client.post(
            "/tickets/submit/",
            data={**data, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
            headers=COUNT if counted else None,
        )
        if "/view/?ticket=" not in expect(response, 302, "helpdesk public form").headers.get("location", ""):
            raise RequestFailed(f"helpdesk public form: redirected to {response.headers.get('location')}")
        if counted:
            counted.add(response)

    async def api(client: httpx.AsyncClient, n: int, counted: Counted | None) -> None:
        response = await client.post(
            "/api/tickets/",
            json={**ticket_fields(n), "description": HANDOFF_TEXT.format(n=n)},
            headers={"Authorization": f"Token {setup['token']}", **(COUNT if counted else {})},
        )
        expect(response, 201, "helpdesk API")
        if counted:
            counted.add(response)

    return {"list": ticket_list, "ticket": ticket, "create (public form)": form, "create (API)": api}


# --- processes and their CPU ----------------------------------------------------------------------------


@dataclass
class System:
    name: str
    url: str
    database: str
    cookies: dict[str, str]
    steps: dict[str, Step]
    processes: dict[str, Callable[[], list[int]]]  # component -> the pids to read now
    monitor: Monitor
    drain: Callable[[], None] = lambda: None  # waits until background work caused so far is done


def cpu_snapshot(system: System) -> dict[str, dict[int, float]]:
    return {component: harness.cpu_reading(pids()) for component, pids in system.processes.items()}


# --- measuring ------------------------------------------------------------------------------------------


@dataclass
class Row:
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0  # wall time of the blocks (concurrent phase: throughput)
    cpu: dict[str, float] = field(default_factory=dict)
    counted: Counted | None = None

    def samples(self) -> int:
        return len(self.latencies)


class Bench:
    def __init__(self, systems: list[System], clients: int) -> None:
        self.systems = systems
        self.clients = clients
        self.sequence = 0
        # Per system and scenario: the clients (a staff member's browser with its session cookie, or a
        # customer's with none: the widget runs on the customer's site, the public form is for visitors).
        self.http: dict[tuple[str, str], list[httpx.AsyncClient]] = {}

    def next_n(self) -> int:
        self.sequence += 1
        return self.sequence

    async def open(self) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        for system in self.systems:
            for scenario in system.steps:
                cookies = system.cookies if scenario in STAFF_SCENARIOS else None
                self.http[system.name, scenario] = [
                    httpx.AsyncClient(base_url=system.url, cookies=cookies, limits=limits, timeout=60)
                    for _ in range(self.clients)
                ]

    async def close(self) -> None:
        for clients in self.http.values():
            for client in clients:
                await client.aclose()

    async def count(self, system: System, scenario: str) -> Counted:
        counted = Counted()
        await system.steps[scenario](self.http[system.name, scenario][0], self.next_n(), counted)
        return counted

    async def block(self, system: System, scenario: str, row: Row, *, samples: int = 0, seconds: float = 0) -> None:
        """One block of a row: ``samples`` requests one at a time, or ``self.clients`` clients for ``seconds``."""
        step = system.steps[scenario]
        before = cpu_snapshot(system)
        started = time.perf_counter()
        if samples:
            client = self.http[system.name, scenario][0]
            for _ in range(samples):
                sent = time.perf_counter()
                await step(client, self.next_n(), None)
                row.latencies.append((time.perf_counter() - sent) * 1000)
        else:
            deadline = started + seconds

            async def loop(client: httpx.AsyncClient) -> None:
                while time.perf_counter() < deadline:
                    sent = time.perf_counter()
                    await step(client, self.next_n(), None)
                    row.latencies.append((time.perf_counter() - sent) * 1000)

            await asyncio.gather(*(loop(client) for client in self.http[system.name, scenario]))
        row.elapsed += time.perf_counter() - started
        system.drain()
        after = cpu_snapshot(system)
        for component in after:
            row.cpu[component] = row.cpu.get(component, 0.0) + harness.cpu_used(before[component], after[component])


async def run_phase(bench: Bench, *, rounds: int, samples: int = 0, seconds: float = 0) -> dict[tuple[str, str], Row]:
    rows: dict[tuple[str, str], Row] = {}
    scenarios = [(system, scenario) for system in bench.systems for scenario in system.steps]
    for system, scenario in scenarios:  # warm-up (connections, templates, plans) and the counted requests
        clients = bench.http[system.name, scenario]
        for client in [clients[0]] * 4 + clients:  # every client once (a visitor's form page, a connection)
            await system.steps[scenario](client, bench.next_n(), None)
        rows[system.name, scenario] = Row(counted=await bench.count(system, scenario))
    for number in range(rounds):
        # Interleaved: every row gets a block in every round; the order of the systems alternates.
        ordered = sorted(scenarios, key=lambda pair: (pair[1].split(" ")[0], bench.systems.index(pair[0])))
        if number % 2:
            ordered = sorted(scenarios, key=lambda pair: (pair[1].split(" ")[0], -bench.systems.index(pair[0])))
        for system, scenario in ordered:
            await bench.block(
                system,
                scenario,
                rows[system.name, scenario],
                samples=samples // rounds if samples else 0,
                seconds=seconds / rounds if seconds else 0,
            )
    return rows


# --- report ---------------------------------------------------------------------------------------------

COMPONENTS = ("web", "postgres", "redis", "worker")
COMPONENT_TITLES = {"web": "gunicorn", "postgres": "PostgreSQL", "redis": "Redis", "worker": "Celery worker"}


@dataclass(frozen=True)
class Figures:
    median: float
    p95: float
    rate: float
    cpu: dict[str, float]

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu.values())


def figures(row: Row, *, concurrent: bool) -> Figures:
    count = row.samples()
    # One at a time, a client's rate is 1 / mean latency; concurrently, what the server completed per second.
    rate = count / row.elapsed if concurrent else count / (sum(row.latencies) / 1000)
    return Figures(
        median=statistics.median(row.latencies),
        p95=harness.percentile(row.latencies, 95),
        rate=rate,
        cpu={component: seconds * 1000 / count for component, seconds in row.cpu.items()},
    )


def report(phases: dict[str, dict[tuple[str, str], Row]], systems: list[System]) -> list[str]:
    """Print the tables; return the rows where Halo is slower than the peer (median ratio above 1.0)."""
    misses = []
    for phase, rows in phases.items():
        concurrent = phase != "one at a time"
        print(f"\n### {phase}\n")
        table = []
        for (system_name, scenario), row in rows.items():
            found = figures(row, concurrent=concurrent)
            counted = row.counted or Counted()
            table.append(
                (
                    scenario,
                    system_name,
                    row.samples(),
                    f"{found.median:.1f}",
                    f"{found.p95:.1f}",
                    f"{found.rate:.1f}",
                    counted.queries,
                    counted.commits,
                    *(f"{found.cpu[c]:.2f}" if c in found.cpu else "" for c in COMPONENTS),
                    f"{found.cpu_total:.2f}",
                )
            )
        table.sort(key=lambda line: (line[0].split(" ")[0], line[1] != "Halo", line[0]))
        harness.print_table(
            (
                "scenario",
                "system",
                "samples",
                "median ms",
                "p95 ms",
                "requests/s",
                "queries",
                "commits",
                *(f"CPU ms/request: {COMPONENT_TITLES[c]}" for c in COMPONENTS),
                "CPU total",
            ),
            table,
        )
        if len(systems) < 2:
            continue
        print(f"\nratio Halo / django-helpdesk ({phase}; below 1.0: Halo is faster / cheaper):\n")
        ratios = []
        for (system_name, scenario), row in rows.items():
            if system_name == "Halo":
                continue
            halo_scenario = scenario.split(" ")[0]
            halo = figures(rows["Halo", halo_scenario], concurrent=concurrent)
            peer = figures(row, concurrent=concurrent)
            ratio = halo.median / peer.median
            ratios.append(
                (
                    f"{halo_scenario} vs {scenario}" if scenario != halo_scenario else scenario,
                    f"{ratio:.2f}",
                    f"{halo.p95 / peer.p95:.2f}",
                    f"{peer.rate / halo.rate:.2f}",
                    f"{halo.cpu_total / peer.cpu_total:.2f}",
                )
            )
            if ratio > 1.0:
                misses.append(
                    f"{phase}: {halo_scenario} median {halo.median:.1f} ms vs {scenario} {peer.median:.1f} ms"
                )
        harness.print_table(
            ("scenario", "median", "p95", "time per request (1 / rate)", "server CPU per request"), ratios
        )
    return misses


# --- main -----------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=200, help="requests per row, one at a time")
    parser.add_argument("--seconds", type=float, default=20, help="seconds per row at --clients concurrent")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved blocks per row")
    parser.add_argument("--systems", default="halo,helpdesk", help="halo, helpdesk or both")
    parser.add_argument("--workers", default="2", help="gunicorn workers of both (WEB_CONCURRENCY)")
    parser.add_argument("--threads", default="4", help="gunicorn threads of both (WEB_THREADS)")
    parser.add_argument("--rebuild", action="store_true", help="generate the template databases again")
    parser.add_argument("--clean", action="store_true", help="drop every database of this benchmark and stop")
    options = parser.parse_args()
    if options.clean:
        drop_all()
        return 0
    wanted = set(options.systems.split(","))

    print(f"{harness.machine_load()}\n")
    with ExitStack() as stack:
        from tests.reliability.processes import RedisServer

        redis_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="halo_peer_redis_")))
        redis = RedisServer(redis_dir)
        redis.start()
        stack.callback(redis.stop)
        halo_setup = halo_prepare(options.tickets, rebuild=options.rebuild, redis_url=redis.url)
        from django.db import connections

        connections.close_all()  # from here on this process reads the database through its monitors only
        halo_monitor = Monitor(HALO_DB)
        stack.callback(halo_monitor.close)
        serving = {"WEB_CONCURRENCY": options.workers, "WEB_THREADS": options.threads, "LOG_LEVEL": "WARNING"}
        halo_env = harness.venv_env(
            {
                **os.environ,
                **serving,
                "PYTHONPATH": os.pathsep.join([str(PEER_PROJECT), str(ROOT / "bench"), str(ROOT)]),
                "DJANGO_SETTINGS_MODULE": "halo_settings",
                "DEBUG": "false",
                # The throttle is paid (its cache read and write), never hit. Per second, not per minute: DRF keeps
                # every request of the window in the cached history, and all clients share one address here, so a
                # minute at saturation would make it a list of thousands that a real visitor (120/min) never has.
                "THROTTLE_WIDGET": "1000000/s",
            }
        )
        systems: list[System] = []
        if "halo" in wanted:
            port = harness.free_port()
            web = stack.enter_context(
                harness.process_running(
                    harness.procfile_argv(harness.procfile_command("web")),
                    env={**halo_env, "PORT": str(port)},
                    log=LOGS / "halo_peer_web.log",
                )
            )
            worker = stack.enter_context(
                harness.process_running(
                    harness.procfile_argv(harness.procfile_command("worker")),
                    env=halo_env,
                    log=LOGS / "halo_peer_worker.log",
                )
            )
            harness.wait_until(lambda: harness.port_open(port), timeout=60, what="Halo gunicorn", process=web)

            def drain() -> None:
                harness.wait_until(
                    lambda: halo_monitor.value(OUTBOX_PENDING) == 0, timeout=120, what="the outbox to drain"
                )

            systems.append(
                System(
                    name="Halo",
                    url=f"http://127.0.0.1:{port}",
                    database=HALO_DB,
                    cookies={"sessionid": halo_setup["session"]},
                    steps=halo_steps(halo_setup),
                    processes={
                        "web": lambda pid=web.pid: harness.process_tree(pid),
                        "postgres": lambda: harness.database_backends(HALO_DB, exclude=[halo_monitor.pid]),
                        "redis": lambda: [redis.process.pid] if redis.process else [],
                        "worker": lambda pid=worker.pid: harness.process_tree(pid),
                    },
                    monitor=halo_monitor,
                    drain=drain,
                )
            )
        if "helpdesk" in wanted:
            peer_install()
            env = peer_env(secrets.token_urlsafe(50))
            helpdesk_setup = helpdesk_prepare(options.tickets, rebuild=options.rebuild, env=env)
            helpdesk_monitor = Monitor(HELPDESK_DB)
            stack.callback(helpdesk_monitor.close)
            subprocess.run(
                [str(PEER_PYTHON), "-m", "django", "collectstatic", "--noinput", "-v0"],
                env=env,
                check=True,
                cwd=PEER_PROJECT,
            )
            port = harness.free_port()
            command = harness.procfile_command("web")
            gunicorn = PEER_VENV / "bin" / "gunicorn"
            served = f"{gunicorn} 'django.core.wsgi:get_wsgi_application()' --pythonpath {PEER_PROJECT}"
            assert command.startswith("gunicorn halo.wsgi "), command
            web = stack.enter_context(
                harness.process_running(
                    # Without Halo's gunicorn.conf.py (gunicorn reads it from the working directory unless told
                    # another file): its logger class (credential redaction) is Halo's code, not in the peer's
                    # venv; the peer logs with gunicorn's own logger.
                    harness.procfile_argv(
                        command.replace("gunicorn halo.wsgi", served, 1).replace(
                            "--config gunicorn.conf.py", f"--config {PEER_PROJECT / 'gunicorn.conf.py'}", 1
                        )
                    ),
                    env={**env, **serving, "PORT": str(port)},
                    log=LOGS / "halo_peer_helpdesk.log",
                )
            )
            harness.wait_until(
                lambda: harness.port_open(port), timeout=60, what="django-helpdesk gunicorn", process=web
            )
            systems.append(
                System(
                    name="django-helpdesk",
                    url=f"http://127.0.0.1:{port}",
                    database=HELPDESK_DB,
                    cookies={"sessionid": helpdesk_setup["session"]},
                    steps=helpdesk_steps(helpdesk_setup),
                    processes={
                        "web": lambda pid=web.pid: harness.process_tree(pid),
                        "postgres": lambda: harness.database_backends(HELPDESK_DB, exclude=[helpdesk_monitor.pid]),
                    },
                    monitor=helpdesk_monitor,
                )
            )

        def vacuum_written() -> None:
            for system in systems:
                system.monitor.vacuum()

        async def measure() -> dict[str, dict[tuple[str, str], Row]]:
            bench = Bench(systems, options.clients)
            await bench.open()
            try:
                phases = {"one at a time": await run_phase(bench, rounds=options.rounds, samples=options.samples)}
                vacuum_written()
                phases[f"{options.clients} concurrent clients"] = await run_phase(
                    bench, rounds=options.rounds, seconds=options.seconds
                )
            finally:
                await bench.close()
            return phases

        started = time.perf_counter()
        phases = asyncio.run(measure())
        print(
            f"\n{options.tickets:,} tickets ({OPEN_SHARE_PERCENT}% open), gunicorn {options.workers} workers x "
            f"{options.threads} threads each, {time.perf_counter() - started:.0f} s of measuring; "
            f"{harness.machine_load()}"
        )
        misses = report(phases, systems)
    admin_execute(
        f'DROP DATABASE IF EXISTS "{HALO_DB}" WITH (FORCE)', f'DROP DATABASE IF EXISTS "{HELPDESK_DB}" WITH (FORCE)'
    )
    print()
    for miss in misses:
        print(f"MISS: {miss}")
    if not misses and len(wanted) > 1:
        print("PASS: Halo's median is at or below django-helpdesk's on every path")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
