"""Closing a ticket, as the widget and the inbox see it: the closing notice and the rating request in the
widget's catch-up, the conversation back with the AI, the widget's seen receipts, and the 1-5 rating (once
per ticket) stored on the ticket, in the tickets API and on the inbox's pages. Another workspace's
conversations are out of reach."""

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from agents.links import conversation_link_token
from agents.models import Conversation
from halo.models import Membership, Workspace
from inbox.models import Ticket
from inbox.services import ticket_reply, ticket_update, tickets_bulk_update
from tests.agents.factories import TEST_TOKEN, ConversationFactory, MessageFactory
from tests.halo.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

WIDGET = "/api/widget/v1/conversations"


@pytest.fixture
def token_widget(widget: APIClient) -> APIClient:
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {TEST_TOKEN}")
    return widget


def closed_ticket(escalate: Callable[..., Ticket], teammate: Membership) -> tuple[Ticket, Conversation]:
    ticket = escalate()
    teammate.user.first_name = "Sam"
    teammate.user.save()
    ticket_reply(ticket=ticket, teammate=teammate.user, body="Sorted: the refund is on its way.")
    ticket = ticket_update(ticket=ticket, data={"status": "closed"}, actor=teammate.user)
    return ticket, ticket.conversations.get()


def test_closing_tells_the_widget_and_gives_the_conversation_back_to_the_ai(
    escalate: Callable[..., Ticket], teammate: Membership, token_widget: APIClient
) -> None:
    ticket, conversation = closed_ticket(escalate, teammate)

    body = token_widget.get(f"{WIDGET}/{conversation.pk}/messages?after=0").json()

    assert body["status"] == "open"
    assert body["ticket"] is None
    notice = body["messages"][-1]
    assert notice["author"] == "system"
    assert notice["body"] == "Sam closed this conversation. Ada is here again if you need anything else."
    assert body["rating_request"] == {"ticket_id": ticket.pk}


def test_the_ai_answers_again_after_the_close(
    escalate: Callable[..., Ticket], teammate: Membership, token_widget: APIClient
) -> None:
    _, conversation = closed_ticket(escalate, teammate)

    sent = token_widget.post(
        f"{WIDGET}/{conversation.pk}/messages", {"body": "How do I reset my password?"}, format="json"
    )

    assert sent.status_code == 201
    assert [message["author"] for message in sent.json()["messages"]] == ["user", "ai"]


def test_a_rating_is_stored_once_and_shown_in_the_api_and_the_inbox(
    escalate: Callable[..., Ticket],
    teammate: Membership,
    token_widget: APIClient,
    api: APIClient,
    staff: Any,
    django_assert_max_num_queries: Any,
) -> None:
    ticket, conversation = closed_ticket(escalate, teammate)

    with django_assert_max_num_queries(12):
        rated = token_widget.post(
            f"{WIDGET}/{conversation.pk}/rating", {"score": 4, "comment": "Quick, <b>thanks</b>!"}, format="json"
        )
    again = token_widget.post(f"{WIDGET}/{conversation.pk}/rating", {"score": 1}, format="json")

    assert rated.status_code == 201
    assert rated.json()["score"] == 4
    assert rated.json()["ticket_id"] == ticket.pk
    assert again.status_code == 409
    assert again.json()["code"] == "already_rated"
    ticket.refresh_from_db()
    assert (ticket.rating_score, ticket.rating_comment) == (4, "Quick, <b>thanks</b>!")
    assert ticket.rated_at is not None
    assert token_widget.get(f"{WIDGET}/{conversation.pk}/messages").json()["rating_request"] is None

    from_api = api.get(f"/api/v1/tickets/{ticket.pk}").json()["rating"]
    assert (from_api["score"], from_api["comment"]) == (4, "Quick, <b>thanks</b>!")
    page = staff.get(reverse("inbox:ticket", args=[ticket.pk])).content.decode()
    assert "4 out of 5" in page
    assert "Quick, &lt;b&gt;thanks&lt;/b&gt;!" in page
    row = staff.get(reverse("inbox:list", args=["closed"])).content.decode()
    assert "★ 4/5" in row


def test_an_unrated_ticket_reads_as_null_in_the_api(escalate: Callable[..., Ticket], api: APIClient) -> None:
    ticket = escalate()
    assert api.get(f"/api/v1/tickets/{ticket.pk}").json()["rating"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"score": 0}, "score"),
        ({"score": 6}, "score"),
        ({"score": "5"}, "score"),
        ({"score": 3.5}, "score"),
        ({"score": True}, "score"),
        ({}, "score"),
        ({"score": 5, "comment": "x" * 2001}, "comment"),
        ({"score": 5, "comment": 7}, "comment"),
        ({"score": 5, "stars": 5}, "stars"),
    ],
)
def test_a_bad_rating_is_a_field_error(
    escalate: Callable[..., Ticket],
    teammate: Membership,
    token_widget: APIClient,
    payload: dict[str, Any],
    field: str,
) -> None:
    ticket, conversation = closed_ticket(escalate, teammate)

    response = token_widget.post(f"{WIDGET}/{conversation.pk}/rating", payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    ticket.refresh_from_db()
    assert ticket.rating_score is None


def test_nothing_to_rate_while_a_teammate_has_the_conversation(
    escalate: Callable[..., Ticket], token_widget: APIClient
) -> None:
    conversation = escalate().conversations.get()

    response = token_widget.post(f"{WIDGET}/{conversation.pk}/rating", {"score": 5}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "nothing_to_rate"


def test_another_workspaces_conversation_cannot_be_rated_or_marked_seen(
    escalate: Callable[..., Ticket], teammate: Membership, widget: APIClient
) -> None:
    ticket, conversation = closed_ticket(escalate, teammate)
    other = ConversationFactory(workspace=WorkspaceFactory(name="Globex", slug="globex"))
    message_id = conversation.messages.latest("id").pk
    # Factory conversations share one test token: the other workspace's credential here is its signed link.
    widget.credentials(HTTP_AUTHORIZATION=f"Bearer {conversation_link_token(conversation=other)}")

    rated = widget.post(f"{WIDGET}/{conversation.pk}/rating", {"score": 1}, format="json")
    seen = widget.post(f"{WIDGET}/{conversation.pk}/seen", {"message_id": message_id}, format="json")

    assert (rated.status_code, seen.status_code) == (404, 404)
    ticket.refresh_from_db()
    conversation.refresh_from_db()
    assert ticket.rating_score is None
    assert conversation.customer_seen_message_id is None


def test_without_a_token_the_rating_is_refused(escalate: Callable[..., Ticket], widget: APIClient) -> None:
    conversation = escalate().conversations.get()
    response = widget.post(f"{WIDGET}/{conversation.pk}/rating", {"score": 5}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "token_required"


def test_seen_receipts_over_http(
    escalate: Callable[..., Ticket], token_widget: APIClient, django_assert_max_num_queries: Any
) -> None:
    conversation = escalate().conversations.get()
    first, second = MessageFactory(conversation=conversation), MessageFactory(conversation=conversation)
    foreign = MessageFactory(conversation=ConversationFactory())
    url = f"{WIDGET}/{conversation.pk}/seen"

    with django_assert_max_num_queries(6):
        marked = token_widget.post(url, {"message_id": second.pk}, format="json")
    backwards = token_widget.post(url, {"message_id": first.pk}, format="json")
    refused = token_widget.post(url, {"message_id": foreign.pk}, format="json")
    malformed = token_widget.post(url, {"message_id": "x"}, format="json")

    assert marked.status_code == 200
    assert marked.json() == {"seen_message_id": second.pk}
    assert backwards.json() == {"seen_message_id": second.pk}
    assert refused.status_code == 400
    assert "message_id" in refused.json()["fields"]
    assert malformed.status_code == 400
    assert "message_id" in malformed.json()["fields"]


def test_a_bulk_close_tells_each_widget(
    escalate: Callable[..., Ticket], workspace: Workspace, token_widget: APIClient
) -> None:
    tickets = [escalate(), escalate()]
    tickets_bulk_update(workspace=workspace, ticket_ids=[t.pk for t in tickets], data={"status": "closed"})

    for ticket in tickets:
        body = token_widget.get(f"{WIDGET}/{ticket.conversations.get().pk}/messages").json()
        assert body["messages"][-1]["body"].startswith("Our team closed this conversation.")
        assert body["rating_request"] == {"ticket_id": ticket.pk}
