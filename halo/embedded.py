"""The embedded default's background runtime: a Celery worker and the outbox sweep, in threads of one process.

``manage.py serve`` starts it beside the ASGI server when no ``REDIS_URL`` is set. The worker is Celery's
own ``WorkController`` on the ``memory://`` broker with a thread pool (what ``celery.contrib.testing.worker``
does), so background work gets real retries with backoff and never runs inside a request; because it
shares the process, live pushes through the in-memory channel layer reach the sockets this process
serves. The broker keeps nothing across a restart, so the database outbox is the source of truth: the sweep
re-sends everything pending at start-up and then every ``OUTBOX_SWEEP_INTERVAL`` seconds.
"""

import logging
import threading
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.worker import WorkController, state
from django.db import close_old_connections, connection

from halo.outbox import outbox_sweep

logger = logging.getLogger(__name__)


class _SignallingWorkController(WorkController):  # type: ignore[misc]
    """A worker that tells the thread that started it when it consumes from the broker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.consuming = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer: Any) -> None:
        self.consuming.set()


class EmbeddedRuntime:
    """Starts and stops the in-process worker and the sweep timer. One per process."""

    def __init__(self, *, app: Celery, sweep_interval: float, concurrency: int = 4, loglevel: str = "WARNING") -> None:
        self.app = app
        self.sweep_interval = sweep_interval
        self.concurrency = concurrency
        self.loglevel = loglevel
        self.worker: _SignallingWorkController | None = None
        self._worker_thread: threading.Thread | None = None
        self._sweep_thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self, *, timeout: float = 30) -> None:
        self.app.finalize()
        self.worker = _SignallingWorkController(
            app=self.app,
            hostname="embedded@halo",
            pool="threads",
            concurrency=self.concurrency,
            loglevel=self.loglevel,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self._worker_thread = threading.Thread(target=self.worker.start, name="halo-worker", daemon=True)
        self._worker_thread.start()
        if not self.worker.consuming.wait(timeout):
            raise RuntimeError("The embedded Celery worker did not start.")
        self._sweep_thread = threading.Thread(target=self._sweep_loop, name="halo-outbox-sweep", daemon=True)
        self._sweep_thread.start()

    def _sweep_loop(self) -> None:
        # At start-up nothing can be in flight yet, so everything pending is re-sent at once.
        stale_after: timedelta | None = timedelta(0)
        try:
            while not self._stopping.is_set():
                try:
                    sent = outbox_sweep(stale_after=stale_after)
                    if sent:
                        logger.info("outbox sweep: re-sent %d message(s)", sent)
                except Exception:  # a locked or unreachable database: log it and try again next round
                    logger.exception("outbox sweep failed")
                finally:
                    close_old_connections()
                stale_after = None
                self._stopping.wait(self.sweep_interval)
        finally:
            connection.close()

    def stop(self, *, timeout: float = 30) -> None:
        """Warm shutdown: running tasks finish; what was queued stays in the outbox for the next start."""
        self._stopping.set()
        if self._worker_thread is not None:
            state.should_stop = 0  # the worker's loop checks this flag and shuts down warm
            self._worker_thread.join(timeout)
            state.should_stop = None
        if self._sweep_thread is not None:
            self._sweep_thread.join(timeout)
