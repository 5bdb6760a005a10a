"""pytest-xdist workers share one Redis: each worker takes a database number and a channel-layer prefix of
its own, so one worker's ``cache.clear()`` or broadcast never reaches another worker's tests.

Loaded with ``-p tests.xdist_env`` (``pyproject.toml``), so it runs before pytest-django reads Django's
settings, which read these variables; processes a test starts inherit them. Outside xdist it does nothing.
"""

import os
from urllib.parse import urlsplit, urlunsplit

REDIS_DATABASES = 16
# The browser test of the Redis layer uses this Redis unless told otherwise (tests/agents/test_browser.py).
BROWSER_REDIS_DEFAULT = "redis://127.0.0.1:6379/3"


def _with_database(url: str, offset: int) -> str:
    parts = urlsplit(url)
    database = int(parts.path.lstrip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(database + offset) % REDIS_DATABASES}"))


def _isolate_worker(worker: str) -> None:
    offset = 1 + int(worker.removeprefix("gw"))
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = _with_database(os.environ["REDIS_URL"], offset)
    os.environ["HALO_TEST_REDIS_URL"] = _with_database(
        os.environ.get("HALO_TEST_REDIS_URL", BROWSER_REDIS_DEFAULT), offset
    )
    os.environ["CHANNEL_LAYER_PREFIX"] = f"asgi-{worker}"


_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw") and _worker[2:].isdigit():
    _isolate_worker(_worker)
