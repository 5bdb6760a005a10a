"""Races of escalation, each side on its own database connection (PostgreSQL: real row locks and concurrent
transactions; SQLite serialises writers, so the races cannot happen there).

R1: simultaneous escalations for one contact make one ticket: the partial unique constraint
``ticket_one_open_per_contact`` decides the race; every escalation is still recorded as an event.
R8: a close and a handoff into the same ticket serialise on the ticket's row lock, and a close is refused
when an escalation merged since the teammate looked.
"""

import threading
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from agents.models import Conversation, Message
from agents.turns import ToolCall, ToolName
from escalation.flow import ai_turn_submit, handoff_request
from escalation.services import escalation_settings_ensure
from inbox.models import EscalationEvent, Ticket
from inbox.selectors import ticket_open_of_conversation
from inbox.services import ticket_update
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


ROUNDS = 50


def _run_together(*jobs: Callable[[], object]) -> list[BaseException]:
    """Run each job on its own thread and database connection, released at the same moment."""
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            start.wait(timeout=30)
            job()
        except ValidationError:
            pass  # a refused close is an outcome, not an error
        except BaseException as error:  # reported by the caller; a thread cannot fail the test itself
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def _widget_read(conversation_id: int) -> Conversation:
    return Conversation.objects.select_related("workspace", "contact", "agent__escalation_settings").get(
        pk=conversation_id
    )


def _assert_no_handoff_lost(first: Conversation, second: Conversation) -> None:
    for conversation in Conversation.objects.filter(pk__in=[first.pk, second.pk]):
        holder = ticket_open_of_conversation(conversation=conversation)
        if conversation.status == Conversation.Status.HANDED_OFF:
            assert holder is not None, "a handed-off conversation without an open ticket"
        if conversation.pk == second.pk:
            assert conversation.messages.filter(author=Message.Author.SYSTEM).exists(), "the customer was not told"
            assert conversation.status == Conversation.Status.HANDED_OFF, "told of a handoff that did not stand"
            assert holder is not None, "told of a handoff that did not stand"


@pytest.mark.django_db(transaction=True)
def test_a_close_racing_a_handoff_never_leaves_a_customer_told_of_a_handoff_that_did_not_stand() -> None:
    """R8: a teammate closes a ticket while the same customer asks for a human in another conversation.

    Even rounds run the two at the same moment; odd rounds let the handoff finish first and then close the
    ticket as the teammate's page still shows it (the interleaving that used to lose the handoff)."""
    workspace = WorkspaceFactory()
    agent = AgentFactory(workspace=workspace)
    escalation_settings_ensure(agent=agent)
    for round_number in range(ROUNDS):
        contact = ContactFactory(workspace=workspace)
        first = ConversationFactory(workspace=workspace, agent=agent, contact=contact)
        ticket = handoff_request(conversation=_widget_read(first.pk)).ticket
        second = ConversationFactory(workspace=workspace, agent=agent, contact=contact)
        seen = Ticket.objects.get(pk=ticket.pk)  # the ticket as the teammate's page shows it

        def close(seen: Ticket = seen) -> None:
            ticket_update(ticket=seen, data={"status": Ticket.Status.CLOSED})

        def hand_off(second: Conversation = second) -> None:
            handoff_request(conversation=_widget_read(second.pk))

        if round_number % 2 == 0:
            assert _run_together(close, hand_off) == []
        else:
            hand_off()
            with pytest.raises(ValidationError, match="escalated again"):
                close()
            assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.OPEN
        _assert_no_handoff_lost(first, second)
