"""The transactional outbox: record side effects with the change, deliver them later, exactly once.

``outbox_enqueue`` is called inside the transaction that makes the change; the message is handed to
Celery only after commit, and the row stays the source of truth. The outbox keeps every row's delivery
bookkeeping — claims, attempts, leases, retries, failures — so a delivering task only does the delivery:

- ``outbox_process`` delivers one message with a handler: it claims the row under a lease (so two workers
  never deliver one message, and a worker that dies mid-delivery gives it back when the lease ends), runs
  the handler outside any transaction (a slow webhook never holds a database lock), then finishes it.
- ``outbox_claim_batch`` and ``outbox_finish`` are the same two steps for a delivery that sends several
  messages as one (the Slack digest): it claims the messages of one destination together and finishes
  them together, in one statement, once the destination answered.
- ``outbox_finish`` is the one place an attempt ends: done, retried (after the delay a ``RetryLater``
  asks for, else with backoff), or failed (``PermanentFailure``, or the last attempt), visible to admins.
- ``outbox_defer`` puts a message back to wait for its turn (a rate limit held by another delivery)
  without counting an attempt.

``outbox_sweep`` (a beat task; a timer in the embedded default) re-sends what is due, and ``outbox_purge``
(a beat task) deletes delivered messages once they are older than ``OUTBOX_RETENTION_DAYS``. Every time
the outbox writes or compares comes from ``halo.clock``.
"""

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, IntegerField, Q, Value, When

from halo import clock
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


class NamedTask(Protocol):
    """A Celery task (``@shared_task(name=...)``): the outbox stores its registered name."""

    name: str


def outbox_enqueue(
    *, workspace: Workspace, task: NamedTask | str, payload: dict[str, object], delay: timedelta | None = None
) -> OutboxMessage:
    """Record a message for ``task`` in the caller's transaction; it is queued once that commits. Pass the
    task itself; its name, where the task's module imports the caller's (importing it would be a cycle).
    With ``delay``, the message is not due before then (a debounced email): no delivery claims it sooner,
    whoever sends the task."""
    name = task if isinstance(task, str) else task.name
    due = clock.now() + (delay or timedelta(0))
    message = OutboxMessage.objects.create(workspace=workspace, task=name, payload=payload, next_attempt_at=due)
    countdown = delay.total_seconds() if delay else 0
    transaction.on_commit(lambda: _send(message, countdown=countdown))
    return message


def outbox_enqueue_many(
    *, workspace: Workspace, task: NamedTask | str, payloads: Sequence[dict[str, object]]
) -> list[OutboxMessage]:
    """``outbox_enqueue`` for several messages of one task, in one INSERT (a webhook event for each of a
    workspace's endpoints)."""
    name = task if isinstance(task, str) else task.name
    now = clock.now()
    messages = OutboxMessage.objects.bulk_create(
        [OutboxMessage(workspace=workspace, task=name, payload=payload, next_attempt_at=now) for payload in payloads]
    )

    def send_all() -> None:
        for message in messages:
            _send(message)

    transaction.on_commit(send_all)
    return messages


def outbox_recorded_since(*, task: str, workspace_id: int, payload_match: Mapping[str, object], since: datetime) -> int:
    """How many messages of ``task`` in the workspace whose payload holds ``payload_match`` were recorded
    since ``since``, whatever became of them (a cap on how often something is sent)."""
    return OutboxMessage.objects.filter(
        task=task,
        workspace_id=workspace_id,
        created_at__gte=since,
        **{f"payload__{key}": value for key, value in payload_match.items()},
    ).count()


def outbox_pending_exists(*, task: str, workspace_id: int, payload_match: Mapping[str, object]) -> bool:
    """Whether a message of ``task`` in the workspace whose payload holds ``payload_match`` still waits to be
    delivered (pending, not claimed yet): a later change may join it instead of recording another."""
    return OutboxMessage.objects.filter(
        state=OutboxMessage.State.PENDING,
        task=task,
        workspace_id=workspace_id,
        **{f"payload__{key}": value for key, value in payload_match.items()},
    ).exists()


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


def _claimable() -> Q:
    """Rows a delivery may take now: pending and due, or running under a lease that ended (a dead worker)."""
    now = clock.now()
    return Q(state=OutboxMessage.State.PENDING, next_attempt_at__lte=now) | Q(
        state=OutboxMessage.State.RUNNING, lease_expires_at__lt=now
    )


def outbox_due(*, message_id: int) -> OutboxMessage | None:
    """The message if a delivery may claim it now, else None (delivered, failed, in flight or not due)."""
    return OutboxMessage.objects.filter(_claimable(), pk=message_id).first()


def _claim(message_id: int) -> OutboxMessage | None:
    claimed = OutboxMessage.objects.filter(_claimable(), pk=message_id).update(
        state=OutboxMessage.State.RUNNING, lease_expires_at=clock.now() + LEASE, attempts=F("attempts") + 1
    )
    return OutboxMessage.objects.get(pk=message_id) if claimed else None


def outbox_process(*, message_id: int, handler: Callable[[OutboxMessage], None]) -> OutboxMessage | None:
    """Deliver one message with ``handler``; returns the message, or None if it was not due or not ours."""
    message = _claim(message_id)
    if message is None:
        return None
    try:
        handler(message)
    except Exception as error:  # recorded on the row for admins by outbox_finish
        outbox_finish(messages=[message], error=error)
    else:
        outbox_finish(messages=[message])
    return message


def outbox_claim_batch(
    *, task: str, workspace_id: int, payload_match: Mapping[str, object], limit: int
) -> list[OutboxMessage]:
    """Claim, under one lease, up to ``limit`` messages going to one destination: those of ``task`` in the
    workspace whose payload holds ``payload_match``. The caller has the destination's turn now, so every
    pending one is taken, due or still waiting (for a rate limit or a backoff), oldest first; messages a
    dead worker had claimed (lease ended) come before them, so the batch it had in flight goes out again
    as one. Each claimed message counts an attempt."""
    now = clock.now()
    with transaction.atomic():
        candidates = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(
                Q(state=OutboxMessage.State.PENDING) | Q(state=OutboxMessage.State.RUNNING, lease_expires_at__lt=now),
                task=task,
                workspace_id=workspace_id,
                **{f"payload__{key}": value for key, value in payload_match.items()},
            )
            .annotate(
                dead=Case(
                    When(state=OutboxMessage.State.RUNNING, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                )
            )
            .order_by("dead", "id")
        )
        ids = list(candidates.values_list("pk", flat=True)[:limit])
        OutboxMessage.objects.filter(pk__in=ids).update(
            state=OutboxMessage.State.RUNNING, lease_expires_at=now + LEASE, attempts=F("attempts") + 1
        )
    return list(OutboxMessage.objects.filter(pk__in=ids).order_by("id"))


def outbox_finish(*, messages: Sequence[OutboxMessage], error: BaseException | None = None) -> None:
    """End the attempt of claimed ``messages``, together: done without ``error``; a ``RetryLater`` retries
    them after its delay; a ``PermanentFailure`` fails them; any other error retries each with backoff (it is
    logged) and fails those at their last attempt. The error is kept on the rows for admins."""
    if not messages:
        return
    now = clock.now()
    ids = [message.pk for message in messages]
    if error is None:
        OutboxMessage.objects.filter(pk__in=ids).update(
            state=OutboxMessage.State.DONE, done_at=now, lease_expires_at=None
        )
        for message in messages:
            message.state, message.done_at, message.lease_expires_at = OutboxMessage.State.DONE, now, None
        return
    if isinstance(error, RetryLater | PermanentFailure):
        text = str(error)
    else:
        logger.error("outbox: %s %s failed", messages[0].task, ids, exc_info=error)
        text = f"{type(error).__name__}: {error}"
    retries: dict[float, list[OutboxMessage]] = {}
    failed: list[OutboxMessage] = []
    for message in messages:
        delay = _delay(error, attempts=message.attempts)
        if delay is None:
            failed.append(message)
        else:
            retries.setdefault(delay, []).append(message)
    text = text[:2000]
    with transaction.atomic():
        if failed:
            OutboxMessage.objects.filter(pk__in=[m.pk for m in failed]).update(
                state=OutboxMessage.State.FAILED, last_error=text, lease_expires_at=None
            )
        for delay, retried in retries.items():
            OutboxMessage.objects.filter(pk__in=[m.pk for m in retried]).update(
                state=OutboxMessage.State.PENDING,
                last_error=text,
                lease_expires_at=None,
                next_attempt_at=now + timedelta(seconds=delay),
            )
    for message in failed:
        message.state, message.last_error, message.lease_expires_at = OutboxMessage.State.FAILED, text, None
    for delay, retried in retries.items():
        for message in retried:
            message.state, message.last_error, message.lease_expires_at = OutboxMessage.State.PENDING, text, None
            message.next_attempt_at = now + timedelta(seconds=delay)
            _send(message, countdown=delay)


def _delay(error: BaseException, *, attempts: int) -> float | None:
    """Seconds until the next attempt after ``error``, or None: no more attempts."""
    if isinstance(error, PermanentFailure) or attempts >= MAX_ATTEMPTS:
        return None
    if isinstance(error, RetryLater):
        return error.delay
    return outbox_backoff(attempts=attempts)


def outbox_backoff(*, attempts: int) -> float:
    """The backoff after a message's ``attempts``-th failed attempt (a handler may ask for it with ``RetryLater``)."""
    return BACKOFF_SECONDS[max(1, min(attempts, len(BACKOFF_SECONDS))) - 1]


def outbox_defer(*, message: OutboxMessage, delay: float) -> None:
    """Not an attempt: a claimable message waits ``delay`` seconds for its turn (another delivery holds the
    destination's rate limit), then its task runs again. Does nothing if a delivery took it meanwhile."""
    waiting = OutboxMessage.objects.filter(_claimable(), pk=message.pk).update(
        state=OutboxMessage.State.PENDING,
        lease_expires_at=None,
        next_attempt_at=clock.now() + timedelta(seconds=delay),
    )
    if waiting:
        _send(message, countdown=delay)


def outbox_sweep(*, stale_after: timedelta | None = None) -> int:
    """Send again every message that is due and has waited longer than a sweep interval, or whose lease
    ran out (its worker died). Sending twice is harmless: only one delivery can claim the row."""
    stale_after = stale_after if stale_after is not None else timedelta(seconds=settings.OUTBOX_SWEEP_INTERVAL)
    now = clock.now()
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
        ).update(state=OutboxMessage.State.PENDING, next_attempt_at=clock.now(), attempts=0)
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
    cutoff = clock.now() - older_than
    expired = OutboxMessage.objects.filter(state=OutboxMessage.State.DONE, done_at__lt=cutoff)
    deleted = 0
    while True:
        batch = list(expired.values_list("pk", flat=True)[:batch_size])
        if not batch:
            return deleted
        deleted += OutboxMessage.objects.filter(pk__in=batch, state=OutboxMessage.State.DONE).delete()[0]
        if len(batch) < batch_size:
            return deleted
