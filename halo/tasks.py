"""Celery adapters for the outbox: the periodic sweep and the purge of delivered messages."""

from celery import shared_task

from halo.outbox import outbox_purge as _outbox_purge
from halo.outbox import outbox_sweep as _outbox_sweep


@shared_task(name="halo.tasks.outbox_sweep")
def outbox_sweep() -> int:
    return _outbox_sweep()


@shared_task(name="halo.tasks.outbox_purge")
def outbox_purge() -> int:
    return _outbox_purge()
