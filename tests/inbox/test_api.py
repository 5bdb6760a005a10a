"""Tickets server API: tenant-scoped list with filters and keyset pagination, read, and status changes."""

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from agents.models import Conversation
from halo.models import Membership, Workspace
from inbox.models import Ticket
from tests.agents.factories import ConversationFactory
from tests.halo.factories import ContactFactory, MembershipFactory, WorkspaceFactory
from tests.inbox.factories import CustomInboxFactory, TicketFactory


def test_lists_the_workspaces_tickets_newest_first(api: APIClient, workspace: Workspace) -> None:
    older, newer = TicketFactory(workspace=workspace), TicketFactory(workspace=workspace)
    TicketFactory()  # another workspace's

    response = api.get("/api/v1/tickets")

    assert response.status_code == 200
    assert [ticket["id"] for ticket in response.json()["results"]] == [newer.pk, older.pk]
    assert "count" not in response.json()


def test_ticket_shows_its_context(api: APIClient, workspace: Workspace) -> None:
    conversation = ConversationFactory(workspace=workspace)
    ticket = TicketFactory(
        workspace=workspace,
        contact=conversation.contact,
        knowledge_sources=[{"title": "Refunds", "url": "https://help/refunds", "score": 0.2}],
        tools_tried=[{"name": "knowledge_search", "arguments": {"query": "refund"}}],
        summary="The customer asked about a refund.",
        summary_state="ready",
    )
    ticket.conversations.add(conversation)

    body = api.get(f"/api/v1/tickets/{ticket.pk}").json()

    assert body["contact"]["email"] == conversation.contact.email
    assert body["conversations"] == [conversation.pk]
    assert body["summary"] == "The customer asked about a refund."
    assert body["knowledge_sources"][0]["title"] == "Refunds"
    assert body["reason"] == "low_confidence"
    assert body["confidence"] == 20
    assert body["escalation_count"] == 1


def test_pending_summary_reads_as_null(api: APIClient, workspace: Workspace) -> None:
    ticket = TicketFactory(workspace=workspace)
    body = api.get(f"/api/v1/tickets/{ticket.pk}").json()
    assert (body["summary"], body["summary_state"]) == (None, "pending")


def test_filters_by_status_assignee_and_inbox(api: APIClient, workspace: Workspace, teammate: Membership) -> None:
    billing = CustomInboxFactory(workspace=workspace)
    mine = TicketFactory(workspace=workspace, assignee=teammate.user)
    priority = TicketFactory(workspace=workspace, status="priority", inbox=billing)
    closed = TicketFactory(workspace=workspace, status="closed")

    def ids(query: str) -> set[int]:
        response = api.get(f"/api/v1/tickets?{query}")
        assert response.status_code == 200, response.json()
        return {ticket["id"] for ticket in response.json()["results"]}

    assert ids("status=priority,closed") == {priority.pk, closed.pk}
    assert ids(f"assignee={teammate.user.pk}") == {mine.pk}
    assert ids("assignee=none") == {priority.pk, closed.pk}
    assert ids(f"inbox={billing.pk}") == {priority.pk}
    assert ids("inbox=none&status=open") == {mine.pk}


def test_bad_filters_are_a_400(api: APIClient) -> None:
    assert api.get("/api/v1/tickets?status=urgent").json()["code"] == "invalid"
    assert api.get("/api/v1/tickets?assignee=bob").status_code == 400


def test_keyset_pages_cover_every_ticket_once(api: APIClient, workspace: Workspace) -> None:
    created = {TicketFactory(workspace=workspace).pk for _ in range(5)}
    seen: list[int] = []
    url: str | None = "/api/v1/tickets?limit=2"
    while url:
        body = api.get(url).json()
        seen += [ticket["id"] for ticket in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(created)


def test_sort_oldest_pages_from_the_ticket_waiting_longest(api: APIClient, workspace: Workspace) -> None:
    created = [TicketFactory(workspace=workspace).pk for _ in range(5)]
    seen: list[int] = []
    url: str | None = "/api/v1/tickets?sort=oldest&limit=2"
    while url:
        body = api.get(url).json()
        seen += [ticket["id"] for ticket in body["results"]]
        url = body["next"]
    assert seen == created


def test_list_query_count_does_not_grow_with_tickets(
    api: APIClient, workspace: Workspace, django_assert_max_num_queries
) -> None:
    for _ in range(30):
        ticket = TicketFactory(workspace=workspace)
        ticket.conversations.add(ConversationFactory(workspace=workspace, contact=ticket.contact))
    with django_assert_max_num_queries(5):  # key, ticket page with contacts, conversation ids (+ last-used)
        assert len(api.get("/api/v1/tickets").json()["results"]) == 30


def test_another_workspaces_ticket_is_not_found(api: APIClient) -> None:
    foreign = TicketFactory()
    assert api.get(f"/api/v1/tickets/{foreign.pk}").status_code == 404
    assert api.patch(f"/api/v1/tickets/{foreign.pk}", {"status": "closed"}, format="json").status_code == 404
    assert Ticket.objects.get(pk=foreign.pk).status == "open"


def test_assigns_and_moves_a_ticket(api: APIClient, workspace: Workspace, teammate: Membership) -> None:
    billing = CustomInboxFactory(workspace=workspace)
    ticket = TicketFactory(workspace=workspace)

    response = api.patch(
        f"/api/v1/tickets/{ticket.pk}", {"assignee": teammate.user.pk, "inbox": billing.pk}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["assignee"], response.json()["inbox"]) == (teammate.user.pk, billing.pk)


def test_refuses_an_assignee_or_inbox_of_another_workspace(api: APIClient, workspace: Workspace) -> None:
    ticket = TicketFactory(workspace=workspace)
    outsider = MembershipFactory(workspace=WorkspaceFactory())
    foreign_inbox = CustomInboxFactory(workspace=WorkspaceFactory())

    response = api.patch(f"/api/v1/tickets/{ticket.pk}", {"assignee": outsider.user.pk}, format="json")
    assert response.status_code == 400
    assert "assignee" in response.json()["fields"]
    response = api.patch(f"/api/v1/tickets/{ticket.pk}", {"inbox": foreign_inbox.pk}, format="json")
    assert response.status_code == 400
    assert "inbox" in response.json()["fields"]


def test_closing_hands_the_conversation_back_to_the_ai(api: APIClient, workspace: Workspace) -> None:
    conversation = ConversationFactory(workspace=workspace, status=Conversation.Status.HANDED_OFF)
    ticket = TicketFactory(workspace=workspace, contact=conversation.contact)
    ticket.conversations.add(conversation)

    response = api.patch(f"/api/v1/tickets/{ticket.pk}", {"status": "closed"}, format="json")

    assert response.status_code == 200
    assert response.json()["closed_at"] is not None
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN


def test_reopening_is_refused_while_the_contact_has_another_open_ticket(api: APIClient, workspace: Workspace) -> None:
    contact = ContactFactory(workspace=workspace)
    closed = TicketFactory(workspace=workspace, contact=contact, status="closed")
    TicketFactory(workspace=workspace, contact=contact)

    response = api.patch(f"/api/v1/tickets/{closed.pk}", {"status": "open"}, format="json")

    assert response.status_code == 400
    assert "status" in response.json()["fields"]


def test_database_allows_one_open_ticket_per_contact(workspace: Workspace) -> None:
    contact = ContactFactory(workspace=workspace)
    TicketFactory(workspace=workspace, contact=contact, status="snoozed")
    TicketFactory(workspace=workspace, contact=contact, status="closed")
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketFactory(workspace=workspace, contact=contact, status="priority")


def test_filters_by_a_segment_rule_on_the_contact(api: APIClient, workspace: Workspace) -> None:
    vip = TicketFactory(workspace=workspace, contact=ContactFactory(workspace=workspace, custom_fields={"vip": True}))
    TicketFactory(workspace=workspace, contact=ContactFactory(workspace=workspace, custom_fields={"vip": False}))

    response = api.get("/api/v1/tickets", {"segment": "user.custom_fields.vip = true"})

    assert response.status_code == 200
    assert [ticket["id"] for ticket in response.json()["results"]] == [vip.pk]


def test_a_segment_rule_that_does_not_parse_is_a_400_with_its_position(api: APIClient) -> None:
    response = api.get("/api/v1/tickets", {"segment": "user.plan = = pro"})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_rule"
    assert body["position"]["column"] == 13
