"""The browser-test harness: a Halo server subprocess over a fresh, seeded data directory, and headless Chromium.

``halo_server_running`` migrates and seeds (``seed_demo``) a SQLite data directory of its own, whatever
``DATABASE_URL`` and ``REDIS_URL`` the suite runs with (the server is a separate process and must not touch
the test database), starts the server command on a free loopback port, waits for ``/healthz`` and yields
the base URL. ``widget_ask`` sends a visitor's message from the widget demo page. The ``browser`` fixture
(registered for the whole suite in ``tests/conftest.py``) launches the system Chromium through Playwright,
or skips the test where Chromium is not installed (fails instead under CI, which installs it); every page
it opens reports Content-Security-Policy violations, and a browser test that caused one fails. So a test waits
with a locator (``locator.wait_for``, ``nth(n).wait_for``) or polls from Python (``wait_until`` around a
``count()`` or a plain ``evaluate``), never with ``wait_for_function``: Playwright compiles its predicate in
the page, which the pages' policy (no eval) refuses.
"""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.support.processes import ROOT, free_port, process_running, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def server_env(data_dir: Path, **extra_env: str) -> dict[str, str]:
    """The environment of a Halo subprocess over ``data_dir``: without the suite's database and Redis."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"HALO_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "halo.settings", **extra_env})
    return env


def uvicorn_command(port: int) -> list[str]:
    """The ASGI application alone under uvicorn (no embedded worker)."""
    uvicorn = [sys.executable, "-m", "uvicorn", "halo.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    return [*uvicorn, "--lifespan", "off", "--log-level", "warning"]


def serve_command(port: int) -> list[str]:
    """The embedded default (``manage.py serve``: uvicorn, in-memory channel layer, in-process worker)."""
    return [*MANAGE, "serve", "--port", str(port), "--log-level", "warning"]


@contextmanager
def halo_server_running(
    data_dir: Path,
    *,
    command: Callable[[int], list[str]],
    start_timeout: float,
    stop_timeout: float,
    stdout: int | IO[Any] | None = None,
    **extra_env: str,
) -> Iterator[str]:
    env = server_env(data_dir, **extra_env)
    subprocess.run([*MANAGE, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*MANAGE, "seed_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with process_running(command(port), env=env, stdout=stdout, stop_timeout=stop_timeout) as server:
        wait_until(lambda: _healthy(url), timeout=start_timeout, what="the Halo server", process=server)
        yield url


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def widget_ask(page: Any, base_url: str, text: str) -> None:
    """Open the widget on the demo page, send ``text`` and return once the AI has answered."""
    page.goto(f"{base_url}/widget/demo/?open=1")
    page.wait_for_selector("[data-halo-widget][data-ready='true']")
    page.fill(".halo-input", text)
    page.click(".halo-send")
    page.wait_for_selector(".halo-message--ai", timeout=15_000)


# Runs before any script of every page: each Content-Security-Policy violation becomes a console error.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} blocked ${event.blockedURI || "inline"} `
    + `(${event.sourceFile || "page"}:${event.lineNumber})`);
});
"""


class CheckedBrowser:
    """Chromium whose pages report every Content-Security-Policy violation (the page's own
    ``securitypolicyviolation`` events and Chromium's console errors about the policy) into ``violations``;
    ``_no_csp_violations`` fails the test that caused one. Everything else is Playwright's ``Browser``."""

    def __init__(self, chromium: Any) -> None:
        self._chromium = chromium
        self.violations: list[str] = []

    def _watch(self, page: Any) -> None:
        def on_console(message: Any) -> None:
            text = message.text
            if message.type == "error" and ("Content Security Policy" in text or text.startswith("CSP violation")):
                self.violations.append(f"{page.url}: {text}")

        page.on("console", on_console)

    def new_page(self, **options: Any) -> Any:
        page = self._chromium.new_page(**options)
        page.add_init_script(CSP_LISTENER)
        self._watch(page)
        return page

    def new_context(self, **options: Any) -> Any:
        context = self._chromium.new_context(**options)
        context.add_init_script(CSP_LISTENER)
        context.on("page", self._watch)
        return context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chromium, name)


@pytest.fixture(scope="module")
def browser() -> Iterator[CheckedBrowser]:
    if not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium"
        if os.environ.get("CI"):  # CI installs Chromium (.ci/run): a missing browser there is a failure
            pytest.fail(missing)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield CheckedBrowser(chromium)
        chromium.close()


@pytest.fixture(autouse=True)
def _no_csp_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every browser test runs under Halo's Content-Security-Policy: a blocked script, style, connection or
    frame fails it, with what was blocked and where."""
    if "browser" not in request.fixturenames:
        yield
        return
    checked: CheckedBrowser = request.getfixturevalue("browser")
    checked.violations.clear()
    yield
    assert checked.violations == [], "Content-Security-Policy violations:\n" + "\n".join(checked.violations)
