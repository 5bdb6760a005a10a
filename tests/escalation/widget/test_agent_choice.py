"""Widget API: an embed picks one of its workspace's agents (``agent`` on ``config`` and ``POST conversations``).

A workspace with "Sales" on its pricing page and "Support" in its help center embeds the widget twice with
``data-agent``. Without it the workspace's first agent answers, as before. The conversation keeps its agent.
Another workspace's agent, an unknown id or one that is not an integer is a 404 ``unknown_agent`` — never
the other workspace's agent, never a 500.
"""

from typing import Any

import pytest
from rest_framework.test import APIClient

from agents.models import Agent, Conversation
from agents.services import agent_update
from halo.models import Workspace
from tests.agents.factories import AgentFactory
from tests.halo.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

ORIGIN = "https://shop.example.com"


@pytest.fixture
def sales(workspace: Workspace, agent: Agent) -> Agent:
    """The workspace's second agent (``agent``, "Ada", is its first)."""
    return AgentFactory(workspace=workspace, name="Sam from Sales", greeting="Questions about plans? Ask me.")


@pytest.fixture
def foreign_agent(db: None) -> Agent:
    return AgentFactory(workspace=WorkspaceFactory(), name="Their bot", greeting="Their secret greeting")


def config(widget: APIClient, workspace: Workspace, agent: Any = None, **headers: str) -> Any:
    query: dict[str, Any] = {"app_id": workspace.app_id}
    if agent is not None:
        query["agent"] = agent
    return widget.get("/api/widget/v1/config", query, **headers)


def start(widget: APIClient, workspace: Workspace, **extra: Any) -> Any:
    body = {"app_id": workspace.app_id, "body": "How much is the pro plan?", **extra}
    return widget.post("/api/widget/v1/conversations", body, format="json")


def test_config_shows_the_chosen_agents_name_and_greeting(
    widget: APIClient, workspace: Workspace, sales: Agent
) -> None:
    response = config(widget, workspace, agent=sales.pk)

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["greeting"]) == (
        "Sam from Sales",
        "Questions about plans? Ask me.",
    )


def test_config_without_an_agent_shows_the_first_agent(widget: APIClient, workspace: Workspace, sales: Agent) -> None:
    response = config(widget, workspace)

    assert (response.json()["name"], response.json()["greeting"]) == ("Ada", "Hi, I'm Ada!")


def test_conversation_is_stored_with_the_chosen_agent_and_keeps_it(
    widget: APIClient, workspace: Workspace, agent: Agent, sales: Agent
) -> None:
    started = start(widget, workspace, agent=sales.pk)

    assert started.status_code == 201
    body = started.json()
    assert Conversation.objects.get(pk=body["id"]).agent_id == sales.pk
    # Sales hands its chat to the workspace's own bot: the follow-up gets no built-in answer, which the
    # first agent (Ada, built-in) would have given. The embed sends no agent any more; the conversation has it.
    agent_update(agent=sales, data={"responder": Agent.Responder.EXTERNAL})
    follow_up = widget.post(
        f"/api/widget/v1/conversations/{body['id']}/messages",
        {"body": "How do I reset my password?"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {body['token']}",
    )

    assert follow_up.status_code == 201
    assert [m["author"] for m in follow_up.json()["messages"]] == ["user"]
    assert Conversation.objects.get(pk=body["id"]).agent_id == sales.pk


def test_conversation_without_an_agent_goes_to_the_first_agent(
    widget: APIClient, workspace: Workspace, agent: Agent, sales: Agent
) -> None:
    for extra in ({}, {"agent": None}):
        response = start(widget, workspace, **extra)

        assert response.status_code == 201, extra
        assert Conversation.objects.get(pk=response.json()["id"]).agent_id == agent.pk


def test_an_agent_id_given_as_digits_works_like_an_integer(
    widget: APIClient, workspace: Workspace, sales: Agent
) -> None:
    response = start(widget, workspace, agent=str(sales.pk))

    assert response.status_code == 201
    assert Conversation.objects.get(pk=response.json()["id"]).agent_id == sales.pk


def test_another_workspaces_agent_is_unknown_and_shows_nothing_of_it(
    widget: APIClient, workspace: Workspace, agent: Agent, foreign_agent: Agent
) -> None:
    got = config(widget, workspace, agent=foreign_agent.pk)
    posted = start(widget, workspace, agent=foreign_agent.pk)

    for response in (got, posted):
        assert response.status_code == 404
        assert response.json() == {"code": "unknown_agent", "message": "This workspace has no agent with this id."}
        assert "Their" not in response.content.decode()
    assert not Conversation.objects.exists()
    assert not foreign_agent.conversations.exists()


@pytest.mark.parametrize(
    "raw", ["999999999", "abc", "", "0", "-1", "1.5", "1e3", "²", "a\x00b", "99999999999999999999999", " 1"]
)
def test_config_with_an_agent_that_is_not_one_of_the_workspaces_ids_is_a_404(
    widget: APIClient, workspace: Workspace, agent: Agent, raw: str
) -> None:
    response = config(widget, workspace, agent=raw)

    assert (response.status_code, response.json()["code"]) == (404, "unknown_agent")


@pytest.mark.parametrize(
    "raw", [999999999, "abc", "", 0, -1, 1.5, True, [1], {"id": 1}, 10**30, "99999999999999999999999"]
)
def test_start_with_an_agent_that_is_not_one_of_the_workspaces_ids_is_a_404_and_creates_nothing(
    widget: APIClient, workspace: Workspace, agent: Agent, raw: Any
) -> None:
    response = start(widget, workspace, agent=raw)

    assert (response.status_code, response.json()["code"]) == (404, "unknown_agent")
    assert not Conversation.objects.exists()


def test_unknown_agent_error_carries_cors_headers_so_the_widget_can_read_it(
    widget: APIClient, workspace: Workspace, agent: Agent
) -> None:
    response = config(widget, workspace, agent="999999999", HTTP_ORIGIN=ORIGIN)

    assert response.status_code == 404
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_unknown_app_is_still_reported_before_the_agent(widget: APIClient, agent: Agent) -> None:
    response = widget.get("/api/widget/v1/config", {"app_id": "nope", "agent": agent.pk})

    assert (response.status_code, response.json()["code"]) == (404, "unknown_app")
