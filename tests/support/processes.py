"""Processes and ports, for the tests and the benchmarks alike: a free loopback port, waiting for a
condition by polling, and a subprocess that runs for the length of a ``with`` block.

``wait_until`` polls every ``interval`` (50 ms by default) instead of sleeping a fixed time, so a test waits
only as long as the process takes. ``process_running`` starts the command in its own session (process
group), so the process and every child it starts (make, gunicorn's workers, a Celery pool) are stopped
together: SIGTERM, then SIGKILL after ``stop_timeout``.
"""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    """Something accepts connections on the loopback ``port``."""
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until(
    condition: Callable[[], object],
    *,
    timeout: float,
    what: str,
    process: "subprocess.Popen[Any] | None" = None,
    interval: float = 0.05,
) -> None:
    """Return as soon as ``condition()`` is true; raise ``TimeoutError`` after ``timeout`` seconds, or
    ``RuntimeError`` at once if ``process`` exits first (what it waited for will not come)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with status {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@contextmanager
def process_running(
    command: Sequence[str],
    *,
    env: dict[str, str],
    log: Path | None = None,
    stdout: int | IO[Any] | None = None,
    cwd: Path = ROOT,
    stop_timeout: float = 15,
) -> Iterator["subprocess.Popen[bytes]"]:
    """Run ``command`` for the duration of the block, its output to ``log`` (else to ``stdout``, else
    inherited); then stop it and its children (SIGTERM to its process group, SIGKILL if it lingers)."""
    with log.open("wb") if log is not None else _no_file() as output:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdout=output if output is not None else stdout,
            stderr=subprocess.STDOUT if output is not None else None,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def _no_file() -> Iterator[None]:
    yield None
