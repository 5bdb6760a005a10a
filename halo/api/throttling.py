"""Rate limits of the server API, per workspace (shared by every web process through the cache).

``CacheRateThrottle`` is the base of every throttle of the project: it keeps its counters in the cache
(Redis in production) and **fails open** when the cache cannot be reached. A Redis outage then costs the
rate limits for its duration, never the widget or the server API themselves (reliability bar R3). A Redis
that does not answer costs each cache call its socket timeout (1 s), so after one failure the process
leaves the throttles' cache alone for ``CACHE_PAUSE_SECONDS`` (``halo.pause.FailurePause``, as the outbox
and the channel layer do): the requests meanwhile are let through at once, and one warning is logged per
pause, not one per request.

On Redis the window DRF keeps per client (its sliding window of request times) is checked and extended in
one atomic round trip (``halo.cache.RedisCache.request_window_add``); in the process's memory (the embedded
default) DRF's own ``get`` and ``set`` of the history do it. The time is ``halo.clock``'s.

Throttles count per client address (``client_address``): behind proxies, ``TRUSTED_PROXIES`` says how many
``X-Forwarded-For`` hops to trust, so a client cannot pick a new identity per request by sending the header.
"""

import hashlib
import ipaddress
import logging
from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.http import HttpRequest
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from halo import clock
from halo.api.authentication import WorkspaceClient
from halo.cache import RedisCache
from halo.pause import FailurePause

logger = logging.getLogger(__name__)

# After a failed cache call, how long this process lets every request through without asking the cache.
CACHE_PAUSE_SECONDS = 5.0
_cache_pause = FailurePause()


def _cache_location() -> str:
    """What a pause is about: the throttles' cache (``SimpleRateThrottle.cache`` is the default cache), by
    its location, so a pause ends when the settings point the cache elsewhere."""
    return str(settings.CACHES[DEFAULT_CACHE_ALIAS].get("LOCATION", ""))


def _address(text: object) -> str | None:
    """``text`` as an IP address in its one spelling, or None. Accepts the forms proxies write: ``1.2.3.4``,
    ``1.2.3.4:5678``, ``2001:db8::1``, ``[2001:db8::1]:5678``."""
    value = str(text or "").strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_address(request: HttpRequest | Request) -> str | None:
    """The client's address: the connecting one, or with ``TRUSTED_PROXIES`` = N (DRF's ``NUM_PROXIES``) the
    N-th hop from the right of ``X-Forwarded-For``, the one the outermost trusted proxy saw. Never the whole
    header, which a client writes as it likes. A hop that is not an address (a header longer than the proxies
    that wrote it, a broken proxy) counts as the connecting address. None only when there is no address at
    all (a request made in a test). Every throttle and the login lock-out key on this."""
    drf_request = request if isinstance(request, Request) else Request(request)
    return _address(BaseThrottle().get_ident(drf_request)) or _address(drf_request.META.get("REMOTE_ADDR"))


class CacheRateThrottle(SimpleRateThrottle):
    def get_ident(self, request: Request) -> str:
        return client_address(request) or ""

    # Set by ``SimpleRateThrottle.__init__`` from the rate (absent from the type stubs).
    num_requests: int
    duration: int

    def timer(self) -> float:
        """Now, in seconds since the epoch (the window is shared by every process): ``halo.clock``'s."""
        return clock.now().timestamp()

    def allow_request(self, request: Request, view: Any) -> bool:
        location = _cache_location()
        if _cache_pause.active(location):
            return True
        try:
            return self._window_allows(request, view)
        except (RedisError, OSError):
            _cache_pause.start(location, CACHE_PAUSE_SECONDS)
            logger.warning(
                "rate limits not checked for %.0f s: the cache is unreachable (scope %r)",
                CACHE_PAUSE_SECONDS,
                self.scope,
            )
            return True

    def _window_allows(self, request: Request, view: Any) -> bool:
        """DRF's sliding window (``SimpleRateThrottle.allow_request``); on Redis in one round trip
        (``halo.cache.RedisCache.request_window_add``), elsewhere (the process's memory) DRF's own."""
        cache = caches[DEFAULT_CACHE_ALIAS]
        if not isinstance(cache, RedisCache):
            return bool(super().allow_request(request, view))
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        refused = cache.request_window_add(self.key, now=self.now, window=self.duration, limit=self.num_requests)
        if refused is None:
            return True
        self.history = refused  # what DRF's ``wait`` (the 429's Retry-After) reads
        return bool(self.throttle_failure())


class WorkspaceRateThrottle(CacheRateThrottle):
    scope = "workspace"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.user, WorkspaceClient):
            return self.cache_format % {"scope": self.scope, "ident": request.user.workspace.pk}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PasswordResetAddressThrottle(CacheRateThrottle):
    """Password-reset mails asked for from one client address (``halo.views.PasswordResetView``)."""

    scope = "password_reset_address"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class PasswordResetAccountThrottle(CacheRateThrottle):
    """Password-reset mails asked for one email (normalised by the caller), from anywhere."""

    scope = "password_reset_account"

    def __init__(self, *, email: str) -> None:
        super().__init__()
        self.email = email

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": hashlib.sha256(self.email.encode()).hexdigest()}


def cache_available() -> bool:
    """Whether the cache may be asked now: not while a failure paused it (the rate limits' own pause, so a
    cache that does not answer costs a request one timeout, whoever asked it first)."""
    return not _cache_pause.active(_cache_location())


def cache_failed(scope: str) -> None:
    """The cache failed a caller other than the rate limits: leave it alone for a few seconds, as they do."""
    _cache_pause.start(_cache_location(), CACHE_PAUSE_SECONDS)
    logger.warning("cache not used for %.0f s: it is unreachable (%s)", CACHE_PAUSE_SECONDS, scope)
