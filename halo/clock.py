"""Halo's clock: where code that pauses, leases, backs off or rate-limits reads the time.

``now()`` gives the aware datetime stored in the database (leases, due times, a webhook's next send slot);
``monotonic()`` gives seconds for intervals inside one process (a pause after a failure). Both ask the
installed ``Clock``, which is the real one except under ``clock_use``: a test installs a clock it moves
forward itself, so a five-second pause or a 429's ``Retry-After`` passes without the test sleeping.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.utils import timezone


class Clock:
    """The real time."""

    def now(self) -> datetime:
        return timezone.now()

    def monotonic(self) -> float:
        return time.monotonic()


_installed: Clock = Clock()


def now() -> datetime:
    return _installed.now()


def monotonic() -> float:
    return _installed.monotonic()


@contextmanager
def clock_use(clock: Clock) -> Iterator[Clock]:
    """Every reading of ``halo.clock`` in this process (all threads) asks ``clock`` inside the block."""
    global _installed
    previous, _installed = _installed, clock
    try:
        yield clock
    finally:
        _installed = previous
