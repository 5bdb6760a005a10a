"""Smoke test of the README's run command: ``make run`` starts Halo on the embedded defaults with demo data."""

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


@pytest.mark.slow
def test_make_run_serves_healthz_and_the_login_page(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL", "HALO_ENV")}
    env.update({"HOST": "127.0.0.1", "PORT": str(port), "HALO_DATA_DIR": str(tmp_path / "data")})
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        ["make", "run"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.5)
        log.seek(0)
        output = log.read()
        assert health == (200, '{"status": "ok", "database": "ok"}'), output

        status, login_page = get(f"{base}/accounts/login/")
        assert status == 200
        assert "Log in to Halo" in login_page
        assert f"Halo is running at {base}/" in output
        assert "admin@acme.test" in output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
