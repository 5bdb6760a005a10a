"""What search keeps in memory per workspace: passage texts and stems, term statistics, the vocabulary for
typo correction, and the passages' vectors — reloaded when the workspace's index version moves.

Lexical scores need corpus statistics (how many passages hold a stem) that neither FTS5 nor PostgreSQL
hands out per query, and a brute-force cosine needs every vector at hand; reading them for every question
would cost far more than the search. So each process keeps a ``Snapshot`` per workspace, built from one
query, and every search reads the workspace's index version in its own query: a change made by any process
(an article saved, a passage embedded) is seen by the next search everywhere. The cache holds the
``CACHE_WORKSPACES`` most recently searched workspaces.
"""

import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Subquery

from agents.knowledge.embeddings import BUNDLED, EmbeddingChoice
from agents.knowledge.text import is_meaningful, words
from agents.models import KnowledgeIndexState, KnowledgePassage, KnowledgeSettings

CACHE_WORKSPACES = 64
# Words shorter than this are never corrected (too many real words lie one edit apart).
MIN_CORRECTED_LENGTH = 5
_CHOICE_FIELDS = ("embeddings", "embeddings_base_url", "embeddings_model", "embeddings_api_key")


@dataclass(frozen=True)
class PassageRow:
    pk: int
    article_id: int
    kind: str
    heading: str
    body: str
    title_terms: tuple[str, ...]
    heading_terms: tuple[str, ...]
    body_terms: tuple[str, ...]


@dataclass
class Snapshot:
    workspace_id: int
    version: int
    passages: dict[int, PassageRow] = field(default_factory=dict)
    articles: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (title, url)
    document_frequency: Counter[str] = field(default_factory=Counter)  # stem -> section passages holding it
    sections: int = 0
    average_lengths: tuple[float, float, float] = (1.0, 1.0, 1.0)  # title, heading, body stems
    vocabulary: Counter[str] = field(default_factory=Counter)  # surface word -> occurrences
    deletions: dict[str, list[str]] = field(default_factory=dict)  # word minus one letter -> words
    article_passages: dict[int, list[int]] = field(default_factory=dict)  # article id -> passage ids
    # Vectors, one row per embedded passage, grouped by article: the rows of ``vector_article_ids[i]`` start
    # at ``vector_starts[i]`` (what ``np.maximum.reduceat`` takes to find each article's best row).
    vector_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    vector_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    vector_article_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    vector_rows: dict[int, int] = field(default_factory=dict)  # passage id -> row
    vector_model: str = ""
    embedding: EmbeddingChoice = BUNDLED  # what embeds the questions: the workspace's choice

    def correction(self, word: str) -> str | None:
        """The most frequent help-center word one edit (insert, delete, substitute, swap) away from ``word``,
        when ``word`` itself never appears; None otherwise."""
        if len(word) < MIN_CORRECTED_LENGTH or word in self.vocabulary or not word.isalpha():
            return None
        candidates: set[str] = set(self.deletions.get(word, ()))  # a letter missing from ``word``
        for variant in _deletions(word):
            if variant in self.vocabulary:  # a letter too many in ``word``
                candidates.add(variant)
            candidates.update(self.deletions.get(variant, ()))  # one letter different, or two swapped
        candidates = {candidate for candidate in candidates if _one_edit(word, candidate)}
        if not candidates:
            return None
        return max(sorted(candidates), key=lambda candidate: self.vocabulary[candidate])


def _deletions(word: str) -> set[str]:
    return {word[:index] + word[index + 1 :] for index in range(len(word))}


def _one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by one insertion, deletion, substitution or adjacent swap."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [index for index in range(len(a)) if a[index] != b[index]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:index] + long[index + 1 :] == short for index in range(len(long)))


def _build(workspace_id: int) -> Snapshot:
    # The version is read with the rows, in the same statement: rows and version of one moment. (Read
    # apart, rows newer than their version would only cost a reload; the other way round would keep stale
    # rows under a current version.)
    version_now = KnowledgeIndexState.objects.filter(workspace_id=workspace_id).values("version")[:1]
    # The workspace's embedding choice comes in the same statement too (it matters only if there are rows).
    choice = KnowledgeSettings.objects.filter(workspace_id=workspace_id)
    rows = list(
        KnowledgePassage.objects.filter(workspace_id=workspace_id)
        .annotate(
            index_version=Subquery(version_now),
            **{f"choice_{name}": Subquery(choice.values(name)[:1]) for name in _CHOICE_FIELDS},
        )
        .values_list(
            "pk",
            "article_id",
            "kind",
            "heading",
            "body",
            "title_terms",
            "heading_terms",
            "body_terms",
            "embedding",
            "embedding_model",
            "article__title",
            "article__url",
            *(f"choice_{name}" for name in _CHOICE_FIELDS),
            "index_version",
        )
    )
    embedding = BUNDLED
    if rows:
        version = rows[0][-1] or 0
        kind, base_url, model, api_key = rows[0][-5:-1]
        if kind is not None:
            embedding = EmbeddingChoice(kind=kind, base_url=base_url, model=model, api_key=api_key)
    else:
        version = (
            KnowledgeIndexState.objects.filter(workspace_id=workspace_id).values_list("version", flat=True).first()
        )
    snapshot = Snapshot(workspace_id=workspace_id, version=version or 0, embedding=embedding)
    vector_ids: dict[str, list[tuple[int, int]]] = {}
    vectors: dict[str, list[bytes]] = {}
    lengths = [0, 0, 0]
    text_parts: list[str] = []
    for (
        pk,
        article_id,
        kind,
        heading,
        body,
        title_terms,
        heading_terms,
        body_terms,
        embedding,
        model,
        title,
        url,
        *_choice_and_version,
    ) in rows:
        row = PassageRow(
            pk=pk,
            article_id=article_id,
            kind=kind,
            heading=heading,
            body=body,
            title_terms=tuple(title_terms.split()),
            heading_terms=tuple(heading_terms.split()),
            body_terms=tuple(body_terms.split()),
        )
        snapshot.passages[pk] = row
        snapshot.article_passages.setdefault(article_id, []).append(pk)
        if article_id not in snapshot.articles:
            snapshot.articles[article_id] = (title, url)
            text_parts.append(title)
        if kind == KnowledgePassage.Kind.SECTION:
            snapshot.sections += 1
            snapshot.document_frequency.update(set(row.title_terms + row.heading_terms + row.body_terms))
            lengths[0] += len(row.title_terms)
            lengths[1] += len(row.heading_terms)
            lengths[2] += len(row.body_terms)
            text_parts.append(heading)
            text_parts.append(body)
        if embedding is not None and model:
            vector_ids.setdefault(model, []).append((article_id, pk))
            vectors.setdefault(model, []).append(bytes(embedding))
    if snapshot.sections:
        snapshot.average_lengths = tuple(max(total / snapshot.sections, 1.0) for total in lengths)  # type: ignore[assignment]
    snapshot.vocabulary = Counter(word for word in words(" ".join(text_parts)) if is_meaningful(word))
    for word in snapshot.vocabulary:
        if len(word) >= MIN_CORRECTED_LENGTH - 1 and word.isalpha():
            for variant in _deletions(word):
                snapshot.deletions.setdefault(variant, []).append(word)
    model = snapshot.embedding.model_id
    if vectors.get(model):
        # Only the workspace's current model's vectors: another model's are not comparable with its questions.
        order = sorted(range(len(vector_ids[model])), key=lambda index: vector_ids[model][index])
        keys = [vector_ids[model][index] for index in order]
        snapshot.vector_model = model
        snapshot.vector_ids = np.asarray([pk for _article, pk in keys], dtype=np.int64)
        snapshot.vectors = np.frombuffer(b"".join(vectors[model][index] for index in order), dtype="<f4").reshape(
            len(order), -1
        )
        snapshot.vector_rows = {pk: row for row, (_article, pk) in enumerate(keys)}
        starts = [row for row, (article, _pk) in enumerate(keys) if row == 0 or keys[row - 1][0] != article]
        snapshot.vector_starts = np.asarray(starts, dtype=np.int64)
        snapshot.vector_article_ids = np.asarray([keys[row][0] for row in starts], dtype=np.int64)
    return snapshot


_lock = threading.Lock()
_building: dict[int, threading.Lock] = {}
_cache: "OrderedDict[int, Snapshot]" = OrderedDict()


def snapshot_cached(*, workspace_id: int) -> Snapshot | None:
    """The snapshot this process holds for the workspace, if any (no query)."""
    with _lock:
        snapshot = _cache.get(workspace_id)
        if snapshot is not None:
            _cache.move_to_end(workspace_id)
        return snapshot


def snapshot_load(*, workspace_id: int, version: int | None = None) -> Snapshot:
    """The workspace's snapshot at ``version``: the cached one if it has that version, else built anew from
    the database (``version`` None: whatever is current)."""
    cached = snapshot_cached(workspace_id=workspace_id)
    if cached is not None and cached.version == version:
        return cached
    with _lock:
        building = _building.setdefault(workspace_id, threading.Lock())
    with building:  # one thread builds a workspace's snapshot; the others wait for it
        cached = snapshot_cached(workspace_id=workspace_id)
        if cached is not None and cached.version == version:
            return cached
        snapshot = _build(workspace_id)
        with _lock:
            _cache[workspace_id] = snapshot
            _cache.move_to_end(workspace_id)
            while len(_cache) > CACHE_WORKSPACES:
                _cache.popitem(last=False)
        return snapshot


def snapshot_forget_all() -> None:
    """Empty this process's cache (tests: each starts from the database)."""
    with _lock:
        _cache.clear()
        _building.clear()
