"""Rate limits of the server API, per workspace (shared by every web process through the cache).

``CacheRateThrottle`` is the base of every throttle of the project: it keeps its counters in the cache
(Redis in production) and **fails open** when the cache cannot be reached. A Redis outage then costs the
rate limits for its duration, never the widget or the server API themselves (reliability bar R3); each
request let through that way is logged as a warning.
"""

import logging
from typing import Any

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from halo.api.authentication import WorkspaceClient

logger = logging.getLogger(__name__)


class CacheRateThrottle(SimpleRateThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            logger.warning("rate limit %r not checked: the cache is unreachable", self.scope)
            return True


class WorkspaceRateThrottle(CacheRateThrottle):
    scope = "workspace"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.user, WorkspaceClient):
            return self.cache_format % {"scope": self.scope, "ident": request.user.workspace.pk}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
