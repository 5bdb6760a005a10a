"""Smoke test of the README's run command: ``make run`` starts Halo on the embedded defaults with demo data."""

import os
import urllib.request

import pytest

from tests.support.processes import free_port, process_running, wait_until


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def serving(url: str) -> bool:
    try:
        get(url)
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_make_run_serves_healthz_and_the_login_page(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL", "HALO_ENV")}
    env.update({"HOST": "127.0.0.1", "PORT": str(port), "HALO_DATA_DIR": str(tmp_path / "data")})
    log = tmp_path / "run.log"
    base = f"http://127.0.0.1:{port}"

    with process_running(["make", "run"], env=env, log=log, stop_timeout=30) as process:
        try:  # make installs the requirements first when they changed: minutes, not seconds
            wait_until(lambda: serving(f"{base}/healthz"), timeout=240, what="/healthz", process=process, interval=0.2)
        except (TimeoutError, RuntimeError) as error:
            raise AssertionError(log.read_text()[-3000:]) from error
        output = log.read_text()

        assert get(f"{base}/healthz") == (200, '{"status": "ok", "database": "ok"}'), output
        status, login_page = get(f"{base}/accounts/login/")
        assert status == 200
        assert "Log in to Halo" in login_page
        assert f"Halo is running at {base}/" in output
        assert "admin@acme.test" in output
