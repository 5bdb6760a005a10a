"""Django's Redis cache, keeping one Redis client per connection pool, and the rate limits' request window
in one round trip.

Django's ``RedisCacheClient`` builds a new ``redis.Redis`` around the pool on every cache call, which copies
the client's table of response callbacks each time; a widget message makes several cache calls (its rate
limit, the median reply time). A ``redis.Redis`` is safe to share between threads: each command borrows a
connection from the pool.

``request_window_add`` is the sliding window of DRF's ``SimpleRateThrottle`` (the times of the requests let
through in the last ``window`` seconds, newest first; a request is refused while ``limit`` of them remain,
and a refused request is not added) kept in a Redis list by a script: one atomic round trip where DRF's
``get`` then ``set`` of the pickled history takes two, and two concurrent requests can no longer both read
the same history and let one more through than the limit.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from redis import Redis
from redis.commands.core import Script

# KEYS[1]: the window, newest first; ARGV: now, window (seconds), limit. Drops the times at or before
# now - window (DRF's test), then refuses ({0, the times left}) or adds now and renews the key's expiry ({1}).
_REQUEST_WINDOW_SCRIPT = """
local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
while true do
  local oldest = redis.call('LINDEX', key, -1)
  if not oldest or tonumber(oldest) > now - window then break end
  redis.call('RPOP', key)
end
if redis.call('LLEN', key) >= limit then
  return {0, redis.call('LRANGE', key, 0, -1)}
end
redis.call('LPUSH', key, ARGV[1])
redis.call('EXPIRE', key, ARGV[2])
return {1}
"""


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, tuple[Redis, Script]] = {}  # by id() of the pool, kept for the client's life

    def _client_and_script(self, write: bool) -> tuple[Redis, Script]:
        django: Any = self  # django-stubs declare only the public methods; these two are Django's own
        pool = django._get_connection_pool(write)
        found = self._clients.get(id(pool))
        if found is None:
            client = django._client(connection_pool=pool)
            # The script is sent by its digest (EVALSHA), and loaded again if Redis lost it (a restart).
            found = self._clients[id(pool)] = (client, client.register_script(_REQUEST_WINDOW_SCRIPT))
        return found

    def get_client(self, key: Any = None, *, write: bool = False) -> Redis:
        return self._client_and_script(write)[0]

    def request_window_add(self, key: str, *, now: float, window: int, limit: int) -> list[float] | None:
        _client, script = self._client_and_script(write=True)
        result = script(keys=[key], args=[repr(now), window, limit])
        return None if result[0] == 1 else [float(value) for value in result[1]]


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def request_window_add(self, key: str, *, now: float, window: int, limit: int) -> list[float] | None:
        """Add a request at ``now`` to the window under ``key`` unless ``limit`` requests of the last ``window``
        seconds are in it already. None: added; else the times in the window, newest first (refused). The list
        has a key of its own: a key that ``set`` wrote (a pickled value) is never read as one."""
        django: Any = self  # Django's client (``RedisCacheClient`` above), absent from the type stubs
        client: RedisCacheClient = django._cache
        return client.request_window_add(
            self.make_and_validate_key(f"{key}:window"), now=now, window=window, limit=limit
        )
