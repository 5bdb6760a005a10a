"""``ManualClock``: Halo's clock (``halo.clock``) moved forward by the test instead of by waiting.

It runs with the real time plus everything ``advance`` added, so rows stamped by database defaults (real
time) stay in order with those the code stamps from the clock, and code that measures a short real
interval still sees time pass. The suite's ``clock`` fixture installs one for a test.
"""

import threading
from datetime import datetime, timedelta

from halo.clock import Clock


class ManualClock(Clock):
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def advance_to(self, moment: datetime) -> None:
        """Move forward to ``moment`` (a time the code stored, e.g. a row's next attempt); never back."""
        self.advance(max(0.0, (moment - self.now()).total_seconds()))

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        return super().monotonic() + self._offset


class StoppedClock(ManualClock):
    """``halo.clock``'s monotonic time stopped where it was made, moved on only by ``advance``: a pause of a few
    seconds then lasts until the test steps over it, however slowly a loaded machine runs the requests."""

    def __init__(self) -> None:
        super().__init__()
        self._start = Clock.monotonic(self)

    def monotonic(self) -> float:
        return self._start + self._offset


class FixedClock(ManualClock):
    """``halo.clock`` stopped at ``moment`` (a Monday morning in Berlin, the night the clocks change), moved on
    only by ``advance``: for rules that depend on the time of day or the calendar, not on elapsed time."""

    def __init__(self, moment: datetime) -> None:
        super().__init__()
        self._moment = moment

    def now(self) -> datetime:
        return self._moment + timedelta(seconds=self._offset)
