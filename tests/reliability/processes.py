"""Halo's own processes for the fault tests: a throwaway Redis server, web servers and a Celery worker that
share the test run's PostgreSQL database, each started, stopped or killed on its own; ``OutboxWorkers``, the
workers of a "worker killed mid-delivery" test one after another; and a local HTTP receiver served on a thread.
Ports, waiting and the process lifecycle are ``tests.support.processes`` (shared with the benchmarks)."""

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.db import connection

from tests.support.processes import free_port, port_open, process_running, wait_until

BIN = Path(sys.executable).parent


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("processes share the test database: needs PostgreSQL (DATABASE_URL)")


def process_env(*, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a Halo process that uses this test run's database and the given Redis."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "halo.settings",
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "SECRET_KEY": settings.SECRET_KEY,
        "HALO_DATA_DIR": str(data_dir),
        "CONN_MAX_AGE": "0",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


class RedisServer:
    """A Redis of the test's own on a free port (never the shared one), without persistence."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.data_dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), timeout=10, what="redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
        wait_until(lambda: not port_open(self.port), timeout=10, what="redis-server to stop")


@contextmanager
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.process.kill()
            server.process.wait()


@contextmanager
def halo_process(
    command: list[str], *, env: dict[str, str], log: Path, port: int | None = None
) -> Iterator["subprocess.Popen[bytes]"]:
    """Run a Halo process for the block (it and its children stop together); with ``port``, once it listens."""
    with process_running(command, env=env, log=log) as process:
        if port is not None:
            wait_until(lambda: port_open(port) or process.poll() is not None, timeout=30, what=" ".join(command[:3]))
            assert process.poll() is None, log.read_text()[-3000:]
        yield process


def gunicorn(port: int) -> list[str]:
    return [str(BIN / "gunicorn"), "halo.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"]


def uvicorn(port: int) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        "halo.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "off",
    ]


def celery_worker(schedule: Path) -> list[str]:
    """A worker with an embedded beat (the outbox sweep), as ``worker`` + ``beat`` of the Procfile."""
    return [
        str(BIN / "celery"),
        "-A",
        "halo",
        "worker",
        "--beat",
        "--schedule",
        str(schedule),
        "--loglevel",
        "WARNING",
        "--pool",
        "threads",
        "--concurrency",
        "4",
        "--without-gossip",
        "--without-mingle",
    ]


class OutboxWorkers:
    """Celery workers started one after another on the same Redis and database (worker-1, worker-2, ...; each
    its own beat schedule and log in ``data_dir``), with the outbox sweep every second — the tests write
    outbox rows without sending them, so the sweep is what delivers — and loopback receivers allowed."""

    def __init__(self, *, redis: RedisServer, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.env = process_env(
            redis_url=redis.url, data_dir=data_dir, OUTBOX_SWEEP_INTERVAL="1", HALO_OUTBOUND_ALLOW_HOSTS="127.0.0.1"
        )
        self.started = 0

    @contextmanager
    def running(self) -> Iterator["subprocess.Popen[bytes]"]:
        """The next worker, for the block."""
        self.started += 1
        command = celery_worker(self.data_dir / f"beat-{self.started}")
        with halo_process(command, env=self.env, log=self.data_dir / f"worker-{self.started}.log") as worker:
            yield worker

    def kill_one_when(self, condition: Callable[[], object], *, what: str) -> None:
        """Start a worker, wait until ``condition`` shows it in the middle of its work, and SIGKILL it with its
        children (nothing of it runs any more on return)."""
        with self.running() as worker:
            wait_until(condition, timeout=60, what=what)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)

    def run_one_until(self, condition: Callable[[], object], *, what: str) -> None:
        """Start a worker and keep it running until ``condition`` holds."""
        with self.running():
            wait_until(condition, timeout=60, what=what)


@contextmanager
def outbox_workers(tmp_path: Path) -> Iterator[OutboxWorkers]:
    """``OutboxWorkers`` on a Redis of the test's own, for the block."""
    with redis_server(tmp_path) as redis:
        yield OutboxWorkers(redis=redis, data_dir=tmp_path)


def row_done(row: Any) -> Callable[[], bool]:
    """A condition for ``wait_until``: the outbox row was delivered (read afresh at each poll)."""

    def done() -> bool:
        row.refresh_from_db()
        return bool(row.state == "done")

    return done


Server = TypeVar("Server", bound=ThreadingHTTPServer)


@contextmanager
def http_server_running(server: Server) -> Iterator[Server]:
    """Serve ``server`` on a thread for the block, then stop it and close its socket (which waits for its
    request threads: a handler still waiting must be released before the block ends)."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def http_json(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, text.decode(errors="replace")
