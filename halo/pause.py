"""``FailurePause``: after a remote service failed, leave it alone for a few seconds.

A Redis that is down or does not answer costs every attempt its timeout. The outbox's broker publish and
the channel layer's broadcasts each have their own recovery (the sweep; event replay and ``?after=``), so a
process that has just seen one fail skips the next attempts for a moment instead of making every request
that follows wait for the same timeout. The pause is measured on ``halo.clock`` (monotonic seconds), so a
test moves past it without waiting.
"""

from halo import clock


class FailurePause:
    """One pause per process and use: ``start(target, seconds)`` after a failure; ``active(target)`` says
    whether attempts on that target (a broker URL, a layer instance) are to be skipped for now."""

    def __init__(self) -> None:
        self._until: tuple[object, float] | None = None  # (what failed, monotonic time the pause ends)

    def active(self, target: object) -> bool:
        until = self._until
        return until is not None and until[0] == target and clock.monotonic() < until[1]

    def start(self, target: object, seconds: float) -> None:
        self._until = (target, clock.monotonic() + seconds)
