"""Settings of the B1 benchmark server: Halo's own, plus a DRF hello-world endpoint (the baseline) and the
benchmark's query-counting middleware (``bench/querycount.py``: it does nothing unless a request asks for it)."""

from halo.settings import *  # noqa: F403
from halo.settings import MIDDLEWARE

ROOT_URLCONF = "b1_urls"
MIDDLEWARE = ["querycount.QueryCountMiddleware", *MIDDLEWARE]
