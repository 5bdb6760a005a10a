"""B2: escalation committed → event received on 50 staff sockets, through the Redis channel layer.

An ASGI server (uvicorn, 2 worker processes, ``halo.asgi``) serves ``/ws/inbox/`` with ``REDIS_URL`` set,
on the PostgreSQL database ``halo_bench_live`` and Redis db 6 (``bench/harness.py``). 50 teammates (each
with a real session cookie and the allowed-hosts ``Origin``) connect and speak the inbox protocol
(``hello``, ``resume``/``replayed``, ``event``). Another process escalates pre-made conversations through
the handoff service (``escalation.flow.handoff_request``: ticket, escalation event, inbox event,
outbox rows in one transaction; the ``group_send`` after commit), stamping the wall-clock time of each
commit; a socket's latency is its receive time minus that stamp (same machine, same clock). The receive
time is taken when a frame's bytes are parsed (``data_received``), not when this one asyncio process, busy
with 49 other sockets, next returns from ``recv()``; this process's startup heap is frozen so a full
garbage collection (90-160 ms here) does not land on the receive times.

Loss and replay: a fifth of the sockets are dropped a third of the way through, stay away for a second
and reconnect with ``{"type": "resume", "last_seq": N}`` (the last number they applied in order); at
the end every socket must hold every event number from its first ``hello`` to the last commit (duplicates
from the join-before-replay overlap are counted and dropped, as the browser does).

Baseline in the same run: the bare channel layer — the escalating process ``group_send``s a stamped
message to a group of 50 channels that this process reads with ``receive`` (no database, no ASGI server,
no WebSocket): what Redis fan-out alone costs.

    .venv/bin/python bench/inbox_live.py [--sockets 50] [--escalations 300] [--rate 15]

Exit status 1 if an event is lost or the socket p99 is above 50 ms (B2).
"""

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

DATABASE = "halo_bench_live"
SLUG = "bench-live"
TARGET_P99_MS = 50.0
BASELINE_GROUP = "bench.baseline"
LOG_DIR = Path(os.environ.get("BENCH_LOG_DIR", tempfile.gettempdir()))


# --- the escalating process --------------------------------------------------------------------------


def escalate_all(count: int, rate: float) -> None:
    """Child process: escalate ``count`` prepared conversations at ``rate`` per second; print, per commit,
    the event numbers it made and the wall-clock time just after the commit (before the broadcast)."""
    from django.db import transaction

    from agents.models import Conversation
    from escalation.flow import handoff_request
    from halo.models import Workspace
    from inbox.models import InboxEvent

    workspace = Workspace.objects.get(slug=SLUG)
    conversations = list(
        Conversation.objects.filter(workspace=workspace, tickets__isnull=True).select_related("agent", "contact")[
            :count
        ]
    )
    assert len(conversations) == count, "not enough prepared conversations"
    last_seq = InboxEvent.objects.filter(workspace=workspace).order_by("-seq").values_list("seq", flat=True).first()
    last = int(last_seq or 0)
    started = time.perf_counter()
    for n, conversation in enumerate(conversations):
        time.sleep(max(0.0, started + n / rate - time.perf_counter()))
        committed: list[float] = []
        with transaction.atomic():
            # Registered first, so it runs first after commit: the stamp precedes the group_send.
            transaction.on_commit(lambda stamps=committed: stamps.append(time.time()))
            handoff_request(conversation=conversation)
        returned = time.time()  # every on-commit hook done: the group_send has returned
        seqs = list(
            InboxEvent.objects.filter(workspace=workspace, seq__gt=last).order_by("seq").values_list("seq", flat=True)
        )
        last = seqs[-1] if seqs else last
        print(json.dumps({"seqs": seqs, "committed": committed[0], "returned": returned}), flush=True)


def group_send_all(count: int, rate: float) -> None:
    """Child process (baseline): ``group_send`` ``count`` stamped messages to the baseline group."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert layer is not None
    started = time.perf_counter()
    for n in range(count):
        time.sleep(max(0.0, started + n / rate - time.perf_counter()))
        async_to_sync(layer.group_send)(BASELINE_GROUP, {"type": "bench.ping", "n": n, "sent": time.time()})


# --- the sockets -------------------------------------------------------------------------------------


@dataclass
class Socket:
    index: int
    cookie: str
    first_seq: int | None = None  # the hello of the first connection
    applied: int = 0  # the highest number applied in order (what a reconnect resumes from)
    received: dict[int, float] = field(default_factory=dict)  # seq -> receive time (live only)
    replayed: set[int] = field(default_factory=set)
    seen: set[int] = field(default_factory=set)
    duplicates: int = 0
    reconnects: int = 0
    resyncs: int = 0

    def take(self, seq: int, at: float, *, replay: bool) -> None:
        if seq in self.seen:
            self.duplicates += 1
            return
        self.seen.add(seq)
        if replay:
            self.replayed.add(seq)
        else:
            self.received[seq] = at
        while self.applied + 1 in self.seen:
            self.applied += 1


def stamped_connection_class() -> Any:
    """A websockets client connection that stamps each data frame when its bytes are parsed (in
    ``data_received``), so a socket's receive time is when the frame reached this process, not when this
    one process's loop, busy with 49 other sockets, next got round to ``recv()`` and ``json.loads``."""
    from websockets.asyncio.client import ClientConnection
    from websockets.frames import Frame, Opcode

    class StampedConnection(ClientConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.arrivals: deque[float] = deque()

        def process_event(self, event: Any) -> None:
            if isinstance(event, Frame) and event.fin and event.opcode in (Opcode.TEXT, Opcode.CONT):
                self.arrivals.append(time.time())
            super().process_event(event)

    return StampedConnection


async def run_socket(sock: Socket, url: str, origin: str, *, drop_after: int | None) -> None:
    """One teammate's socket; runs until cancelled (at the end) or told to resync."""
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    headers = {"Cookie": f"sessionid={sock.cookie}"}
    connection_class = stamped_connection_class()
    while True:
        ws: Any
        async with connect(
            url,
            additional_headers=headers,
            origin=Origin(origin),
            open_timeout=20,
            create_connection=connection_class,
        ) as ws:
            hello = json.loads(await ws.recv())
            ws.arrivals.popleft()
            assert hello["type"] == "hello", hello
            replaying = False
            if sock.first_seq is None:
                sock.first_seq = sock.applied = int(hello["seq"])
            else:
                await ws.send(json.dumps({"type": "resume", "last_seq": sock.applied}))
                replaying = True
            while drop_after is None or len(sock.seen) < drop_after:  # else a laptop drops off the network
                raw = await ws.recv()
                at = ws.arrivals.popleft()
                frame = json.loads(raw)
                if frame["type"] == "event":
                    sock.take(int(frame["seq"]), at, replay=replaying)
                elif frame["type"] == "replayed":
                    replaying = False
                elif frame["type"] == "resync":
                    sock.resyncs += 1
                    return
        drop_after = None
        sock.reconnects += 1
        await asyncio.sleep(1.0)


async def sockets_phase(
    url: str, origin: str, cookies: list[str], escalations: int, rate: float, env: dict[str, str]
) -> tuple[list[Socket], dict[int, float], list[float], float]:
    sockets = [Socket(index=n, cookie=cookie) for n, cookie in enumerate(cookies)]
    drop_after = max(1, escalations // 3)
    dropped = set(range(0, len(sockets), 5))
    tasks = [
        asyncio.create_task(run_socket(sock, url, origin, drop_after=drop_after if sock.index in dropped else None))
        for sock in sockets
    ]
    await asyncio.sleep(2)  # every socket connected and said hello
    assert all(sock.first_seq is not None for sock in sockets), "not every socket connected"
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", "escalate", "--escalations", str(escalations), "--rate", str(rate),
        env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, _ = await child.communicate()
    assert child.returncode == 0, "the escalating process failed"
    committed: dict[int, float] = {}
    hooks: list[float] = []
    for line in stdout.decode().splitlines():
        record = json.loads(line)
        hooks.append((record["returned"] - record["committed"]) * 1000)
        for seq in record["seqs"]:
            committed[seq] = record["committed"]
    final_seq = max(committed)
    started = time.monotonic()
    # Wait until every socket holds everything (or was told to resync), for at most 10 s: what is still
    # missing then counts as lost.
    while time.monotonic() < started + 10 and not all(sock.applied >= final_seq or sock.resyncs for sock in sockets):
        await asyncio.sleep(0.02)
    tail = time.monotonic() - started
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return sockets, committed, hooks, tail


async def baseline_phase(channels: int, count: int, rate: float, env: dict[str, str]) -> list[float]:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    assert layer is not None
    names = [await layer.new_channel() for _ in range(channels)]
    for name in names:
        await layer.group_add(BASELINE_GROUP, name)
    latencies: list[float] = []

    async def read(name: str) -> None:
        for _ in range(count):
            message = await layer.receive(name)
            latencies.append((time.time() - message["sent"]) * 1000)

    readers = asyncio.gather(*(read(name) for name in names))
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", "group_send", "--escalations", str(count), "--rate", str(rate), env=env
    )
    assert await child.wait() == 0, "the group_send process failed"
    await asyncio.wait_for(readers, timeout=60)
    for name in names:
        await layer.group_discard(BASELINE_GROUP, name)
    return latencies


def prepare(sockets: int, escalations: int) -> tuple[int, list[str]]:
    """A fresh workspace with ``sockets`` teammates (their session cookies) and ``escalations`` conversations."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from halo.models import Membership

    workspace = harness.workspace_with_conversations(slug=SLUG, conversations=escalations, body="I need a human")
    cookies = []
    for n in range(sockets):
        user, _ = get_user_model().objects.get_or_create(username=f"b2-teammate-{n}@bench.test")
        Membership.objects.create(workspace=workspace, user=user)
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies["sessionid"].value)
    return int(workspace.pk), cookies


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sockets", type=int, default=50)
    parser.add_argument("--escalations", type=int, default=300)
    parser.add_argument("--rate", type=float, default=15.0, help="escalations per second")
    parser.add_argument("--child", choices=["escalate", "group_send"], help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options.child:
        harness.setup_django(DATABASE, redis=True, migrate=False)
        if options.child == "escalate":
            escalate_all(options.escalations, options.rate)
        else:
            group_send_all(options.escalations, options.rate)
        return 0

    env = harness.setup_django(DATABASE, redis=True)
    harness.redis_flush()
    workspace_id, cookies = prepare(options.sockets, options.escalations)
    # This client holds Django and every receive time: a full collection of that heap paused its loop for
    # 90-160 ms (measured with gc.callbacks), which landed on the sockets' receive times. The startup heap
    # is frozen, so a collection only walks what the run allocates.
    gc.collect()
    gc.freeze()
    port = harness.free_port()
    command = [
        sys.executable, "-m", "uvicorn", "halo.asgi:application", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "2", "--lifespan", "off", "--ws-per-message-deflate", "false", "--log-level", "warning",
        "--no-access-log",
    ]  # fmt: skip
    log = LOG_DIR / "halo_bench_live_uvicorn.log"
    with harness.process_running(command, env=env, log=log) as server:
        harness.wait_until(lambda: harness.port_open(port), timeout=30, what="uvicorn", process=server)
        baseline = asyncio.run(baseline_phase(options.sockets, options.escalations, options.rate, env))
        url = f"ws://127.0.0.1:{port}/ws/inbox/?workspace={workspace_id}"
        sockets, committed, hooks, tail_seconds = asyncio.run(
            sockets_phase(url, f"http://127.0.0.1:{port}", cookies, options.escalations, options.rate, env)
        )
    harness.redis_flush()  # the escalations' Celery jobs (no worker runs here)

    latencies = [
        (at - committed[seq]) * 1000 for sock in sockets for seq, at in sock.received.items() if seq in committed
    ]
    first_socket: dict[int, float] = {}
    for sock in sockets:
        for seq, at in sock.received.items():
            if seq in committed:
                first_socket[seq] = min(first_socket.get(seq, at), at)
    first_latencies = [(at - committed[seq]) * 1000 for seq, at in first_socket.items()]
    expected_last = max(committed)
    lost = sum(len(set(range((sock.first_seq or 0) + 1, expected_last + 1)) - sock.seen) for sock in sockets)
    replayed = sum(len(sock.replayed) for sock in sockets)
    duplicates = sum(sock.duplicates for sock in sockets)
    reconnects = sum(sock.reconnects for sock in sockets)
    resyncs = sum(sock.resyncs for sock in sockets)

    def row(label: str, values: list[float]) -> tuple[object, ...]:
        return (
            label,
            f"{len(values):,}",
            f"{harness.percentile(values, 50):.1f}",
            f"{harness.percentile(values, 95):.1f}",
            f"{harness.percentile(values, 99):.1f}",
            f"{max(values):.1f}",
        )

    print(
        f"\nB2 live inbox: {options.escalations} escalations at {options.rate:g}/s, {options.sockets} sockets "
        f"(uvicorn 2 workers, Redis layer, PostgreSQL)\n{harness.machine_load()}\n"
    )
    harness.print_table(
        ("path", "deliveries", "p50 ms", "p95 ms", "p99 ms", "max ms"),
        [
            row(f"bare channel layer group_send → receive, {options.sockets} channels (baseline)", baseline),
            row("escalating process: commit → on-commit hooks done (incl. group_send)", hooks),
            row("escalation commit → event on the first socket", first_latencies),
            row(f"escalation commit → event on {options.sockets} staff sockets", latencies),
        ],
    )
    p50_ratio = harness.percentile(latencies, 50) / harness.percentile(baseline, 50)
    p99 = harness.percentile(latencies, 99)
    print(
        f"\nratio p50 socket / baseline: {p50_ratio:.1f}x; events per socket: {len(committed)}; "
        f"sockets dropped and reconnected: {reconnects}; events replayed after reconnect: {replayed}; "
        f"duplicates dropped: {duplicates}; resyncs: {resyncs}; lost: {lost}; "
        f"tail after the last commit: {tail_seconds:.2f} s"
    )
    ok = lost == 0 and resyncs == 0 and p99 <= TARGET_P99_MS
    print(f"{'PASS' if ok else 'FAIL'}: lost {lost} (target 0), p99 {p99:.1f} ms (target ≤ {TARGET_P99_MS:.0f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
