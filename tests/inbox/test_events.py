"""The inbox's event log: gap-free per-workspace numbers written with the change, replay and resync."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from inbox.events import (
    REPLAY_LIMIT,
    TICKET_UPDATED,
    inbox_event_record,
    inbox_events_prune,
    inbox_events_since,
    inbox_last_seq,
)
from inbox.models import InboxEvent, Ticket
from inbox.services import ticket_summarize, ticket_update
from tests.halo.factories import WorkspaceFactory


def seqs(workspace) -> list[tuple[int, str]]:
    return list(InboxEvent.objects.filter(workspace=workspace).order_by("seq").values_list("seq", "type"))


@pytest.mark.django_db
def test_escalations_record_created_then_merged_events(workspace, escalate) -> None:
    ticket = escalate(name="Jo")
    escalate(contact=ticket.contact)

    assert seqs(workspace) == [(1, "ticket.created"), (2, "ticket.merged")]
    created = InboxEvent.objects.get(seq=1)
    assert created.ticket_id == ticket.pk
    assert created.payload["contact"] == "Jo"
    assert created.payload["status"] == "open"


@pytest.mark.django_db
def test_numbers_are_per_workspace_and_without_gaps(workspace, escalate) -> None:
    other = WorkspaceFactory()
    escalate()
    inbox_event_record(workspace_id=other.pk, type=TICKET_UPDATED)
    escalate()
    inbox_event_record(workspace_id=other.pk, type=TICKET_UPDATED)

    assert [seq for seq, _ in seqs(workspace)] == [1, 2]
    assert [seq for seq, _ in seqs(other)] == [1, 2]
    assert inbox_last_seq(workspace_id=workspace.pk) == 2


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_event_and_no_gap(workspace) -> None:
    inbox_event_record(workspace_id=workspace.pk, type=TICKET_UPDATED)

    def failing_change() -> None:
        with transaction.atomic():
            inbox_event_record(workspace_id=workspace.pk, type=TICKET_UPDATED)
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        failing_change()
    inbox_event_record(workspace_id=workspace.pk, type=TICKET_UPDATED)

    assert [seq for seq, _ in seqs(workspace)] == [1, 2]


@pytest.mark.django_db
def test_unknown_event_type_is_refused(workspace) -> None:
    with pytest.raises(ValueError, match="Unknown inbox event type"):
        inbox_event_record(workspace_id=workspace.pk, type="ticket.deleted")


@pytest.mark.django_db
def test_ticket_changes_and_summary_record_events(workspace, escalate, teammate) -> None:
    ticket = escalate()
    ticket_update(ticket=ticket, data={"status": "snoozed"})
    ticket_update(ticket=ticket, data={"status": "snoozed"})  # no change, no event
    ticket_summarize(ticket_id=ticket.pk)

    assert [kind for _, kind in seqs(workspace)] == ["ticket.created", "ticket.updated", "summary.ready"]
    assert InboxEvent.objects.get(type="ticket.updated").payload["changed"] == ["status"]


@pytest.mark.django_db
def test_a_customer_message_on_a_handed_off_conversation_is_an_event(workspace, escalate) -> None:
    from escalation.flow import message_receive

    ticket = escalate()
    conversation = ticket.conversations.select_related("agent", "workspace").get()
    message_receive(conversation=conversation, body="Any news?")

    event = InboxEvent.objects.get(type="message.new")
    assert event.ticket_id == ticket.pk
    assert event.payload["author"] == "user"


@pytest.mark.django_db
def test_replay_returns_what_was_missed_in_order(workspace) -> None:
    for _ in range(5):
        inbox_event_record(workspace_id=workspace.pk, type=TICKET_UPDATED)

    assert [e.seq for e in inbox_events_since(workspace_id=workspace.pk, after_seq=2) or []] == [3, 4, 5]
    assert inbox_events_since(workspace_id=workspace.pk, after_seq=5) == []


@pytest.mark.django_db
def test_replay_asks_for_a_resync_when_too_much_was_missed_or_pruned(workspace) -> None:
    for _ in range(3):
        inbox_event_record(workspace_id=workspace.pk, type=TICKET_UPDATED)

    assert inbox_events_since(workspace_id=workspace.pk, after_seq=99) is None  # from the future: reload
    InboxEvent.objects.filter(seq=1).update(created_at=timezone.now() - timedelta(days=30))
    assert inbox_events_prune() == 1
    assert inbox_events_since(workspace_id=workspace.pk, after_seq=0) is None  # event 1 is gone
    assert [e.seq for e in inbox_events_since(workspace_id=workspace.pk, after_seq=1) or []] == [2, 3]


@pytest.mark.django_db
def test_replay_limit(workspace) -> None:
    InboxEvent.objects.bulk_create(
        InboxEvent(workspace=workspace, seq=n, type=TICKET_UPDATED) for n in range(1, REPLAY_LIMIT + 3)
    )
    from inbox.models import InboxCounter

    InboxCounter.objects.create(workspace=workspace, last_seq=REPLAY_LIMIT + 2)
    assert inbox_events_since(workspace_id=workspace.pk, after_seq=1) is None
    assert len(inbox_events_since(workspace_id=workspace.pk, after_seq=2) or []) == REPLAY_LIMIT


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_get_distinct_consecutive_numbers(workspace) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []

    def record() -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                inbox_event_record(workspace_id=workspace.pk, type=TICKET_UPDATED)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=record) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert [seq for seq, _ in seqs(workspace)] == list(range(1, 17))


@pytest.mark.django_db
def test_summary_written_before_a_newer_merge_is_dropped(workspace, escalate) -> None:
    from inbox.summaries import BuiltinSummarizer, SummaryFacts, ticket_summary_refresh

    ticket = escalate()

    class MergesMeanwhile(BuiltinSummarizer):
        def summarize(self, facts: SummaryFacts) -> str:
            escalate(contact=ticket.contact)  # a merge lands while the summary is being written
            return "stale"

    ticket_summary_refresh(ticket_id=ticket.pk, summarizer=MergesMeanwhile())
    ticket.refresh_from_db()
    assert (ticket.summary_state, ticket.summary) == (Ticket.SummaryState.PENDING, "")
