"""Settings of Halo as the peer benchmark serves it: Halo's own, with the benchmark's query-counting middleware
first (it does nothing unless a request asks for it with ``X-Bench-Count: 1``)."""

from halo.settings import *  # noqa: F403
from halo.settings import MIDDLEWARE

MIDDLEWARE = ["querycount.QueryCountMiddleware", *MIDDLEWARE]
