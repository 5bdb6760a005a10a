"""What a request runs against the database: its SQL statements (with their time, and whether they ran inside
a transaction) and its commits. Pure Django, imported by both servers of the peer benchmark (Halo and
django-helpdesk), by B1's server and by ``bench/profile_widget.py``.

``QueryCountMiddleware`` counts only the requests that carry ``X-Bench-Count: 1`` and returns the counts in
``X-Bench-Queries`` / ``X-Bench-Commits``; other requests pass through untouched, so timed requests pay
nothing for it. A commit is an outermost ``atomic`` block that commits, or a write statement run outside
any transaction (autocommit: PostgreSQL commits it on its own).
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse

WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass
class Statement:
    sql: str
    milliseconds: float
    in_transaction: bool


@dataclass
class Recorded:
    statements: list[Statement] = field(default_factory=list)
    commits: int = 0


@contextmanager
def recording() -> Iterator[Recorded]:
    """Record the statements and commits run on this thread's default connection inside the block."""
    recorded = Recorded()

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        in_transaction = connection.in_atomic_block
        if not in_transaction and sql.lstrip().upper().startswith(WRITES):
            recorded.commits += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            recorded.statements.append(Statement(sql, (time.perf_counter() - started) * 1000, in_transaction))

    original_commit = connection.commit

    def counting_commit() -> None:
        recorded.commits += 1
        original_commit()

    connection.commit = counting_commit  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(record):
            yield recorded
    finally:
        del connection.commit  # back to the class's method


class QueryCountMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.headers.get("X-Bench-Count") != "1":
            return self.get_response(request)
        with recording() as recorded:
            response = self.get_response(request)
        response["X-Bench-Queries"] = str(len(recorded.statements))
        response["X-Bench-Commits"] = str(recorded.commits)
        return response
