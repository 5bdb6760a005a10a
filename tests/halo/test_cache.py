from pathlib import Path

from django.core.cache import caches
from django.test import override_settings

from tests.reliability.processes import RedisServer


def test_the_redis_cache_keeps_one_client_which_reconnects_after_a_redis_restart(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        with override_settings(CACHES={"default": {"BACKEND": "halo.cache.RedisCache", "LOCATION": server.url}}):
            cache = caches["default"]
            cache.set("greeting", "hello", 60)
            client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
            assert cache.get("greeting") == "hello"
            assert cache._cache.get_client() is client  # type: ignore[attr-defined]

            server.stop()
            server.start()  # same port, nothing kept

            assert cache.get("greeting") is None
            cache.set("greeting", "hello again", 60)
            assert cache.get("greeting") == "hello again"
            assert cache._cache.get_client() is client  # type: ignore[attr-defined]
    finally:
        server.stop()
