"""Django's Redis cache, keeping one Redis client per connection pool.

Django's ``RedisCacheClient`` builds a new ``redis.Redis`` around the pool on every cache call, which copies
the client's table of response callbacks each time; a widget message makes several cache calls (its rate
limit, the median reply time). A ``redis.Redis`` is safe to share between threads: each command borrows a
connection from the pool.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from redis import Redis


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Redis] = {}  # by id() of the pool, which Django keeps for the client's life

    def get_client(self, key: Any = None, *, write: bool = False) -> Redis:
        django: Any = self  # django-stubs declare only the public methods; these two are Django's own
        pool = django._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = django._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
