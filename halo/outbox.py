"""The transactional outbox: record side effects with the change, deliver them later, exactly once.

``outbox_enqueue`` is called inside the transaction that makes the change; the message is handed to
Celery only after commit, and the row stays the source of truth. ``outbox_process`` is what a delivering
task calls: it claims the row under a lease (so two workers never deliver one message, and a worker that
dies mid-delivery gives it back when the lease ends), runs the handler outside any transaction (a slow
webhook never holds a database lock), then records success, a retry with backoff, or a failure visible
to admins. ``outbox_sweep`` (a beat task; a timer in the embedded default) re-sends what is due, and
``outbox_purge`` (a beat task) deletes delivered messages once they are older than ``OUTBOX_RETENTION_DAYS``.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from halo.celery import app as celery_app
from halo.models import OutboxMessage, Workspace
from halo.pause import FailurePause

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
# Delays between attempts; each stays far below the Redis broker's visibility timeout.
BACKOFF_SECONDS = (5, 15, 60, 120, 300, 600, 900)


class RetryLater(Exception):
    """A handler asks to be tried again after ``delay`` seconds (e.g. Slack's ``Retry-After``)."""

    def __init__(self, message: str, *, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentFailure(Exception):
    """A handler reports an error that another attempt cannot fix (e.g. a revoked webhook)."""


def outbox_enqueue(*, workspace: Workspace, task: str, payload: dict[str, object]) -> OutboxMessage:
    message = OutboxMessage.objects.create(workspace=workspace, task=task, payload=payload)
    transaction.on_commit(lambda: _send(message))
    return message


# Publishing to the broker: one quick retry for a blip, then give up. The row stays and the sweep sends it
# again, so Celery's default (retries for ~0.7 s) would only make every request wait while Redis is down.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
# After a failed publish this process leaves the broker alone for a few seconds: a Redis that does not
# answer costs each attempt its socket timeout (1 s, twice), which every request that commits an outbox row
# would otherwise pay again. Messages not sent meanwhile wait for the sweep, like those that failed.
PUBLISH_PAUSE_SECONDS = 5.0
_publish_pause = FailurePause()


def _send(message: OutboxMessage, *, countdown: float = 0) -> None:
    broker = str(celery_app.conf.broker_url)
    if _publish_pause.active(broker):
        logger.info("outbox: broker failed recently; %s #%s is left to the sweep", message.task, message.pk)
        return
    try:
        celery_app.send_task(
            message.task, kwargs={"message_id": message.pk}, countdown=countdown, retry_policy=PUBLISH_RETRY_POLICY
        )
    except Exception:  # the broker is unreachable: the row is kept and the sweep sends it later
        _publish_pause.start(broker, PUBLISH_PAUSE_SECONDS)
        logger.warning("outbox: could not queue %s #%s; the sweep will retry", message.task, message.pk)


def _claim(message_id: int) -> OutboxMessage | None:
    now = timezone.now()
    claimable = Q(state=OutboxMessage.State.PENDING, next_attempt_at__lte=now) | Q(
        state=OutboxMessage.State.RUNNING, lease_expires_at__lt=now
    )
    claimed = OutboxMessage.objects.filter(claimable, pk=message_id).update(
        state=OutboxMessage.State.RUNNING, lease_expires_at=now + LEASE, attempts=F("attempts") + 1
    )
    return OutboxMessage.objects.get(pk=message_id) if claimed else None


def outbox_process(*, message_id: int, handler: Callable[[OutboxMessage], None]) -> OutboxMessage | None:
    """Deliver one message with ``handler``; returns the message, or None if it was not due or not ours."""
    message = _claim(message_id)
    if message is None:
        return None
    try:
        handler(message)
    except RetryLater as retry:
        _fail(message, error=str(retry), delay=retry.delay)
    except PermanentFailure as failure:
        _fail(message, error=str(failure), delay=None)
    except Exception as error:  # recorded on the row for admins, then retried with backoff
        logger.exception("outbox: %s #%s failed", message.task, message.pk)
        _fail(message, error=f"{type(error).__name__}: {error}", delay=_backoff(message.attempts))
    else:
        message.state = OutboxMessage.State.DONE
        message.done_at = timezone.now()
        message.lease_expires_at = None
        message.save(update_fields=["state", "done_at", "lease_expires_at"])
    return message


def _backoff(attempts: int) -> float | None:
    if attempts >= MAX_ATTEMPTS:
        return None
    return BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1]


def _fail(message: OutboxMessage, *, error: str, delay: float | None) -> None:
    message.last_error = error[:2000]
    message.lease_expires_at = None
    if delay is None or message.attempts >= MAX_ATTEMPTS:
        message.state = OutboxMessage.State.FAILED
        message.save(update_fields=["state", "last_error", "lease_expires_at"])
        return
    message.state = OutboxMessage.State.PENDING
    message.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    message.save(update_fields=["state", "last_error", "lease_expires_at", "next_attempt_at"])
    _send(message, countdown=delay)


def outbox_sweep(*, stale_after: timedelta | None = None) -> int:
    """Send again every message that is due and has waited longer than a sweep interval, or whose lease
    ran out (its worker died). Sending twice is harmless: only one delivery can claim the row."""
    stale_after = stale_after if stale_after is not None else timedelta(seconds=settings.OUTBOX_SWEEP_INTERVAL)
    now = timezone.now()
    due = OutboxMessage.objects.filter(
        Q(state=OutboxMessage.State.PENDING, next_attempt_at__lte=now - stale_after)
        | Q(state=OutboxMessage.State.RUNNING, lease_expires_at__lt=now)
    ).order_by("next_attempt_at")[:1000]
    count = 0
    for message in due:
        _send(message)
        count += 1
    return count


def outbox_retry(*, messages: Iterable[OutboxMessage]) -> int:
    """An admin's "try again now": pending or failed messages become due at once and are sent."""
    count = 0
    for message in messages:
        updated = OutboxMessage.objects.filter(
            pk=message.pk, state__in=[OutboxMessage.State.PENDING, OutboxMessage.State.FAILED]
        ).update(state=OutboxMessage.State.PENDING, next_attempt_at=timezone.now(), attempts=0)
        if updated:
            _send(message)
            count += 1
    return count


# Rows deleted per statement: each batch is its own short transaction, so a purge of a large backlog never
# holds locks on the table for long (deliveries and enqueues go on between batches).
PURGE_BATCH_SIZE = 1000


def outbox_purge(*, older_than: timedelta | None = None, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Delete delivered (done) messages whose delivery is older than ``older_than`` (default:
    ``OUTBOX_RETENTION_DAYS``); returns how many. Nothing reads a delivered row once it is done (the admin
    list shows it for the retention period), so this loses no state. Pending and running rows are work still
    to do; failed rows are kept for admins to see and retry."""
    if older_than is None:
        older_than = timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    cutoff = timezone.now() - older_than
    expired = OutboxMessage.objects.filter(state=OutboxMessage.State.DONE, done_at__lt=cutoff)
    deleted = 0
    while True:
        batch = list(expired.values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        deleted += OutboxMessage.objects.filter(pk__in=batch, state=OutboxMessage.State.DONE).delete()[0]
        if len(batch) < batch_size:
            return deleted
