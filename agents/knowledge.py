"""Knowledge search: ranked full-text search over a workspace's published articles, on either database.

PostgreSQL ranks with ``ts_rank`` over the stored ``search_vector`` (title weighted above body, GIN-indexed);
SQLite ranks with FTS5's ``bm25`` over ``agents_knowledgearticle_fts`` (title weighted above body). Both
return the same shape, ``KnowledgeHit`` (article id, title, url, score in 0-1, snippet), best first. A user's
text is reduced to plain word tokens before it reaches either query language, so nothing the user types
can change the query's syntax. ``knowledge_index`` keeps the backend's structure in step with an article;
the article services call it on every write (``knowledge_reindex`` rebuilds a whole workspace).

Scores are each backend's rank squashed into 0-1 (``rank / (rank + 1)``); they order hits within one
backend. How well a hit answers a question is judged separately (``query_coverage``), identically on both
backends, so the builtin responder's confidence does not depend on the database.
"""

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F

from agents.models import KnowledgeArticle
from agents.turns import KnowledgeSource
from halo.models import Workspace

FTS_TABLE = "agents_knowledgearticle_fts"
SNIPPET_CHARS = 240
MAX_QUERY_TERMS = 16

# Common English words that carry no meaning for retrieval (a short list; PostgreSQL drops its own too).
STOPWORDS = frozenset(
    """a about after again all am an and any are as at be been before being both but by can could did do does
    doing don't down during each few for from further had has have having he her here hers him his how i i'm if
    in into is it it's its just me more most my no nor not now of off on once only or other our out over own
    please same she should so some such than that the their them then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would you your
    yours hi hello hey thanks thank help need want get got know tell let using use""".split()  # noqa: SIM905
)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


@dataclass(frozen=True)
class KnowledgeHit:
    article_id: int
    title: str
    url: str
    score: float
    snippet: str
    body: str

    def as_source(self) -> KnowledgeSource:
        return KnowledgeSource(title=self.title, url=self.url, score=round(self.score, 4))


def query_terms(text: str) -> list[str]:
    """The meaningful words of ``text``, lower-cased, de-duplicated, in order (at most ``MAX_QUERY_TERMS``)."""
    terms: list[str] = []
    for match in _WORD.finditer(text.lower()):
        word = match.group(0)
        if word in STOPWORDS or len(word) < 2 or word in terms:
            continue
        terms.append(word)
        if len(terms) == MAX_QUERY_TERMS:
            break
    return terms


def _stem(word: str) -> str:
    """A crude suffix stripper: "refunds"/"refund", "billing"/"billed", "integrate"/"integration"."""
    for suffix in ("ions", "ion", "ing", "ed", "es", "e", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def query_coverage(terms: list[str], text: str) -> float:
    """The share of ``terms`` found (by stem) in ``text``: 1.0 when every meaningful word is there."""
    if not terms:
        return 0.0
    words = {_stem(word) for word in _WORD.findall(text.lower())}
    return sum(1 for term in terms if _stem(term) in words) / len(terms)


def knowledge_search(*, workspace: Workspace, text: str, limit: int = 3) -> list[KnowledgeHit]:
    """The published articles of ``workspace`` that best match ``text``, best first. One query."""
    terms = query_terms(text)
    if not terms or limit <= 0:
        return []
    if connection.vendor == "postgresql":
        return _search_postgresql(workspace=workspace, terms=terms, limit=limit)
    return _search_sqlite(workspace=workspace, terms=terms, limit=limit)


def _search_postgresql(*, workspace: Workspace, terms: list[str], limit: int) -> list[KnowledgeHit]:
    # Terms are bare words, so " or " joins them into a websearch query that matches any of them.
    query = SearchQuery(" or ".join(terms), config="english", search_type="websearch")
    rows = (
        KnowledgeArticle.objects.filter(workspace=workspace, published=True, search_vector=query)
        .annotate(rank=SearchRank(F("search_vector"), query, normalization=32))
        .order_by("-rank", "id")
        .values_list("id", "title", "url", "body", "rank")[:limit]
    )
    return [_hit(pk, title, url, body, float(rank), terms) for pk, title, url, body, rank in rows]


def _search_sqlite(*, workspace: Workspace, terms: list[str], limit: int) -> list[KnowledgeHit]:
    match = " OR ".join(f'"{term}"' for term in terms)  # terms hold no quotes: see query_terms
    sql = (
        f"SELECT a.id, a.title, a.url, a.body, -bm25({FTS_TABLE}, 10.0, 1.0) AS rank "  # noqa: S608  # nosec B608
        f"FROM {FTS_TABLE} JOIN agents_knowledgearticle a ON a.id = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH %s AND a.workspace_id = %s AND a.published "
        "ORDER BY rank DESC, a.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, workspace.pk, limit])
        rows = cursor.fetchall()
    hits = []
    for pk, title, url, body, rank in rows:
        raw = max(float(rank), 0.0)
        hits.append(_hit(pk, title, url, body, raw / (raw + 1.0), terms))
    return hits


def _hit(pk: int, title: str, url: str, body: str, score: float, terms: list[str]) -> KnowledgeHit:
    return KnowledgeHit(
        article_id=pk, title=title, url=url, score=round(score, 4), snippet=snippet(body, terms), body=body
    )


def snippet(body: str, terms: list[str]) -> str:
    """About ``SNIPPET_CHARS`` of ``body`` around the first sentence that mentions a term."""
    text = " ".join(body.split())
    lowered = text.lower()
    positions = [lowered.find(term) for term in terms if term in lowered]
    start = 0
    if positions:
        first = min(positions)
        sentence_start = max(text.rfind(". ", 0, first), text.rfind("? ", 0, first), text.rfind("! ", 0, first))
        start = sentence_start + 2 if sentence_start >= 0 else 0
    excerpt = text[start : start + SNIPPET_CHARS]
    if start + SNIPPET_CHARS < len(text):
        excerpt = excerpt.rsplit(" ", 1)[0] + "…"
    return ("…" if start > 0 else "") + excerpt


def knowledge_index(*, article: KnowledgeArticle) -> None:
    """Bring the search structure up to date with ``article`` (called by every service that writes one)."""
    if connection.vendor == "postgresql":
        vector = SearchVector("title", weight="A", config="english") + SearchVector(
            "body", weight="B", config="english"
        )
        KnowledgeArticle.objects.filter(pk=article.pk).update(search_vector=vector)
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [article.pk])  # noqa: S608  # nosec B608
            cursor.execute(
                f"INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (%s, %s, %s)",  # noqa: S608  # nosec B608
                [article.pk, article.title, article.body],
            )


def knowledge_unindex(*, article_id: int) -> None:
    """Drop a deleted article from the search structure (PostgreSQL's vector goes with the row)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [article_id])  # noqa: S608  # nosec B608


def knowledge_reindex(*, workspace: Workspace) -> int:
    """Rebuild the index of every article of ``workspace``; returns how many were indexed."""
    count = 0
    for article in KnowledgeArticle.objects.filter(workspace=workspace).only("id", "title", "body"):
        knowledge_index(article=article)
        count += 1
    return count
