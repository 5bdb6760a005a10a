"""``manage.py serve``: run Halo in one process on the embedded defaults, or just the ASGI server.

Serves HTTP and WebSockets with uvicorn (``lifespan="off"``, as Channels needs). Without ``REDIS_URL`` it
also runs the embedded background runtime (``halo.embedded``): a Celery worker and beat in threads, on
the ``memory://`` broker. With ``REDIS_URL`` set the worker and beat are separate processes
(``Procfile``), so ``serve`` starts only the server.
"""

import signal
import sys
from argparse import ArgumentParser
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from halo.celery import app as celery_app
from halo.demo import DEMO_ADMIN_EMAIL, DEMO_PASSWORD
from halo.embedded import EmbeddedRuntime

# uvicorn's log configuration with Halo's credential filter (halo.logs), shared with the Procfile's ws process.
UVICORN_LOG_CONFIG = Path(__file__).resolve().parents[2] / "uvicorn_logging.json"


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


class Command(BaseCommand):
    help = "Serve Halo (HTTP + WebSockets) and, on the embedded defaults, its background worker."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--log-level", default="info")

    def handle(self, *args: Any, host: str, port: int, log_level: str, **options: Any) -> None:
        runtime = None
        if settings.CELERY_EMBEDDED_WORKER:
            runtime = EmbeddedRuntime(app=celery_app, beat_schedule_file=settings.DATA_DIR / "celerybeat-schedule")
            runtime.start()
            self.stdout.write(
                "Background worker and beat: embedded (memory:// broker, outbox sweep every "
                f"{settings.OUTBOX_SWEEP_INTERVAL}s)."
            )
        else:
            self.stdout.write("Background worker: not embedded (REDIS_URL is set; run the Procfile's worker and beat).")
        server = uvicorn.Server(
            uvicorn.Config(
                "halo.asgi:application",
                host=host,
                port=port,
                lifespan="off",
                log_level=log_level,
                log_config=str(UVICORN_LOG_CONFIG),  # as the Procfile's ws process: credentials redacted
                # The client address is Django's to judge (TRUSTED_PROXIES); uvicorn would otherwise take
                # X-Forwarded-For from any local peer as the client, e.g. to escape the rate limits.
                proxy_headers=False,
            )
        )
        shown_host = f"[{host}]" if ":" in host else host
        self.stdout.write(self.style.SUCCESS(f"Halo is running at http://{shown_host}:{port}/"))
        self._print_demo_login()
        self.stdout.flush()
        # uvicorn captures SIGTERM while it runs and re-raises it after a graceful shutdown; this handler
        # turns it into SystemExit, so the worker below is stopped warm instead of killed.
        previous_handler = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            server.run()
        finally:
            if runtime is not None:
                runtime.stop()
            signal.signal(signal.SIGTERM, previous_handler)
        sys.stdout.flush()

    def _print_demo_login(self) -> None:
        if get_user_model().objects.filter(username=DEMO_ADMIN_EMAIL).exists():
            self.stdout.write(f"Demo login: {DEMO_ADMIN_EMAIL} / {DEMO_PASSWORD} (local demo data only)")
