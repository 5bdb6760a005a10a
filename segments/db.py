"""Database hooks of the segments app: SQLite gets the Python case folding as the SQL function ``halo_fold``.

SQLite's own ``lower()`` only knows ASCII, so the compiler folds text on SQLite with exactly the function
the evaluator uses (``segments.lang.folding.fold``); PostgreSQL's ``lower()`` already agrees with it. The
function is registered whenever Django opens a SQLite connection (``connection_created``).
"""

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from segments.lang.folding import fold


def _fold_or_null(value: Any) -> Any:
    return fold(value) if isinstance(value, str) else value


def register_sqlite_functions(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("halo_fold", 1, _fold_or_null, deterministic=True)
