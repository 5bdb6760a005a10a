"""Demo data and the demo page: the agent, a realistic help center, the widget embedded."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from agents.demo import ARTICLES, seed
from agents.knowledge import knowledge_search
from agents.models import Agent, KnowledgeArticle
from halo.demo import demo_workspace_get_or_create
from halo.models import Workspace
from tests.agents.factories import AgentFactory

pytestmark = pytest.mark.django_db


def test_seed_builds_an_agent_and_a_help_center_once() -> None:
    workspace, _ = demo_workspace_get_or_create()

    seed(workspace)
    seed(workspace)

    assert Agent.objects.filter(workspace=workspace).count() == 1
    assert KnowledgeArticle.objects.filter(workspace=workspace).count() == len(ARTICLES) >= 36
    assert len({section for section, _, _ in ARTICLES}) >= 5
    hits = knowledge_search(workspace=workspace, text="How do I turn on two-factor authentication?")
    assert hits[0].title == "Turn on two-factor authentication"
    assert hits[0].url.startswith("https://help.acme.test/articles/")


def test_seed_demo_command_includes_the_agents_seed() -> None:
    call_command("seed_demo", stdout=StringIO())

    workspace = Workspace.objects.get(slug="acme")
    assert KnowledgeArticle.objects.filter(workspace=workspace).count() == len(ARTICLES)


def test_create_workspace_provisions_an_agent() -> None:
    out = StringIO()
    call_command(
        "create_workspace",
        "Globex",
        "--admin-email",
        "boss@globex.test",
        "--admin-password",
        "pw-12345-xyz",
        stdout=out,
    )

    printed = json.loads(out.getvalue())
    agent = Agent.objects.get(pk=printed["agent_id"])
    assert agent.workspace_id == printed["workspace_id"]
    assert agent.responder == "builtin"


def test_demo_page_embeds_the_widget_of_the_demo_workspace(client: Client) -> None:
    workspace, _ = demo_workspace_get_or_create()
    AgentFactory(workspace=workspace)

    response = client.get("/widget/demo/")

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-app-id="{workspace.app_id}"' in html
    assert "/static/agents/widget.js" in html


def test_demo_page_for_another_app_id_and_unknown_ones(client: Client) -> None:
    agent = AgentFactory()

    assert agent.workspace.app_id in client.get(f"/widget/demo/?app_id={agent.workspace.app_id}").content.decode()
    assert client.get("/widget/demo/?app_id=nope").status_code == 404
    assert client.get("/widget/demo/").status_code == 404


def test_widget_assets_are_served(client: Client) -> None:
    script = client.get("/static/agents/widget.js")
    assert script.status_code == 200
    assert b"data-app-id" in b"".join(script.streaming_content)  # type: ignore[attr-defined]
    assert client.get("/static/agents/widget.css").status_code == 200
