"""Celery adapters of the agents app's outbox work: load the outbox row, call one service, idempotent."""

from celery import shared_task

from agents.knowledge import knowledge_embed_article
from halo.models import OutboxMessage
from halo.outbox import outbox_process


def _embed(message: OutboxMessage) -> None:
    # An article deleted meanwhile has no passages left: nothing to embed, nothing to retry.
    knowledge_embed_article(article_id=int(message.payload["article_id"]))


@shared_task(name="agents.tasks.knowledge_embed")
def knowledge_embed_task(message_id: int) -> None:
    outbox_process(message_id=message_id, handler=_embed)
