"""R1: simultaneous escalations for one contact, each on its own database connection, make one ticket.

The partial unique constraint ``ticket_one_open_per_contact`` decides the race; every escalation is still
recorded as an event. Runs on PostgreSQL (real row locks and concurrent transactions); SQLite serialises
writers, so the race cannot happen there.
"""

import threading

import pytest
from django.db import connection, connections

from agents.models import Conversation
from agents.turns import ToolCall, ToolName
from escalation.flow import ai_turn_submit
from escalation.services import escalation_settings_ensure
from inbox.models import EscalationEvent, Ticket
from tests.agents.factories import AgentFactory, ConversationFactory
from tests.halo.factories import ContactFactory, WorkspaceFactory

CONCURRENT = 64

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL)"),
]


@pytest.mark.django_db(transaction=True)
def test_concurrent_escalations_for_one_contact_make_one_ticket_and_every_event() -> None:
    workspace = WorkspaceFactory()
    agent = AgentFactory(workspace=workspace)
    escalation_settings_ensure(agent=agent)
    contact = ContactFactory(workspace=workspace)
    conversations = [ConversationFactory(workspace=workspace, agent=agent, contact=contact) for _ in range(CONCURRENT)]
    start = threading.Barrier(CONCURRENT)
    errors: list[BaseException] = []

    def escalate(conversation_id: int) -> None:
        try:
            # This thread's own connection, the conversation read as the server API reads it.
            conversation = Conversation.objects.select_related("workspace", "agent", "contact").get(pk=conversation_id)
            start.wait(timeout=30)
            ai_turn_submit(
                conversation=conversation,
                reply="Let me get a teammate.",
                confidence=None,
                tools=[ToolCall(name=ToolName.ESCALATE)],
                knowledge_sources=[],
            )
        except BaseException as error:  # reported below; a thread cannot fail the test itself
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=escalate, args=(conversation.pk,)) for conversation in conversations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    ticket = Ticket.objects.exclude(status=Ticket.Status.CLOSED).get(contact=contact)
    assert Ticket.objects.filter(contact=contact).count() == 1
    assert EscalationEvent.objects.filter(ticket=ticket).count() == CONCURRENT
    assert EscalationEvent.objects.filter(outcome="created").count() == 1
    assert ticket.escalation_count == CONCURRENT
    assert ticket.conversations.count() == CONCURRENT
