"""gunicorn's configuration for the ``web`` process (the Procfile passes ``--config gunicorn.conf.py``; the
command line sets the bind address, workers and threads). Its logger redacts credentials (a ``?token=``, a
``user_hash``, a bearer value) from every access and error log line: ``halo.logs``."""

logger_class = "halo.logs.GunicornLogger"
