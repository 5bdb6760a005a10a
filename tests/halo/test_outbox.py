"""The transactional outbox: enqueue on commit, claim under a lease, retry with backoff, sweep after a crash,
and delivery by a real Celery worker thread (the embedded runtime)."""

import time
from datetime import timedelta

import pytest
from celery import Celery
from django.db import transaction
from django.utils import timezone

from halo import outbox
from halo.embedded import EmbeddedRuntime
from halo.models import OutboxMessage
from halo.outbox import PermanentFailure, RetryLater, outbox_enqueue, outbox_process, outbox_retry, outbox_sweep
from tests.halo.factories import WorkspaceFactory


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

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and OutboxMessage.objects.get(pk=message.pk).state != "done":
            time.sleep(0.05)
    finally:
        runtime.stop()

    assert OutboxMessage.objects.get(pk=message.pk).state == OutboxMessage.State.DONE
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
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and OutboxMessage.objects.get(pk=message.pk).state != "done":
            time.sleep(0.05)
    finally:
        runtime.stop()

    assert DELIVERED == ["survived"]


BEAT_RUNS: list[float] = []


@worker_app.task(name="tests.halo.beat_probe")
def beat_probe() -> None:
    BEAT_RUNS.append(time.monotonic())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_embedded_runtime_runs_the_periodic_jobs_of_beat(monkeypatch, tmp_path):
    monkeypatch.setattr(outbox, "celery_app", worker_app)
    monkeypatch.setitem(worker_app.conf, "beat_schedule", {"probe": {"task": "tests.halo.beat_probe", "schedule": 0.2}})
    BEAT_RUNS.clear()

    runtime = EmbeddedRuntime(app=worker_app, beat_schedule_file=tmp_path / "beat-schedule", concurrency=1)
    runtime.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(BEAT_RUNS) < 2:
            time.sleep(0.05)
    finally:
        runtime.stop()

    assert len(BEAT_RUNS) >= 2
