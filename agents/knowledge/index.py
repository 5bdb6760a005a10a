"""Writes of the knowledge index: an article's passages, their lexical structures, and their embeddings.

``knowledge_index`` runs inside the transaction of every article write (the article services call it): it
cuts the article into passages, keeps the rows of passages whose text did not change (and so their
vectors), replaces the others, updates the backend's full-text structure and bumps the workspace's
``KnowledgeIndexState``. Vectors are computed later, by ``knowledge_embed_article`` in a background job
recorded in the same transaction (the outbox): a save stays fast, and search uses words alone for passages
not embedded yet. An unpublished article has no passages.
"""

import logging
import secrets

import numpy as np
from django.db import connection, transaction
from django.db.models import F, Q

from agents.knowledge.embeddings import EmbeddingChoice, embedding_choice
from agents.knowledge.passages import Passage, article_passages
from agents.knowledge.text import stems
from agents.models import KnowledgeArticle, KnowledgeIndexState, KnowledgePassage, KnowledgeSettings
from halo.models import Workspace
from halo.outbox import outbox_enqueue

logger = logging.getLogger(__name__)

FTS_TABLE = "agents_knowledgepassage_fts"
EMBED_TASK = "agents.tasks.knowledge_embed"
# PostgreSQL: the stems are already Snowball's, so the 'simple' configuration only splits them; the title
# weighs most, then the heading, then the body (weights A, B, D).
_PG_VECTOR = (
    "setweight(to_tsvector('simple', title_terms), 'A') || setweight(to_tsvector('simple', heading_terms), 'B')"
    " || setweight(to_tsvector('simple', body_terms), 'D')"
)


def _terms(text: str) -> str:
    return " ".join(stems(text))


def index_version_bump(*, workspace_id: int) -> None:
    """Count one change of the workspace's passages (call inside the transaction that makes it)."""
    if not KnowledgeIndexState.objects.filter(workspace_id=workspace_id).update(version=F("version") + 1):
        # First change: create the row (a concurrent creator may win the race) and count this change. The
        # version starts at a random number: it only has to differ from any version a process may have
        # cached for this workspace id (a rolled-back or re-created workspace can reuse an id).
        KnowledgeIndexState.objects.bulk_create(
            [KnowledgeIndexState(workspace_id=workspace_id, version=secrets.randbits(40))], ignore_conflicts=True
        )
        KnowledgeIndexState.objects.filter(workspace_id=workspace_id).update(version=F("version") + 1)


def _fts_delete(passage_ids: list[int]) -> None:
    if connection.vendor != "sqlite" or not passage_ids:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"DELETE FROM {FTS_TABLE} WHERE rowid = %s",  # noqa: S608  # nosec B608
            [[pk] for pk in passage_ids],
        )


def _fts_insert(passages: list[KnowledgePassage]) -> None:
    sections = [passage for passage in passages if passage.kind == KnowledgePassage.Kind.SECTION]
    if not sections:
        return
    ids = [passage.pk for passage in sections]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE agents_knowledgepassage SET search_vector = {_PG_VECTOR} WHERE id = ANY(%s)",  # noqa: S608  # nosec B608
                [ids],
            )
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {FTS_TABLE} (rowid, title, heading, body) VALUES (%s, %s, %s, %s)",  # noqa: S608  # nosec B608
                [[p.pk, p.title_terms, p.heading_terms, p.body_terms] for p in sections],
            )


def _wanted(article: KnowledgeArticle) -> list[tuple[str, Passage]]:
    """(kind, passage) in position order: the title first, then the sections."""
    title = [(KnowledgePassage.Kind.TITLE.value, Passage(heading="", body=""))]
    return title + [(KnowledgePassage.Kind.SECTION.value, passage) for passage in article_passages(body=article.body)]


def knowledge_index(*, article: KnowledgeArticle) -> None:
    """Bring the article's passages up to date with it (every service that writes an article calls this)."""
    existing = list(
        KnowledgePassage.objects.filter(article_id=article.pk).values_list("pk", "digest", "kind", "position")
    )
    wanted = _wanted(article) if article.published else []
    by_digest: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for pk, digest, kind, position in existing:
        by_digest.setdefault((kind, digest), []).append((pk, position))
    title_terms = _terms(article.title)
    create: list[KnowledgePassage] = []
    moved: list[tuple[int, int]] = []
    for position, (kind, passage) in enumerate(wanted):
        digest = passage.digest(article.title)
        kept = by_digest.get((kind, digest))
        if kept:
            pk, old_position = kept.pop()
            if old_position != position:
                moved.append((pk, position))
            continue
        create.append(
            KnowledgePassage(
                workspace_id=article.workspace_id,
                article_id=article.pk,
                position=position,
                kind=kind,
                heading=passage.heading,
                body=passage.body,
                title_terms=title_terms,
                heading_terms=_terms(passage.heading),
                body_terms=_terms(passage.body),
                digest=digest,
            )
        )
    stale = [pk for rows in by_digest.values() for pk, _position in rows]
    if not (create or moved or stale):
        return
    _fts_delete(stale)
    KnowledgePassage.objects.filter(pk__in=stale).delete()
    for pk, position in moved:
        KnowledgePassage.objects.filter(pk=pk).update(position=position)
    created = KnowledgePassage.objects.bulk_create(create)  # ids come back on both databases (RETURNING)
    _fts_insert(created)
    index_version_bump(workspace_id=article.workspace_id)
    if created and embedding_choice(workspace_id=article.workspace_id).enabled():
        outbox_enqueue(workspace=article.workspace, task=EMBED_TASK, payload={"article_id": article.pk})


def knowledge_unindex(*, article_id: int) -> None:
    """Drop an article's passages from the index; call it before deleting the article (its passages would
    go with it, but neither the FTS5 rows nor the workspace's index version would)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {FTS_TABLE} WHERE rowid IN "  # noqa: S608  # nosec B608
                "(SELECT id FROM agents_knowledgepassage WHERE article_id = %s)",
                [article_id],
            )
    workspace_id = KnowledgePassage.objects.filter(article_id=article_id).values_list("workspace_id", flat=True).first()
    KnowledgePassage.objects.filter(article_id=article_id).delete()
    if workspace_id is not None:
        index_version_bump(workspace_id=workspace_id)


def knowledge_reindex(*, workspace: Workspace) -> int:
    """Bring the passages of every article of ``workspace`` up to date; returns how many articles there are."""
    count = 0
    for article in KnowledgeArticle.objects.filter(workspace=workspace).select_related("workspace"):
        with transaction.atomic():
            knowledge_index(article=article)
        count += 1
    return count


def knowledge_embed_article(*, article_id: int) -> int:
    """Embed the article's passages that have no vector from the workspace's current model; returns how many
    were.

    The background job of ``knowledge_index``. Runs outside any transaction while the model computes; a
    passage replaced meanwhile (another save) is skipped, and that save's own job embeds its successor. A
    remote endpoint that fails raises ``EmbeddingFailed``: the outbox tries the job again later.
    """
    workspace_id = KnowledgeArticle.objects.filter(pk=article_id).values_list("workspace_id", flat=True).first()
    if workspace_id is None:
        return 0
    choice = embedding_choice(workspace_id=workspace_id)
    rows = list(
        KnowledgePassage.objects.filter(article_id=article_id)
        .filter(Q(embedding__isnull=True) | ~Q(embedding_model=choice.model_id))
        .values_list("pk", "kind", "heading", "body", "digest", "article__title")
    )
    embedder = choice.embedder() if rows and choice.enabled() else None  # nothing to embed: nothing loaded
    if embedder is None:
        return 0
    texts = [Passage(heading=heading, body=body).embedding_text(title) for *_, heading, body, _d, title in rows]
    vectors = embedder.embed(texts)
    written = 0
    with transaction.atomic():
        for (pk, _kind, _heading, _body, digest, _title), vector in zip(rows, vectors, strict=True):
            written += KnowledgePassage.objects.filter(pk=pk, digest=digest).update(
                embedding=np.asarray(vector, dtype="<f4").tobytes(), embedding_model=embedder.model_id
            )
        if written:
            index_version_bump(workspace_id=workspace_id)
    return written


def _articles_to_embed(*, workspace_id: int, choice: EmbeddingChoice) -> list[int]:
    article_ids = (
        KnowledgePassage.objects.filter(workspace_id=workspace_id)
        .filter(Q(embedding__isnull=True) | ~Q(embedding_model=choice.model_id))
        .values_list("article_id", flat=True)
        .distinct()
    )
    return sorted(set(article_ids))


def knowledge_embed_pending(*, workspace: Workspace) -> int:
    """Embed every passage of ``workspace`` still without a current vector (``manage.py`` and benchmarks use
    it after a bulk load); returns how many were embedded."""
    choice = embedding_choice(workspace_id=workspace.pk)
    return sum(
        knowledge_embed_article(article_id=article_id)
        for article_id in _articles_to_embed(workspace_id=workspace.pk, choice=choice)
    )


def knowledge_settings_save(*, settings: KnowledgeSettings) -> KnowledgeSettings:
    """Save how the workspace embeds, validated (an endpoint Halo may not call is a field error). Searches
    switch at once (the index version moves); when the choice makes other vectors, every article is queued
    to be embedded again, and until its job has run search answers by words for that article."""
    settings.full_clean()
    with transaction.atomic():
        before = embedding_choice(workspace_id=settings.workspace_id)
        settings.save()
        after = embedding_choice(workspace_id=settings.workspace_id)
        index_version_bump(workspace_id=settings.workspace_id)
        if after.enabled() and after.model_id != before.model_id:
            workspace = Workspace.objects.get(pk=settings.workspace_id)
            for article_id in _articles_to_embed(workspace_id=workspace.pk, choice=after):
                outbox_enqueue(workspace=workspace, task=EMBED_TASK, payload={"article_id": article_id})
    return settings
