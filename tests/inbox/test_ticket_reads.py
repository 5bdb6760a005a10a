"""The ticket page's reads (``ticket_detail_get``, ``customer_context_get``), compiled once per connection,
return what their querysets return, for a ticket with every part, and only among the teammate's workspaces."""

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db.models import F, Prefetch
from django.utils import timezone

from agents.models import Conversation, Message
from halo.models import Membership, PageView, Workspace
from inbox.models import CustomInbox, EscalationEvent, Ticket, TicketNote
from inbox.selectors import CUSTOMER_RECENT, customer_context_get, ticket_detail_get
from tests.agents.factories import ConversationFactory
from tests.halo.factories import CompanyFactory, ContactFactory, MembershipFactory, WorkspaceFactory
from tests.inbox.factories import CustomInboxFactory, TicketFactory

pytestmark = pytest.mark.django_db


def keys(instances: Any, *fields: str) -> list[tuple[Any, ...]]:
    """Each instance's id and fields (a missing reverse one-to-one, a message's turn, reads as None)."""
    return [tuple(getattr(instance, field, None) for field in ("pk", *fields)) for instance in instances]


def test_the_ticket_pages_reads_are_what_their_querysets_return(
    escalate, workspace: Workspace, teammate: Membership
) -> None:
    contact = ContactFactory(workspace=workspace, name="Jane Roe", company=CompanyFactory(workspace=workspace))
    ticket = escalate(contact=contact, body="Where is my refund?")
    escalate(contact=contact, body="Still waiting")  # merged into the open ticket: a second conversation
    TicketNote.objects.create(ticket=ticket, author=teammate.user, body="VIP")
    TicketNote.objects.create(ticket=ticket, author=None, body="From an import")
    MembershipFactory(workspace=workspace, user__first_name="Kim", available=False)
    CustomInboxFactory(workspace=workspace, name="Billing")
    now = timezone.now()
    for minutes in range(CUSTOMER_RECENT + 2):
        PageView.objects.create(
            contact=contact, url=f"https://acme.test/{minutes}", occurred_at=now - dt.timedelta(minutes=minutes)
        )
    past = [TicketFactory(workspace=workspace, contact=contact, status=Ticket.Status.CLOSED) for _ in range(2)]
    elsewhere = ConversationFactory(workspace=workspace, contact=contact)
    other = WorkspaceFactory(name="Globex", slug="globex")

    detail = ticket_detail_get(workspace_ids=[other.pk, teammate.workspace_id], ticket_id=ticket.pk)
    customer = customer_context_get(ticket=ticket)

    assert detail is not None
    found = detail.ticket
    assert (found.pk, found.workspace, found.contact, found.contact.company) == (
        ticket.pk,
        workspace,
        contact,
        contact.company,
    )
    assert (found.assignee, found.inbox, found.agent, found.verdict_by) == (None, None, ticket.agent, None)
    conversations = list(
        Conversation.objects.filter(tickets=ticket)
        .order_by("created_at", "id")
        .prefetch_related(
            Prefetch("messages", queryset=Message.objects.select_related("teammate", "turn").order_by("id"))
        )
    )
    assert len(conversations) == 2
    assert [keys(c.messages.all(), "body", "teammate", "turn") for c in detail.conversations] == [
        keys(c.messages.all(), "body", "teammate", "turn") for c in conversations
    ]
    assert keys(detail.escalations, "conversation", "turn", "outcome") == keys(
        EscalationEvent.objects.filter(ticket=ticket)
        .select_related("conversation", "turn")
        .order_by("created_at", "id"),
        "conversation",
        "turn",
        "outcome",
    )
    assert keys(detail.notes, "author", "body") == [
        (note.pk, note.author, note.body) for note in TicketNote.objects.filter(ticket=ticket).order_by("id")
    ]
    teammates = (
        get_user_model()
        .objects.filter(memberships__workspace_id=workspace.pk, is_active=True)
        .annotate(available=F("memberships__available"))
        .order_by("first_name", "username")
    )
    assert keys(detail.teammates, "first_name", "available") == keys(teammates, "first_name", "available")
    assert sorted(user.available for user in detail.teammates) == [False, True]  # type: ignore[attr-defined]
    assert detail.inboxes == list(CustomInbox.objects.filter(workspace=workspace))
    assert keys(customer.page_views, "url") == keys(
        PageView.objects.filter(contact=contact).order_by("-occurred_at", "-id")[:CUSTOMER_RECENT], "url"
    )
    assert [t.pk for t in customer.past_tickets] == [t.pk for t in reversed(past)]
    assert keys(customer.other_conversations, "agent") == [(elsewhere.pk, elsewhere.agent)]


def test_a_ticket_of_a_workspace_the_teammate_is_not_in_is_not_found(workspace: Workspace) -> None:
    other = WorkspaceFactory(name="Globex", slug="globex")
    theirs = TicketFactory(workspace=other)
    ours = TicketFactory(workspace=workspace)

    assert ticket_detail_get(workspace_ids=[workspace.pk], ticket_id=theirs.pk) is None
    assert ticket_detail_get(workspace_ids=[], ticket_id=ours.pk) is None
    for workspace_ids in ([workspace.pk], [other.pk, workspace.pk], [workspace.pk, workspace.pk]):
        detail = ticket_detail_get(workspace_ids=workspace_ids, ticket_id=ours.pk)
        assert detail is not None
        assert detail.ticket.pk == ours.pk
    assert ticket_detail_get(workspace_ids=[other.pk], ticket_id=ours.pk) is None
