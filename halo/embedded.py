"""The embedded default's background runtime: a Celery worker and beat, in threads of the serving process.

``manage.py serve`` starts it beside the ASGI server when no ``REDIS_URL`` is set. The worker is Celery's
own ``WorkController`` on the ``memory://`` broker with a thread pool (what ``celery.contrib.testing.worker``
does), so background work gets real retries with backoff and never runs inside a request; because it
shares the process, live pushes through the in-memory channel layer reach the sockets this process
serves (``halo.layers``). Beat runs as a thread too (``celery.beat.EmbeddedService``), so the periodic
jobs of ``CELERY_BEAT_SCHEDULE`` — the outbox sweep every ``OUTBOX_SWEEP_INTERVAL`` seconds among them —
run exactly as they do in production. The broker keeps nothing across a restart, so the database outbox is
the source of truth: at start-up everything still pending is re-sent at once.
"""

import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from celery import _state as celery_state
from celery.beat import EmbeddedService
from celery.worker import WorkController, state
from django.db import connection

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
    """Starts and stops the in-process worker and beat. One per process.

    ``beat_schedule_file`` is where beat remembers when each periodic job last ran; without it, no beat runs
    (the start-up sweep still does).
    """

    def __init__(
        self,
        *,
        app: Celery,
        beat_schedule_file: Path | None = None,
        concurrency: int = 4,
        loglevel: str = "WARNING",
    ) -> None:
        self.app = app
        self.beat_schedule_file = beat_schedule_file
        self.concurrency = concurrency
        self.loglevel = loglevel
        self.worker: _SignallingWorkController | None = None
        self._worker_thread: threading.Thread | None = None
        self._beat: Any = None
        self._previous_default_app: Celery | None = None

    def start(self, *, timeout: float = 30) -> None:
        self.app.finalize()
        # The pool's threads look tasks up in Celery's *default* app (they have no current app of their own),
        # as ``celery.contrib.testing.worker`` knows: make it ours while we run, restore it when we stop.
        self._previous_default_app = celery_state.default_app
        self.app.set_default()
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
        self._resend_pending()
        if self.beat_schedule_file is not None:
            self._beat = EmbeddedService(self.app, thread=True, schedule_filename=str(self.beat_schedule_file))
            self._beat.start()

    def _resend_pending(self) -> None:
        # Nothing can be in flight yet in a process that just started: everything pending goes now.
        try:
            sent = outbox_sweep(stale_after=timedelta(0))
            if sent:
                logger.info("outbox: re-sent %d message(s) queued before the restart", sent)
        finally:
            connection.close()

    def stop(self, *, timeout: float = 30) -> None:
        """Warm shutdown: running tasks finish; what was queued stays in the outbox for the next start."""
        if self._beat is not None:
            self._beat.stop()
            self._beat.join(timeout)
        if self._worker_thread is not None:
            state.should_stop = 0  # the worker's loop checks this flag and shuts down warm
            self._worker_thread.join(timeout)
            state.should_stop = None
            celery_state.set_default_app(self._previous_default_app)
