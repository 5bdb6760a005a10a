"""gunicorn's configuration for the ``web`` process (the Procfile passes ``--config gunicorn.conf.py``; the
command line sets the bind address, workers and threads). Its logger redacts credentials (a ``?token=``, a
``user_hash``, a bearer value) from every access and error log line: ``halo.logs``."""

import gc

logger_class = "halo.logs.GunicornLogger"


def post_worker_init(worker: object) -> None:
    """Put what the worker loaded at start-up (Django, the apps, their modules) out of the garbage collector's
    reach: a full collection then walks what requests create, not the hundred thousand objects of the
    loaded application, which would pause a request by tens of milliseconds."""
    gc.freeze()
