"""The transactional outbox: enqueue on commit, claim under a lease (one message or a destination's batch),
finish (done, retried with backoff or after a delay, failed), sweep after a crash, and delivery by a real
Celery worker thread (the embedded runtime). Time is the test's ``clock``."""

from datetime import timedelta

import pytest
from celery import Celery
from django.db import transaction
from django.utils import timezone

from halo import outbox
from halo.embedded import EmbeddedRuntime
from halo.models import OutboxMessage
from halo.outbox import (
    PermanentFailure,
    RetryLater,
    outbox_claim_batch,
    outbox_defer,
    outbox_enqueue,
    outbox_finish,
    outbox_process,
    outbox_retry,
    outbox_sweep,
)
from tests.halo.factories import WorkspaceFactory
from tests.support.clock import ManualClock
from tests.support.processes import wait_until


class SentTasks(list):
    def __call__(self, name, kwargs, countdown=0, **options):
        self.append((name, kwargs["message_id"], countdown))


@pytest.fixture
def sent(monkeypatch) -> SentTasks:
    """Replaces the broker: records what the outbox hands to Celery."""
    recorder = SentTasks()
    monkeypatch.setattr(outbox.celery_app, "send_task", recorder)
    return recorder


def enqueue(workspace, **payload) -> OutboxMessage:
    return outbox_enqueue(workspace=workspace, task="tests.deliver", payload=payload)


@pytest.mark.django_db
def test_message_is_handed_to_celery_only_after_commit(sent, django_capture_on_commit_callbacks):
    workspace = WorkspaceFactory()
    with django_capture_on_commit_callbacks(execute=True):
        message = enqueue(workspace, text="hello")
        assert sent == []

    assert sent == [("tests.deliver", message.pk, 0)]
    assert OutboxMessage.objects.get(pk=message.pk).state == OutboxMessage.State.PENDING


@pytest.mark.django_db
def test_nothing_is_recorded_or_sent_when_the_transaction_rolls_back(sent, django_capture_on_commit_callbacks):
    workspace = WorkspaceFactory()

    def change_that_fails():
        with transaction.atomic():
            enqueue(workspace, text="hello")
            raise RuntimeError("the change failed")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        change_that_fails()

    assert sent == []
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_successful_delivery_marks_the_message_done(sent):
    message = enqueue(WorkspaceFactory(), text="hi")
    delivered = []

    outbox_process(message_id=message.pk, handler=lambda m: delivered.append(m.payload["text"]))

    message.refresh_from_db()
    assert delivered == ["hi"]
    assert message.state == OutboxMessage.State.DONE
    assert message.done_at is not None
    assert message.attempts == 1


@pytest.mark.django_db
def test_a_claimed_message_cannot_be_delivered_twice(sent):
    message = enqueue(WorkspaceFactory())
    second_claims = []

    def handler(m):
        # A duplicate task arrives while the first delivery holds the lease.
        second_claims.append(outbox_process(message_id=m.pk, handler=lambda _: pytest.fail("delivered twice")))

    outbox_process(message_id=message.pk, handler=handler)

    assert second_claims == [None]
    assert outbox_process(message_id=message.pk, handler=lambda _: pytest.fail("delivered again")) is None


@pytest.mark.django_db
def test_a_failing_handler_is_retried_later_with_backoff(sent):
    message = enqueue(WorkspaceFactory())
    before = timezone.now()

    def handler(m):
        raise ConnectionError("slack is down")

    outbox_process(message_id=message.pk, handler=handler)

    message.refresh_from_db()
    assert message.state == OutboxMessage.State.PENDING
    assert message.last_error == "ConnectionError: slack is down"
    assert message.next_attempt_at >= before + timedelta(seconds=outbox.BACKOFF_SECONDS[0])
    assert sent == [("tests.deliver", message.pk, outbox.BACKOFF_SECONDS[0])]
    # Not due yet: an early duplicate does nothing.
    assert outbox_process(message_id=message.pk, handler=lambda _: pytest.fail("too early")) is None


@pytest.mark.django_db
def test_backoff_grows_between_attempts(sent):
    message = enqueue(WorkspaceFactory())

    def handler(m):
        raise ConnectionError("down")

    for _ in range(3):
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
        outbox_process(message_id=message.pk, handler=handler)

    assert [countdown for _, _, countdown in sent] == list(outbox.BACKOFF_SECONDS[:3])


@pytest.mark.django_db
def test_retry_later_uses_the_delay_the_handler_asks_for(sent):
    message = enqueue(WorkspaceFactory())

    def handler(m):
        raise RetryLater("429 Too Many Requests", delay=42)

    outbox_process(message_id=message.pk, handler=handler)

    assert sent == [("tests.deliver", message.pk, 42)]
    assert OutboxMessage.objects.get(pk=message.pk).last_error == "429 Too Many Requests"


@pytest.mark.django_db
def test_a_permanent_failure_is_kept_visible_and_not_retried(sent):
    message = enqueue(WorkspaceFactory())

    def handler(m):
        raise PermanentFailure("webhook revoked (404)")

    outbox_process(message_id=message.pk, handler=handler)

    message.refresh_from_db()
    assert message.state == OutboxMessage.State.FAILED
    assert message.last_error == "webhook revoked (404)"
    assert sent == []


@pytest.mark.django_db
def test_a_message_fails_for_good_after_the_last_attempt(sent):
    message = enqueue(WorkspaceFactory())
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=outbox.MAX_ATTEMPTS - 1)

    def handler(m):
        raise ConnectionError("still down")

    outbox_process(message_id=message.pk, handler=handler)

    message.refresh_from_db()
    assert message.state == OutboxMessage.State.FAILED
    assert message.attempts == outbox.MAX_ATTEMPTS


@pytest.mark.django_db
def test_sweep_resends_what_a_crash_left_behind_and_nothing_else(sent):
    workspace = WorkspaceFactory()
    long_ago = timezone.now() - timedelta(minutes=10)
    never_sent = enqueue(workspace)  # the process died between commit and hand-off
    OutboxMessage.objects.filter(pk=never_sent.pk).update(next_attempt_at=long_ago)
    worker_died = enqueue(workspace)  # claimed, then the worker was killed: its lease ran out
    OutboxMessage.objects.filter(pk=worker_died.pk).update(
        state=OutboxMessage.State.RUNNING, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    in_flight = enqueue(workspace)
    OutboxMessage.objects.filter(pk=in_flight.pk).update(
        state=OutboxMessage.State.RUNNING, lease_expires_at=timezone.now() + timedelta(minutes=1)
    )
    just_queued = enqueue(workspace)
    done = enqueue(workspace)
    OutboxMessage.objects.filter(pk=done.pk).update(state=OutboxMessage.State.DONE, next_attempt_at=long_ago)

    count = outbox_sweep()

    assert count == 2
    assert sorted(message_id for _, message_id, _ in sent) == sorted([never_sent.pk, worker_died.pk])
    assert just_queued.pk not in [message_id for _, message_id, _ in sent]


@pytest.mark.django_db
def test_a_message_whose_worker_died_is_delivered_once_after_the_sweep(sent):
    message = enqueue(WorkspaceFactory())
    outbox.OutboxMessage.objects.filter(pk=message.pk).update(
        state=OutboxMessage.State.RUNNING, attempts=1, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    delivered = []

    outbox_sweep()
    for _, message_id, _ in list(sent):
        outbox_process(message_id=message_id, handler=lambda m: delivered.append(m.pk))
        outbox_process(message_id=message_id, handler=lambda m: delivered.append(m.pk))

    assert delivered == [message.pk]
    assert OutboxMessage.objects.get(pk=message.pk).attempts == 2


@pytest.mark.django_db
def test_admin_retry_makes_a_failed_message_due_again(sent):
    message = enqueue(WorkspaceFactory())
    OutboxMessage.objects.filter(pk=message.pk).update(state=OutboxMessage.State.FAILED, attempts=8)

    assert outbox_retry(messages=OutboxMessage.objects.all()) == 1

    message.refresh_from_db()
    assert (message.state, message.attempts) == (OutboxMessage.State.PENDING, 0)
    assert sent == [("tests.deliver", message.pk, 0)]


@pytest.mark.django_db
def test_enqueue_takes_the_celery_task_itself(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = outbox_enqueue(workspace=WorkspaceFactory(), task=deliver_probe, payload={})

    assert message.task == "tests.halo.deliver_probe"
    assert sent == [("tests.halo.deliver_probe", message.pk, 0)]


# --- A destination's batch --------------------------------------------------------------------------------


def enqueue_for(workspace, channel: str, **payload) -> OutboxMessage:
    return outbox_enqueue(workspace=workspace, task="tests.deliver", payload={"channel": channel, **payload})


def claim(workspace, channel: str = "a", limit: int = 10) -> list[OutboxMessage]:
    return outbox_claim_batch(
        task="tests.deliver", workspace_id=workspace.pk, payload_match={"channel": channel}, limit=limit
    )


@pytest.mark.django_db
def test_a_batch_is_the_destinations_pending_messages_oldest_first_under_one_lease(sent, clock: ManualClock):
    workspace = WorkspaceFactory()
    first, second, third = (enqueue_for(workspace, "a", n=n) for n in range(3))
    OutboxMessage.objects.filter(pk=second.pk).update(next_attempt_at=clock.now() + timedelta(minutes=5))
    enqueue_for(workspace, "b")  # another destination
    enqueue_for(WorkspaceFactory(), "a")  # another workspace
    outbox_enqueue(workspace=workspace, task="tests.other", payload={"channel": "a"})  # another task
    done = enqueue_for(workspace, "a")
    OutboxMessage.objects.filter(pk=done.pk).update(state=OutboxMessage.State.DONE)

    batch = claim(workspace, limit=2)

    assert [m.pk for m in batch] == [first.pk, second.pk]  # waiting for a backoff or a turn counts as pending
    assert {(m.state, m.attempts) for m in batch} == {(OutboxMessage.State.RUNNING, 1)}
    assert {m.lease_expires_at for m in batch} == {batch[0].lease_expires_at}
    assert batch[0].lease_expires_at >= clock.now() + outbox.LEASE - timedelta(seconds=1)
    assert [m.pk for m in claim(workspace)] == [third.pk]
    assert claim(workspace) == []  # all claimed: nothing twice
    assert outbox_process(message_id=first.pk, handler=lambda _: pytest.fail("claimed twice")) is None


@pytest.mark.django_db
def test_the_batch_a_dead_worker_had_in_flight_is_claimed_again_first_and_whole(sent, clock: ManualClock):
    workspace = WorkspaceFactory()
    oldest = enqueue_for(workspace, "a")  # busy elsewhere when the batch was claimed, pending again since
    OutboxMessage.objects.filter(pk=oldest.pk).update(
        state=OutboxMessage.State.RUNNING, lease_expires_at=clock.now() + timedelta(days=1)
    )
    for _ in range(3):
        enqueue_for(workspace, "a")
    in_flight = claim(workspace, limit=3)
    OutboxMessage.objects.filter(pk=oldest.pk).update(state=OutboxMessage.State.PENDING, lease_expires_at=None)
    newer = enqueue_for(workspace, "a")

    clock.advance(outbox.LEASE.total_seconds() + 1)  # the worker died: its lease runs out
    again = claim(workspace, limit=3)

    assert [m.pk for m in again] == [m.pk for m in in_flight]
    assert {m.attempts for m in again} == {2}
    assert [m.pk for m in claim(workspace)] == [oldest.pk, newer.pk]


@pytest.mark.django_db
def test_finishing_a_batch_marks_every_message_at_once(sent, clock: ManualClock):
    workspace = WorkspaceFactory()
    for _ in range(3):
        enqueue_for(workspace, "a")
    batch = claim(workspace)

    outbox_finish(messages=batch)

    assert set(OutboxMessage.objects.values_list("state", "done_at", "lease_expires_at")) == {
        (OutboxMessage.State.DONE, batch[0].done_at, None)
    }
    assert batch[0].state == OutboxMessage.State.DONE


@pytest.mark.django_db
def test_a_batch_retried_later_waits_the_delay_asked_for(sent, clock: ManualClock):
    workspace = WorkspaceFactory()
    for _ in range(2):
        enqueue_for(workspace, "a")
    batch = claim(workspace)

    outbox_finish(messages=batch, error=RetryLater("429", delay=7))

    rows = list(OutboxMessage.objects.order_by("id"))
    assert {(m.state, m.last_error, m.lease_expires_at) for m in rows} == {(OutboxMessage.State.PENDING, "429", None)}
    assert {m.next_attempt_at for m in rows} == {batch[0].next_attempt_at}
    assert batch[0].next_attempt_at >= clock.now() + timedelta(seconds=6.9)
    assert sent == [("tests.deliver", m.pk, 7) for m in rows]


@pytest.mark.django_db
def test_a_failed_batch_backs_off_per_message_and_fails_those_at_their_last_attempt(sent, clock: ManualClock):
    workspace = WorkspaceFactory()
    fresh, tired = enqueue_for(workspace, "a"), enqueue_for(workspace, "a")
    OutboxMessage.objects.filter(pk=tired.pk).update(attempts=outbox.MAX_ATTEMPTS - 1)
    batch = claim(workspace)

    outbox_finish(messages=batch, error=ConnectionError("slack is down"))

    fresh.refresh_from_db()
    tired.refresh_from_db()
    assert (fresh.state, fresh.last_error) == (OutboxMessage.State.PENDING, "ConnectionError: slack is down")
    assert fresh.next_attempt_at >= clock.now() + timedelta(seconds=outbox.BACKOFF_SECONDS[0] - 0.1)
    assert (tired.state, tired.attempts) == (OutboxMessage.State.FAILED, outbox.MAX_ATTEMPTS)
    assert sent == [("tests.deliver", fresh.pk, outbox.BACKOFF_SECONDS[0])]


@pytest.mark.django_db
def test_a_permanent_failure_fails_the_whole_batch(sent):
    workspace = WorkspaceFactory()
    for _ in range(2):
        enqueue_for(workspace, "a")

    outbox_finish(messages=claim(workspace), error=PermanentFailure("webhook revoked (404)"))

    assert set(OutboxMessage.objects.values_list("state", "last_error")) == {
        (OutboxMessage.State.FAILED, "webhook revoked (404)")
    }
    assert sent == []


@pytest.mark.django_db
def test_a_deferred_message_waits_its_turn_without_counting_an_attempt(sent, clock: ManualClock):
    workspace = WorkspaceFactory()
    waiting, taken = enqueue_for(workspace, "a"), enqueue_for(workspace, "a")
    outbox.OutboxMessage.objects.filter(pk=taken.pk).update(
        state=OutboxMessage.State.RUNNING, lease_expires_at=clock.now() + outbox.LEASE
    )

    outbox_defer(message=waiting, delay=1.2)
    outbox_defer(message=taken, delay=1.2)  # another delivery has it: nothing to do

    waiting.refresh_from_db()
    assert (waiting.state, waiting.attempts) == (OutboxMessage.State.PENDING, 0)
    assert waiting.next_attempt_at >= clock.now() + timedelta(seconds=1.1)
    assert sent == [("tests.deliver", waiting.pk, 1.2)]
    assert outbox_process(message_id=waiting.pk, handler=lambda _: pytest.fail("not its turn yet")) is None
    clock.advance(1.2)
    assert outbox_process(message_id=waiting.pk, handler=lambda _: None) is not None


# --- A real worker --------------------------------------------------------------------------------------

worker_app = Celery("halo-outbox-test", broker="memory://", set_as_current=False)
worker_app.conf.update(task_default_queue="halo-outbox-test", task_ignore_result=True, task_acks_late=True)
DELIVERED: list[str] = []


@worker_app.task(name="tests.halo.deliver_probe")
def deliver_probe(message_id: int) -> None:
    outbox_process(message_id=message_id, handler=lambda m: DELIVERED.append(m.payload["text"]))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_thread_delivers_an_outbox_message_after_commit(monkeypatch):
    monkeypatch.setattr(outbox, "celery_app", worker_app)
    DELIVERED.clear()
    runtime = EmbeddedRuntime(app=worker_app, concurrency=2)
    runtime.start()
    try:
        workspace = WorkspaceFactory()
        with transaction.atomic():
            message = outbox_enqueue(workspace=workspace, task="tests.halo.deliver_probe", payload={"text": "hi"})

        wait_until(lambda: OutboxMessage.objects.get(pk=message.pk).state == "done", timeout=15, what="delivery")
    finally:
        runtime.stop()

    assert DELIVERED == ["hi"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_embedded_runtime_resends_at_start_what_was_queued_before_a_restart(monkeypatch):
    monkeypatch.setattr(outbox, "celery_app", worker_app)
    DELIVERED.clear()
    # Queued by a previous process that stopped before a worker took it (memory:// kept nothing).
    message = OutboxMessage.objects.create(
        workspace=WorkspaceFactory(), task="tests.halo.deliver_probe", payload={"text": "survived"}
    )

    runtime = EmbeddedRuntime(app=worker_app, concurrency=1)
    runtime.start()
    try:
        wait_until(lambda: OutboxMessage.objects.get(pk=message.pk).state == "done", timeout=15, what="delivery")
    finally:
        runtime.stop()

    assert DELIVERED == ["survived"]


BEAT_RUNS: list[str] = []


@worker_app.task(name="tests.halo.beat_probe")
def beat_probe() -> None:
    BEAT_RUNS.append("ran")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_embedded_runtime_runs_the_periodic_jobs_of_beat(monkeypatch, tmp_path):
    monkeypatch.setattr(outbox, "celery_app", worker_app)
    monkeypatch.setitem(worker_app.conf, "beat_schedule", {"probe": {"task": "tests.halo.beat_probe", "schedule": 0.2}})
    BEAT_RUNS.clear()

    runtime = EmbeddedRuntime(app=worker_app, beat_schedule_file=tmp_path / "beat-schedule", concurrency=1)
    runtime.start()
    try:
        wait_until(lambda: len(BEAT_RUNS) >= 2, timeout=15, what="two runs of the periodic job")
    finally:
        runtime.stop()
