"""The rate limits' sliding window, the same on both caches: in the process's memory (DRF's ``get`` and ``set``
of the history) and on Redis (``halo.cache.RedisCache.request_window_add``, one round trip). A client gets
its limit per window, then a 429 telling it when to come back; refused requests do not count; the window
slides with the clock."""

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings
from rest_framework.test import APIClient

from escalation.api.widget.auth import WidgetRateThrottle
from halo.api.throttling import WorkspaceRateThrottle
from halo.cache import RedisCache
from halo.models import Workspace
from tests.agents.factories import AgentFactory
from tests.reliability.processes import RedisServer
from tests.support.clock import ManualClock

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["memory", "redis"])
def throttle_cache(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "memory":
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
        with override_settings(CACHES={"default": backend}):
            caches["default"].clear()
            yield request.param
        return
    url = request.getfixturevalue("redis_url")
    with override_settings(CACHES={"default": {"BACKEND": "halo.cache.RedisCache", "LOCATION": url}}):
        yield request.param


def test_a_client_gets_its_limit_per_window_and_refused_requests_do_not_count(
    throttle_cache: str, api: APIClient, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(WorkspaceRateThrottle.THROTTLE_RATES, "workspace", "3/min")

    def statuses(count: int) -> list[int]:
        return [api.get("/api/v1/contacts/u-1").status_code for _ in range(count)]

    first = statuses(4)
    refused = api.get("/api/v1/contacts/u-1").json()
    clock.advance(30)
    half_a_minute_later = api.get("/api/v1/contacts/u-1").json()
    clock.advance(31)  # the first three left the window; the refused ones were never in it
    a_minute_later = statuses(4)

    assert first == [404, 404, 404, 429]
    assert (refused["code"], half_a_minute_later["code"]) == ("throttled", "throttled")
    assert 58 <= refused["retry_after"] <= 60  # when the oldest leaves the window
    assert 28 <= half_a_minute_later["retry_after"] <= 30
    assert a_minute_later == [404, 404, 404, 429]


def test_the_window_is_per_client_address(
    throttle_cache: str, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    AgentFactory(workspace=workspace)
    monkeypatch.setattr(WidgetRateThrottle, "THROTTLE_RATES", {"widget": "2/min"})
    clients = [APIClient(REMOTE_ADDR=address) for address in ("10.0.0.1", "10.0.0.2")]

    statuses = [
        client.get(f"/api/widget/v1/config?app_id={workspace.app_id}").status_code
        for client in clients
        for _ in range(3)
    ]

    assert statuses == [200, 200, 429, 200, 200, 429]


def test_concurrent_requests_on_redis_never_get_past_the_limit(redis_url: str) -> None:
    with override_settings(CACHES={"default": {"BACKEND": "halo.cache.RedisCache", "LOCATION": redis_url}}):
        cache = caches["default"]
        assert isinstance(cache, RedisCache)
        results: list[Any] = []
        lock = threading.Lock()
        start = threading.Barrier(20)

        def hit() -> None:
            start.wait()
            outcome = cache.request_window_add("throttle_test_client", now=1000.0, window=60, limit=5)
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=hit) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sum(1 for outcome in results if outcome is None) == 5
    assert all(outcome == [1000.0] * 5 for outcome in results if outcome is not None)


def test_the_window_works_after_a_redis_restart(tmp_path: Path) -> None:
    """Redis forgets its scripts when it restarts: the next call loads the script again."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        with override_settings(CACHES={"default": {"BACKEND": "halo.cache.RedisCache", "LOCATION": server.url}}):
            cache = caches["default"]
            assert isinstance(cache, RedisCache)
            before = [cache.request_window_add("client", now=1000.0, window=60, limit=1) for _ in range(2)]
            server.stop()
            server.start()
            after = [cache.request_window_add("client", now=1000.5, window=60, limit=1) for _ in range(2)]
    finally:
        server.stop()

    assert before == [None, [1000.0]]
    assert after == [None, [1000.5]]
