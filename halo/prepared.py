"""A cursor whose statements PostgreSQL parses and plans once per connection (prepared statements).

Django's PostgreSQL cursors bind values on the client: each statement reaches the server as new text, which
it parses, analyses and plans again. For the statements Halo runs with a fixed text on every widget request
(the compiled reads of ``halo.compiled`` that ask for it, the INSERTs of ``halo.inserts``, the inbox's
counters) that is most of the server's work per statement. ``prepared_cursor`` returns Django's own cursor
wrapper (execute wrappers, debug logging and error translation apply as to any cursor) around a psycopg
cursor that binds on the server and prepares each statement the first time it runs on the connection;
after that the server only binds the values and executes.

Invariants:

- only statements whose plan cannot depend on the values go through it: INSERTs, upserts and reads by a
  unique key. PostgreSQL may switch a prepared statement to a generic plan, which for a read whose best
  plan depends on its values (a partial index, a skewed column) could be worse; those stay on Django's
  cursors;
- a prepared statement belongs to its connection (psycopg keeps the connection's list and evicts the
  least used beyond a hundred); nothing is shared between connections or threads. Prepared statements
  need a session of their own: Halo connects to PostgreSQL directly, not through a pooler in transaction
  mode;
- on any other database (SQLite) it is Django's own cursor.
"""

from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from psycopg.pq import Format

_TIMESTAMPTZ_OID = psycopg.adapters.types["timestamptz"].oid


class _PreparingCursor(psycopg.Cursor[Any]):
    """Binds on the server and prepares every statement on its first execution."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        return super().execute(query, params, prepare=True, binary=binary)


def prepared_cursor(using: str = DEFAULT_DB_ALIAS) -> CursorWrapper:
    """A cursor for statements of fixed text, prepared on first use on PostgreSQL (see the module)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return connection.cursor()
    # What ``connection.cursor()`` does before it makes a cursor: the health check, then the connection.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = _PreparingCursor(connection.connection)
        # Timestamps read in the connection's time zone, as Django's ``create_cursor`` makes sure.
        if connection.timezone != connection.connection.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT).timezone:
            register_tzloader(connection.timezone, cursor)
        # Then what it does after: the thread check and Django's wrapper (execute wrappers, debug logging).
        connection.validate_thread_sharing()
        return (CursorDebugWrapper if connection.queries_logged else CursorWrapper)(cursor, connection)
