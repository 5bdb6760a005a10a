"""The summary job: the outbox row written by the handoff is delivered once and fills in the ticket's summary."""

import pytest

from agents.models import Agent, Conversation
from escalation.flow import handoff_request
from halo.models import OutboxMessage, Workspace
from inbox.models import Ticket
from inbox.tasks import ticket_summarize as ticket_summarize_task
from tests.agents.factories import ConversationFactory, MessageFactory


@pytest.fixture
def conversation(workspace: Workspace, agent: Agent) -> Conversation:
    return ConversationFactory(workspace=workspace, agent=agent)


def summary_job() -> OutboxMessage:
    return OutboxMessage.objects.get(task="inbox.tasks.ticket_summarize")


def test_summary_job_fills_in_the_pending_summary(conversation: Conversation) -> None:
    MessageFactory(conversation=conversation, body="I was charged twice this month")
    ticket = handoff_request(conversation=conversation).ticket
    assert ticket.summary_state == "pending"

    ticket_summarize_task(summary_job().pk)

    ticket.refresh_from_db()
    assert ticket.summary_state == "ready"
    assert "I was charged twice this month" in ticket.summary
    assert summary_job().state == OutboxMessage.State.DONE


def test_summary_job_is_delivered_once(conversation: Conversation) -> None:
    handoff_request(conversation=conversation)
    job = summary_job()
    ticket_summarize_task(job.pk)
    ticket_summarize_task(job.pk)  # a duplicate delivery finds the row done and does nothing

    job.refresh_from_db()
    assert (job.state, job.attempts) == (OutboxMessage.State.DONE, 1)


def test_summary_job_of_a_deleted_ticket_fails_visibly_without_retrying(conversation: Conversation) -> None:
    handoff_request(conversation=conversation)
    Ticket.objects.all().delete()

    ticket_summarize_task(summary_job().pk)

    job = summary_job()
    assert job.state == OutboxMessage.State.FAILED
    assert "no longer exists" in job.last_error
