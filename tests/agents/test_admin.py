"""Admin of the agents app: write-only API key, articles indexed on save, workspace scoping."""

from typing import Any

import pytest
from django.test import Client

from agents.knowledge import knowledge_search
from agents.models import Agent, KnowledgeArticle
from halo.models import Workspace
from tests.agents.factories import AgentFactory, ConversationFactory, KnowledgeArticleFactory

pytestmark = pytest.mark.django_db


def agent_form(agent: Agent, **changes: Any) -> dict[str, Any]:
    data = {
        "workspace": agent.workspace_id,
        "name": agent.name,
        "greeting": agent.greeting,
        "knowledge_search_enabled": "on",
        "responder": agent.responder,
        "openai_base_url": agent.openai_base_url,
        "openai_model": agent.openai_model,
        "openai_api_key": "",
        "web_search_provider": "none",
        "web_search_url": "",
        "human_only_topics": '["refund"]',
    }
    data.update(changes)
    return data


def test_api_key_is_write_only_and_kept_when_left_blank(admin_client_of: Client, agent: Agent) -> None:
    agent.openai_api_key = "sk-very-secret"
    agent.save()
    url = f"/admin/agents/agent/{agent.pk}/change/"

    page = admin_client_of.get(url)
    saved = admin_client_of.post(url, agent_form(agent, name="Ada 2"))

    assert page.status_code == 200
    assert "sk-very-secret" not in page.content.decode()
    assert saved.status_code == 302
    agent.refresh_from_db()
    assert (agent.name, agent.openai_api_key) == ("Ada 2", "sk-very-secret")


def test_article_added_in_the_admin_is_searchable(admin_client_of: Client, workspace: Workspace) -> None:
    response = admin_client_of.post(
        "/admin/agents/knowledgearticle/add/",
        {"workspace": workspace.pk, "title": "Gift cards", "body": "Gift cards never expire.", "published": "on"},
    )

    assert response.status_code == 302
    assert knowledge_search(workspace=workspace, text="gift cards")[0].title == "Gift cards"


def test_workspace_admin_sees_only_their_workspace(admin_client_of: Client, agent: Agent) -> None:
    other_agent = AgentFactory(name="Zephyr of Globex")
    other_article = KnowledgeArticleFactory(workspace=other_agent.workspace)
    other_conversation = ConversationFactory(workspace=other_agent.workspace, agent=other_agent)

    assert admin_client_of.get(f"/admin/agents/agent/{agent.pk}/change/").status_code == 200
    for url in (
        f"/admin/agents/agent/{other_agent.pk}/change/",
        f"/admin/agents/knowledgearticle/{other_article.pk}/change/",
        f"/admin/agents/conversation/{other_conversation.pk}/change/",
    ):
        assert admin_client_of.get(url).status_code in (302, 403, 404)
    assert other_agent.name not in admin_client_of.get("/admin/agents/agent/").content.decode()
    assert KnowledgeArticle.objects.filter(pk=other_article.pk).exists()


def test_conversation_page_shows_transcript_and_turns(admin_client_of: Client, agent: Agent) -> None:
    conversation = ConversationFactory(workspace=agent.workspace, agent=agent)
    conversation.messages.create(author="user", body="Where is <b>my</b> invoice?")

    page = admin_client_of.get(f"/admin/agents/conversation/{conversation.pk}/change/")

    assert page.status_code == 200
    assert "Where is &lt;b&gt;my&lt;/b&gt; invoice?" in page.content.decode()
