"""Settings of the B1 benchmark server: Halo's own, plus a DRF hello-world endpoint (the baseline)."""

from halo.settings import *  # noqa: F403

ROOT_URLCONF = "b1_urls"
