"""The conversation feed (``GET /api/v1/conversations``): oldest change first, filters, cursor pages, each
conversation's newest message, one workspace only, a fixed number of queries."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import Agent, Conversation
from halo.models import Workspace
from tests.agents.factories import AgentFactory, ConversationFactory, MessageFactory
from tests.halo.factories import ContactFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def conversation_at(workspace: Workspace, agent: Agent, minutes_ago: int, status: str = "open") -> Conversation:
    return ConversationFactory(
        workspace=workspace,
        agent=agent,
        contact=ContactFactory(workspace=workspace),
        status=status,
        updated_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_lists_the_workspaces_conversations_oldest_change_first_with_their_newest_message(
    api: APIClient, workspace: Workspace, agent: Agent
) -> None:
    recent = conversation_at(workspace, agent, 1)
    old = conversation_at(workspace, agent, 30)
    MessageFactory(conversation=old, author="user", body="first")
    last = MessageFactory(conversation=old, author="ai", body="an answer")
    conversation_at(WorkspaceFactory(), AgentFactory(), 10)  # another workspace's

    response = api.get("/api/v1/conversations")

    assert ids(response) == [old.pk, recent.pk]
    row = response.json()["results"][0]
    assert row["status"] == "open"
    assert row["agent_id"] == agent.pk
    assert row["contact"]["id"] == old.contact_id
    assert (row["last_message"]["id"], row["last_message"]["author"]) == (last.pk, "ai")
    assert response.json()["results"][1]["last_message"] is None


def test_filters_by_status_agent_and_last_change(api: APIClient, workspace: Workspace, agent: Agent) -> None:
    other_agent = AgentFactory(workspace=workspace)
    open_old = conversation_at(workspace, agent, 60)
    handed_off = conversation_at(workspace, agent, 20, status="handed_off")
    closed = conversation_at(workspace, agent, 10, status="closed")
    others = conversation_at(workspace, other_agent, 5)
    since = (timezone.now() - timedelta(minutes=30)).isoformat()

    assert ids(api.get("/api/v1/conversations", {"status": "open"})) == [open_old.pk, others.pk]
    assert ids(api.get("/api/v1/conversations", {"status": "handed_off,closed"})) == [handed_off.pk, closed.pk]
    assert ids(api.get("/api/v1/conversations", {"agent": other_agent.pk})) == [others.pk]
    assert ids(api.get("/api/v1/conversations", {"updated_after": since})) == [handed_off.pk, closed.pk, others.pk]
    assert ids(api.get("/api/v1/conversations", {"agent": AgentFactory().pk})) == []


def test_pages_follow_the_cursor_and_a_changed_conversation_moves_to_the_end(
    api: APIClient, workspace: Workspace, agent: Agent
) -> None:
    conversations = [conversation_at(workspace, agent, 50 - minute) for minute in range(5)]

    first = api.get("/api/v1/conversations", {"limit": 2})
    assert ids(first) == [conversation.pk for conversation in conversations[:2]]
    Conversation.objects.filter(pk=conversations[0].pk).update(updated_at=timezone.now())
    second = api.get(first.json()["next"])
    third = api.get(second.json()["next"])

    assert ids(second) == [conversations[2].pk, conversations[3].pk]
    assert ids(third) == [conversations[4].pk, conversations[0].pk]  # seen again: it changed since
    assert third.json()["next"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "pending"}, "status"),
        ({"agent": "x"}, "agent"),
        ({"agent": "99999999999999999999999"}, "agent"),
        ({"updated_after": "yesterday"}, "updated_after"),
        ({"updated_after": "2026-13-45T00:00:00Z"}, "updated_after"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_bad_parameters_are_a_field_error(api: APIClient, query: dict[str, str], field: str) -> None:
    response = api.get("/api/v1/conversations", query)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]


def test_a_page_uses_a_fixed_number_of_queries(
    api: APIClient, workspace: Workspace, agent: Agent, django_assert_max_num_queries: Any
) -> None:
    for minute in range(20):
        conversation = conversation_at(workspace, agent, minute)
        MessageFactory(conversation=conversation, author="user", body="hello")
    # The key (and its last-used stamp at most), the page with contacts and newest message ids, the messages.
    with django_assert_max_num_queries(4):
        assert len(ids(api.get("/api/v1/conversations"))) == 20


def test_needs_an_api_key() -> None:
    assert APIClient().get("/api/v1/conversations").status_code == 401
