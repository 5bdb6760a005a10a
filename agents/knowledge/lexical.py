"""Lexical passage search: each database finds the passages holding the question's stems, Python scores them.

SQLite matches in the FTS5 table ``agents_knowledgepassage_fts`` and picks ``CANDIDATES`` passages by
FTS5's ``bm25``; PostgreSQL matches in the GIN-indexed ``search_vector`` and, since ``ts_rank`` knows no
inverse document frequency (a common word would crowd the rare one out of the candidates), picks them by
the sum of the inverse document frequencies of the stems each passage holds, then ``ts_rank``. Both return
the workspace's index version in the same query. The candidates are then scored here with BM25F (BM25 over the
weighted title, heading and body fields) from the workspace's term statistics, so both databases give the
same scores, and the confidence calibrated on them means the same on either. Stems are letters and digits
only (``agents.knowledge.text``), so they go into either query language as plain words.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

from agents.knowledge.index import FTS_TABLE
from agents.knowledge.snapshot import PassageRow, Snapshot

# Enough candidates that both databases hand over the passages BM25F ranks best: the two rank their
# candidates differently (FTS5's bm25, PostgreSQL's sum of inverse document frequencies), and a passage one
# of them leaves out gets no lexical score there. Scoring one in Python costs a few microseconds.
CANDIDATES = 200
# BM25F: term-frequency saturation and length normalisation (the usual values), and how much a stem counts
# in each field.
K1 = 1.2
B = 0.75
TITLE_WEIGHT = 3.0
HEADING_WEIGHT = 2.0
BODY_WEIGHT = 1.0


@dataclass(frozen=True)
class Candidates:
    version: int | None  # None: the workspace has never had a passage
    passage_ids: list[int]


def lexical_candidates(*, workspace_id: int, stems: Sequence[str], weights: Sequence[float]) -> Candidates:
    """The workspace's index version and the ids of up to ``CANDIDATES`` section passages holding any of
    ``stems`` (``weights``: their inverse document frequencies), best first. One query, also when ``stems``
    is empty."""
    if connection.vendor == "postgresql":
        return _postgresql(workspace_id, stems, weights)
    return _sqlite(workspace_id, stems)


def _sqlite(workspace_id: int, stems: Sequence[str]) -> Candidates:
    # bm25() weights: title, heading, body. An empty MATCH is an error, so no stems match nothing.
    match = " OR ".join(f'"{stem}"' for stem in stems) or '""'
    sql = (
        "SELECT s.version, c.id FROM agents_knowledgeindexstate s LEFT JOIN ("  # noqa: S608  # nosec B608
        f"  SELECT p.id, bm25({FTS_TABLE}, 3.0, 2.0, 1.0) AS rank FROM {FTS_TABLE}"
        f"  JOIN agents_knowledgepassage p ON p.id = {FTS_TABLE}.rowid"
        f"  WHERE {FTS_TABLE} MATCH %s AND p.workspace_id = %s ORDER BY rank, p.id LIMIT %s"
        ") c ON 1 WHERE s.workspace_id = %s ORDER BY c.rank, c.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, workspace_id, CANDIDATES if stems else 0, workspace_id])
        rows = cursor.fetchall()
    if not rows:
        return Candidates(version=None, passage_ids=[])
    return Candidates(version=rows[0][0], passage_ids=[pk for _version, pk in rows if pk is not None])


def _postgresql(workspace_id: int, stems: Sequence[str], weights: Sequence[float]) -> Candidates:
    query = " | ".join(stems) or "''"
    held = " + ".join(["%s * (p.search_vector @@ to_tsquery('simple', %s))::int"] * len(stems)) or "0"
    held_parameters = [value for stem, weight in zip(stems, weights, strict=True) for value in (weight, stem)]
    sql = (
        "SELECT s.version, c.id FROM agents_knowledgeindexstate s LEFT JOIN LATERAL ("  # noqa: S608  # nosec B608
        f"  SELECT p.id, {held} AS held, ts_rank(p.search_vector, q, 1) AS rank"
        "  FROM agents_knowledgepassage p, to_tsquery('simple', %s) q"
        "  WHERE p.workspace_id = s.workspace_id AND p.search_vector @@ q"
        "  ORDER BY held DESC, rank DESC, p.id LIMIT %s"
        ") c ON true WHERE s.workspace_id = %s ORDER BY c.held DESC NULLS LAST, c.rank DESC, c.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*held_parameters, query, CANDIDATES if stems else 0, workspace_id])
        rows = cursor.fetchall()
    if not rows:
        return Candidates(version=None, passage_ids=[])
    return Candidates(version=rows[0][0], passage_ids=[pk for _version, pk in rows if pk is not None])


def idf(snapshot: Snapshot, stem: str) -> float:
    """BM25's inverse document frequency over the workspace's section passages (a stem no passage holds
    weighs most: a question about something the help center never mentions is scored down for it)."""
    frequency = snapshot.document_frequency.get(stem, 0)
    return math.log(1.0 + (snapshot.sections - frequency + 0.5) / (frequency + 0.5))


def bm25f(snapshot: Snapshot, passage: PassageRow, stems: Sequence[str]) -> float:
    """The passage's BM25F score for ``stems``, divided by its largest possible value: 0 (no stem) to 1."""
    if not stems:
        return 0.0
    title_avg, heading_avg, body_avg = snapshot.average_lengths
    normaliser = (
        TITLE_WEIGHT * (1 - B + B * len(passage.title_terms) / title_avg)
        + HEADING_WEIGHT * (1 - B + B * len(passage.heading_terms) / heading_avg)
        + BODY_WEIGHT * (1 - B + B * len(passage.body_terms) / body_avg)
    ) / (TITLE_WEIGHT + HEADING_WEIGHT + BODY_WEIGHT)
    score = total = 0.0
    for stem in stems:
        weight = idf(snapshot, stem)
        total += weight
        frequency = (
            TITLE_WEIGHT * passage.title_terms.count(stem)
            + HEADING_WEIGHT * passage.heading_terms.count(stem)
            + BODY_WEIGHT * passage.body_terms.count(stem)
        )
        if frequency:
            score += weight * frequency / (frequency + K1 * normaliser)
    return score / total if total else 0.0
