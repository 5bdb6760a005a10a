"""Knowledge search: the published articles that best answer a question, ranked from their best passage.

Each passage gets a score from its words (``lexical``: BM25F over the question's stems, typos corrected
against the help center's own vocabulary) and, once embedded, from its meaning (``semantic``: the cosine
between the question's vector and the passage's). The two are blended linearly — the cosine plus
``LEXICAL_WEIGHT`` times the lexical score — because people ask with other words than articles use
("hotkeys" for keyboard shortcuts) and the meaning carries it, while a rare exact word (an integration's
name) is best caught by the words. An article scores as its best passage (its title counts as a passage
searched by meaning). Passages not embedded yet are scored by their words alone; a workspace with no
vectors (the model not installed, or switched off) is searched by words only.

Cost per question: one query (the lexical candidates with the workspace's index version) plus, when the
index changed since this process last looked, one to reload its snapshot; the question's vector takes a
few milliseconds of one core.
"""

import heapq
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from agents.knowledge.answers import quote
from agents.knowledge.embeddings import EmbeddingFailed
from agents.knowledge.lexical import bm25f, idf, lexical_candidates
from agents.knowledge.snapshot import PassageRow, Snapshot, snapshot_cached, snapshot_load
from agents.knowledge.text import query_terms, stem
from agents.models import KnowledgeIndexState, KnowledgePassage
from agents.turns import KnowledgeSource
from halo.models import Workspace

logger = logging.getLogger(__name__)

# The weight of the lexical score beside the cosine: the middle of the plateau of top-1 on the Zulip dev
# questions (0.1 to 0.3 gave the same; docs/answers.md has the sweep).
LEXICAL_WEIGHT = 0.2
# A passage with no vector yet is scored by its words alone, scaled to sit among cosines.
UNEMBEDDED_SCALE = 0.8
# Below these an article is not returned at all: no word in common, and a meaning this far away.
MIN_COSINE = 0.15


class SearchMode(StrEnum):
    SEMANTIC = "semantic"  # words and meaning, blended
    LEXICAL = "lexical"  # words only


@dataclass(frozen=True)
class KnowledgeHit:
    """One article, with the passage that matched it best and the sentences of that passage to quote."""

    article_id: int
    title: str
    url: str
    score: float  # the blended score of its best passage (lexical alone in lexical mode)
    snippet: str  # the sentences of the best passage that answer the question
    heading: str = ""  # the best passage's heading ("" for an article's opening)
    passage: str = ""  # the best passage's text
    lexical: float = 0.0  # the best BM25F score (0-1) among its passages
    semantic: float | None = None  # the best cosine among its passages (None: none embedded)

    def as_source(self) -> KnowledgeSource:
        return KnowledgeSource(title=self.title, url=self.url, score=round(self.score, 4))


@dataclass(frozen=True)
class KnowledgeResult:
    """A search's hits and what the confidence is estimated from."""

    hits: list[KnowledgeHit]
    mode: SearchMode
    terms: list[str] = field(default_factory=list)  # the question's meaningful words, typos corrected
    stems: list[str] = field(default_factory=list)
    unknown_share: float = 0.0  # the share of the question's stems the help center never uses
    lexical_top: int | None = None  # the article ranked first by words alone
    semantic_top: int | None = None  # the article ranked first by meaning alone
    runner_up: float = 0.0  # the score of the article ranked second (0 if none)
    coverage: float = 0.0  # the share of the question's stems in the best hit's title and best passage
    # The question's vector and the model that made it (semantic mode only), for what else reads its meaning.
    question_vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    vector_model: str = ""


_EMPTY = KnowledgeResult(hits=[], mode=SearchMode.LEXICAL)


def _question_stems(snapshot: Snapshot, words: list[str]) -> tuple[list[str], list[str]]:
    """The question's words and stems, each unknown word followed by its correction when one exists."""
    terms: list[str] = []
    result: list[str] = []
    for word in words:
        for term in (word, snapshot.correction(word) if stem(word) not in snapshot.document_frequency else None):
            if term is None or term in terms:
                continue
            terms.append(term)
            term_stem = stem(term)
            if term_stem and term_stem not in result:
                result.append(term_stem)
    return terms, result


def snapshot_current(*, workspace_id: int) -> Snapshot:
    """The workspace's snapshot at its index's current version (one query: the version), the cached one when it
    is that version."""
    version = KnowledgeIndexState.objects.filter(workspace_id=workspace_id).values_list("version", flat=True).first()
    return snapshot_load(workspace_id=workspace_id, version=version)


def question_stemmer(*, workspace: Workspace) -> Callable[[str], list[str]]:
    """The stems a question is looked up by, as ``knowledge_lookup`` finds them: its meaningful words through the
    index's stemmer, a misspelt word followed by the help-center word it is corrected to (the index read once)."""
    snapshot = snapshot_current(workspace_id=workspace.pk)

    def stems_of(text: str) -> list[str]:
        words = query_terms(text)
        return _question_stems(snapshot, words)[1] if words else []

    return stems_of


def term_weight(*, workspace: Workspace) -> Callable[[str], float]:
    """How telling a stem is in the workspace's help center: the index's inverse document frequency (a stem the
    help center never uses weighs most)."""
    snapshot = snapshot_current(workspace_id=workspace.pk)
    return lambda term_stem: idf(snapshot, term_stem)


def _best_section(snapshot: Snapshot, article_id: int, score: Callable[[int], float]) -> PassageRow | None:
    sections = [
        snapshot.passages[pk]
        for pk in snapshot.article_passages.get(article_id, ())
        if snapshot.passages[pk].kind == KnowledgePassage.Kind.SECTION
    ]
    if not sections:
        return None
    return max(sections, key=lambda row: (score(row.pk), -row.pk))


def _question_vectors(snapshot: Snapshot, texts: Sequence[str]) -> np.ndarray | None:
    """The texts' vectors (one row each, embedded as questions) from the model that embedded the workspace's
    passages; None (search by words) when the workspace has no vectors, the model is not here, or a remote
    endpoint fails to answer in time."""
    if not len(snapshot.vector_ids):
        return None  # the model is loaded (or called) only for a workspace that has vectors
    embedder = snapshot.embedding.embedder()
    if embedder is None or embedder.model_id != snapshot.vector_model:
        return None
    try:
        vectors: np.ndarray = embedder.embed(list(texts), query=True)
    except EmbeddingFailed as error:
        logger.warning("knowledge search by words only for workspace %s: %s", snapshot.workspace_id, error)
        return None
    if vectors.shape[1:] != snapshot.vectors.shape[1:]:
        logger.warning("knowledge search by words only for workspace %s: vector size changed", snapshot.workspace_id)
        return None
    return vectors


def _question_vector(snapshot: Snapshot, text: str) -> np.ndarray | None:
    vectors = _question_vectors(snapshot, [text])
    return None if vectors is None else vectors[0]


def message_vectors(*, workspace: Workspace, texts: Sequence[str]) -> tuple[str, np.ndarray] | None:
    """The vectors of chat messages (one row each) and the model that made them, as ``knowledge_lookup`` embeds
    a question, for what reads a message's meaning besides search; None when the workspace searches by words
    alone."""
    if not texts:
        return None
    # Only the model matters here, so the process's snapshot serves even if a newer version exists.
    snapshot = snapshot_cached(workspace_id=workspace.pk) or snapshot_current(workspace_id=workspace.pk)
    vectors = _question_vectors(snapshot, texts)
    return None if vectors is None else (snapshot.vector_model, vectors)


def knowledge_lookup(*, workspace: Workspace, text: str, limit: int = 3) -> KnowledgeResult:
    """The ``limit`` best articles of ``workspace`` for ``text``, best first, with the search's evidence."""
    words = query_terms(text)
    if not words or limit <= 0:
        return _EMPTY
    snapshot = snapshot_cached(workspace_id=workspace.pk) or snapshot_load(workspace_id=workspace.pk)
    terms, stems = _question_stems(snapshot, words)
    candidates = lexical_candidates(
        workspace_id=workspace.pk, stems=stems, weights=[idf(snapshot, term_stem) for term_stem in stems]
    )
    if candidates.version is None:
        return _EMPTY
    if candidates.version != snapshot.version:
        snapshot = snapshot_load(workspace_id=workspace.pk, version=candidates.version)
    lexical: dict[int, float] = {}
    for pk in candidates.passage_ids:
        row = snapshot.passages.get(pk)
        if row is not None:
            lexical[pk] = bm25f(snapshot, row, stems)
    best_lexical: dict[int, float] = {}
    for pk, score in lexical.items():
        article_id = snapshot.passages[pk].article_id
        best_lexical[article_id] = max(score, best_lexical.get(article_id, 0.0))

    question_vector = _question_vector(snapshot, text)
    by_article: dict[int, float]
    best_semantic: dict[int, float] = {}
    if question_vector is not None:
        mode = SearchMode.SEMANTIC
        similarities = snapshot.vectors @ question_vector
        blended_rows = similarities.copy()
        unembedded: dict[int, float] = {}
        for pk, score in lexical.items():
            row_index = snapshot.vector_rows.get(pk)
            if row_index is None:
                unembedded[pk] = (UNEMBEDDED_SCALE + LEXICAL_WEIGHT) * score
            else:
                blended_rows[row_index] += LEXICAL_WEIGHT * score
        article_ids = snapshot.vector_article_ids.tolist()
        by_article = dict(
            zip(article_ids, np.maximum.reduceat(blended_rows, snapshot.vector_starts).tolist(), strict=True)
        )
        best_semantic = dict(
            zip(article_ids, np.maximum.reduceat(similarities, snapshot.vector_starts).tolist(), strict=True)
        )
        for pk, score in unembedded.items():
            article_id = snapshot.passages[pk].article_id
            by_article[article_id] = max(score, by_article.get(article_id, float("-inf")))

        def passage_score(pk: int) -> float:
            row_index = snapshot.vector_rows.get(pk)
            return float(blended_rows[row_index]) if row_index is not None else unembedded.get(pk, 0.0)

    else:
        mode = SearchMode.LEXICAL
        by_article = dict(best_lexical)

        def passage_score(pk: int) -> float:
            return lexical.get(pk, 0.0)

    eligible = [
        article_id
        for article_id in by_article
        if best_lexical.get(article_id, 0.0) > 0 or best_semantic.get(article_id, -1.0) >= MIN_COSINE
    ]
    ranked = heapq.nsmallest(max(limit, 2), eligible, key=lambda article_id: (-by_article[article_id], article_id))
    weight = lambda term_stem: idf(snapshot, term_stem)  # noqa: E731
    hits = []
    best_rows: list[PassageRow | None] = []
    for article_id in ranked[:limit]:
        row = _best_section(snapshot, article_id, passage_score)
        best_rows.append(row)
        title, url = snapshot.articles[article_id]
        hits.append(
            KnowledgeHit(
                article_id=article_id,
                title=title,
                url=url,
                score=round(by_article[article_id], 4),
                snippet=quote(row.body, stems, weight) if row else "",
                heading=row.heading if row else "",
                passage=row.body if row else "",
                lexical=round(best_lexical.get(article_id, 0.0), 4),
                semantic=round(best_semantic[article_id], 4) if article_id in best_semantic else None,
            )
        )
    unknown = sum(1 for term_stem in stems if term_stem not in snapshot.document_frequency)
    coverage = 0.0
    if hits and stems and best_rows[0] is not None:
        best = best_rows[0]
        found = set(best.title_terms + best.heading_terms + best.body_terms)
        coverage = sum(1 for term_stem in stems if term_stem in found) / len(stems)
    return KnowledgeResult(
        hits=hits,
        mode=mode,
        terms=terms,
        stems=stems,
        unknown_share=unknown / len(stems) if stems else 0.0,
        lexical_top=max(best_lexical, key=lambda a: (best_lexical[a], -a)) if best_lexical else None,
        semantic_top=max(best_semantic, key=lambda a: (best_semantic[a], -a)) if best_semantic else None,
        runner_up=by_article[ranked[1]] if len(ranked) > 1 else 0.0,
        coverage=coverage,
        question_vector=question_vector,
        vector_model=snapshot.vector_model if question_vector is not None else "",
    )


def knowledge_search(*, workspace: Workspace, text: str, limit: int = 3) -> list[KnowledgeHit]:
    """The published articles of ``workspace`` that best answer ``text``, best first."""
    return knowledge_lookup(workspace=workspace, text=text, limit=limit).hits
