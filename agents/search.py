"""Full-text search over a workspace's messages, on either database (the inbox's search builds on it).

The index is kept by database triggers (migration ``0007_message_search``): on PostgreSQL the
``agents_message_search`` table (``to_tsvector('english', body)``, GIN-indexed, with the workspace id copied
from the conversation), on SQLite the FTS5 table ``agents_message_fts`` (porter stemmer).

``message_matches`` returns the messages that contain any of the terms, **newest first, at most ``limit``**,
each with its relevance (0-1: ``ts_rank`` or ``bm25`` squashed as ``rank / (rank + 1)``) and the bit mask of
the terms it contains. The newest-first cap is what keeps a common word cheap at a million messages: a word
found in more messages than ``limit`` is searched in its most recent ones, where a support team looks first
(the plan is a backward walk of the (workspace, message id) index that stops after ``limit`` matches; a rare
word is found through the GIN index whatever its age).
"""

from dataclasses import dataclass

from django.db import connection

from halo.search import term_is_prefix, term_stem, terms_found

FTS_TABLE = "agents_message_fts"
PG_TABLE = "agents_message_search"


@dataclass(frozen=True)
class MessageMatch:
    message_id: int
    conversation_id: int
    score: float  # 0-1, higher is better; comparable within one backend
    terms_mask: int  # bit i: the message contains terms[i]


def pg_term(term: str) -> str:
    """A term in PostgreSQL ``to_tsquery('english', …)`` syntax (English stems a prefix query's word too)."""
    return f"{term}:*" if term_is_prefix(term) else term


def fts5_match(terms: list[str]) -> str:
    """An FTS5 ``MATCH`` expression for messages containing any of ``terms``. A prefix term is also looked for
    whole: the porter tokenizer stems it as it stemmed the text ("shipping" is indexed as "ship", which the
    prefix "shipp" misses)."""
    return " OR ".join(f'"{term_stem(term)}"* OR "{term}"' if term_is_prefix(term) else f'"{term}"' for term in terms)


def message_matches(*, workspace_id: int, terms: list[str], limit: int) -> list[MessageMatch]:
    """The newest messages of a workspace containing any of ``terms`` (at most ``limit``). One query (two on
    PostgreSQL: a bounded count first chooses the plan).

    ``terms`` come from ``halo.search.search_terms``: letters and digits only, so they are safe inside both
    query languages."""
    if not terms or limit <= 0:
        return []
    if connection.vendor == "postgresql":
        return _matches_postgresql(workspace_id=workspace_id, terms=terms, limit=limit)
    return _matches_sqlite(workspace_id=workspace_id, terms=terms, limit=limit)


def _matches_postgresql(*, workspace_id: int, terms: list[str], limit: int) -> list[MessageMatch]:
    query = " | ".join(pg_term(term) for term in terms)
    # How many messages match, counted up to limit + 1 (a rare word through the GIN index; a common one stops
    # after limit + 1 rows). PostgreSQL cannot estimate a prefix query's frequency: left to itself it walks
    # the newest messages backwards for a word found in none of them, reading the whole workspace.
    probe = (
        f"SELECT count(*) FROM (SELECT 1 FROM {PG_TABLE} WHERE workspace_id = %s "  # noqa: S608  # nosec B608
        "AND document @@ to_tsquery('english', %s) LIMIT %s) AS probe"
    )
    with connection.cursor() as cursor:
        cursor.execute(probe, [workspace_id, query, limit + 1])
        row = cursor.fetchone()
    found = int(row[0]) if row is not None else 0
    if found == 0:
        return []
    # Few matches: all of them through the GIN index, then the newest (``message_id + 0`` keeps the planner off
    # the backward walk). Many: the backward walk of the (workspace, message id) index, which stops at ``limit``.
    order = "message_id DESC" if found > limit else "message_id + 0 DESC"
    # A term that English drops as a stop word ("the") has an empty query: it counts as found everywhere.
    mask = " + ".join(
        f"(CASE WHEN numnode(to_tsquery('english', %s)) = 0 OR s.document @@ to_tsquery('english', %s) "
        f"THEN {1 << index} ELSE 0 END)"
        for index in range(len(terms))
    )
    # The rank and the mask are computed for the kept rows only (outside the LIMIT), not for every match.
    sql = (
        f"SELECT s.message_id, s.conversation_id, ts_rank(s.document, to_tsquery('english', %s)), {mask} "  # noqa: S608  # nosec B608
        f"FROM (SELECT message_id, conversation_id, document FROM {PG_TABLE} "
        "WHERE workspace_id = %s AND document @@ to_tsquery('english', %s) "
        f"ORDER BY {order} LIMIT %s) AS s ORDER BY s.message_id DESC"
    )
    params: list[str | int] = [query]
    for term in terms:
        params += [pg_term(term), pg_term(term)]
    params += [workspace_id, query, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        MessageMatch(message_id=pk, conversation_id=conversation_id, score=_squash(rank), terms_mask=int(found))
        for pk, conversation_id, rank, found in rows
    ]


def _matches_sqlite(*, workspace_id: int, terms: list[str], limit: int) -> list[MessageMatch]:
    match = fts5_match(terms)
    sql = (
        f"SELECT m.id, m.conversation_id, -bm25({FTS_TABLE}), m.body "  # noqa: S608  # nosec B608
        f"FROM {FTS_TABLE} JOIN agents_message m ON m.id = {FTS_TABLE}.rowid "
        "JOIN agents_conversation c ON c.id = m.conversation_id "
        f"WHERE {FTS_TABLE} MATCH %s AND c.workspace_id = %s "
        "ORDER BY m.id DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, workspace_id, limit])
        rows = cursor.fetchall()
    return [
        MessageMatch(
            message_id=pk, conversation_id=conversation_id, score=_squash(rank), terms_mask=terms_found(body, terms)
        )
        for pk, conversation_id, rank, body in rows
    ]


def _squash(rank: float | None) -> float:
    raw = max(float(rank or 0.0), 0.0)
    return raw / (raw + 1.0)
