"""Server API of the agents app: agents, knowledge articles, conversation records; tenant-scoped."""

import pytest
from rest_framework.test import APIClient

from agents.knowledge import knowledge_search
from agents.models import Agent, AgentTurn, KnowledgeArticle
from escalation.flow import message_receive
from halo.models import Workspace
from tests.agents.factories import AgentFactory, ConversationFactory, KnowledgeArticleFactory
from tests.halo.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


class TestAgents:
    def test_get_shows_the_spec_fields_and_hides_the_api_key(self, api: APIClient, agent: Agent) -> None:
        agent.openai_api_key = "sk-secret"
        agent.save()

        response = api.get(f"/api/v1/agents/{agent.pk}")

        assert response.status_code == 200
        body = response.json()
        assert {key: body[key] for key in ("id", "name", "greeting", "responder")} == {
            "id": agent.pk,
            "name": "Ada",
            "greeting": "Hi, I'm Ada!",
            "responder": "builtin",
        }
        assert body["knowledge_search_enabled"] is True
        assert body["web_search_enabled"] is False
        assert body["openai_api_key_set"] is True
        assert "sk-secret" not in response.content.decode()

    def test_list_shows_only_this_workspaces_agents(self, api: APIClient, agent: Agent) -> None:
        AgentFactory()

        assert [row["id"] for row in api.get("/api/v1/agents").json()] == [agent.pk]

    def test_patch_changes_name_skills_and_responder(self, api: APIClient, agent: Agent) -> None:
        response = api.patch(
            f"/api/v1/agents/{agent.pk}",
            {
                "name": "Max",
                "web_search_enabled": True,
                "responder": "openai",
                "openai_base_url": "https://llm.example.com/v1",
                "openai_model": "gpt-x",
                "openai_api_key": "sk-new",
            },
            format="json",
        )

        assert response.status_code == 200, response.json()
        assert response.json()["name"] == "Max"
        assert response.json()["responder"] == "openai"
        agent.refresh_from_db()
        assert (agent.web_search_enabled, agent.openai_api_key) == (True, "sk-new")

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"responder": "skynet"}, "responder"),
            ({"responder": "openai"}, "responder"),
            ({"web_search_provider": "searxng"}, "web_search_url"),
            ({"name": ""}, "name"),
            ({"human_only_topics": [""]}, "human_only_topics"),
            ({"nmae": "typo"}, "nmae"),
            ({"web_search_enabled": "yes"}, "web_search_enabled"),
            ({"name": 42}, "name"),
        ],
    )
    def test_patch_refuses_bad_values_with_a_400(
        self, api: APIClient, agent: Agent, payload: dict[str, object], field: str
    ) -> None:
        response = api.patch(f"/api/v1/agents/{agent.pk}", payload, format="json")

        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert field in response.json()["fields"]
        agent.refresh_from_db()
        assert agent.responder == "builtin"

    def test_another_workspaces_agent_is_not_found(self, api: APIClient) -> None:
        other = AgentFactory()

        assert api.get(f"/api/v1/agents/{other.pk}").status_code == 404
        assert api.patch(f"/api/v1/agents/{other.pk}", {"name": "x"}, format="json").status_code == 404

    def test_without_an_api_key_nothing_is_readable(self, agent: Agent) -> None:
        assert APIClient().get(f"/api/v1/agents/{agent.pk}").status_code == 401


class TestKnowledgeArticles:
    def test_create_read_replace_delete(self, api: APIClient, workspace: Workspace) -> None:
        created = api.post(
            "/api/v1/knowledge/articles",
            {"title": "Shipping times", "body": "Orders ship within 2 days.", "url": "https://h.example/ship"},
            format="json",
        )
        assert created.status_code == 201, created.json()
        article_id = created.json()["id"]
        assert created.json()["published"] is True
        assert knowledge_search(workspace=workspace, text="shipping")[0].article_id == article_id

        read = api.get(f"/api/v1/knowledge/articles/{article_id}")
        assert read.json()["title"] == "Shipping times"

        replaced = api.put(
            f"/api/v1/knowledge/articles/{article_id}",
            {"title": "Delivery times", "body": "Orders arrive in 3 days.", "published": False},
            format="json",
        )
        assert replaced.status_code == 200
        assert (replaced.json()["title"], replaced.json()["url"], replaced.json()["published"]) == (
            "Delivery times",
            "",
            False,
        )
        assert knowledge_search(workspace=workspace, text="delivery") == []

        assert api.delete(f"/api/v1/knowledge/articles/{article_id}").status_code == 204
        assert api.get(f"/api/v1/knowledge/articles/{article_id}").status_code == 404
        assert not KnowledgeArticle.objects.filter(pk=article_id).exists()

    @pytest.mark.parametrize(
        "payload",
        [
            {},
            {"title": "x"},
            {"title": "", "body": "b"},
            {"title": "t", "body": "b", "url": "not a url"},
            {"title": "t", "body": 5},
            {"title": "t", "body": "b", "published": 0},
            {"title": "t", "body": "b", "url": "javascript:alert(1)"},
            [],
        ],
    )
    def test_bad_input_is_a_400(self, api: APIClient, payload: object) -> None:
        response = api.post("/api/v1/knowledge/articles", payload, format="json")

        assert response.status_code == 400
        assert response.json()["code"] == "invalid"

    def test_list_pages_by_id(self, api: APIClient, workspace: Workspace) -> None:
        articles = [KnowledgeArticleFactory(workspace=workspace) for _ in range(3)]
        KnowledgeArticleFactory()

        page = api.get("/api/v1/knowledge/articles").json()
        assert [row["id"] for row in page["results"]] == [article.pk for article in articles]
        assert page["next_after"] is None
        later = api.get(f"/api/v1/knowledge/articles?after={articles[0].pk}").json()
        assert [row["id"] for row in later["results"]] == [article.pk for article in articles[1:]]
        assert api.get("/api/v1/knowledge/articles?after=-1").status_code == 400

    def test_another_workspaces_article_is_not_found(self, api: APIClient) -> None:
        other = KnowledgeArticleFactory(workspace=WorkspaceFactory())
        url = f"/api/v1/knowledge/articles/{other.pk}"

        assert api.get(url).status_code == 404
        assert api.put(url, {"title": "x", "body": "y"}, format="json").status_code == 404
        assert api.delete(url).status_code == 404
        assert KnowledgeArticle.objects.filter(pk=other.pk, title=other.title).exists()


class TestConversations:
    def test_detail_shows_transcript_and_each_turns_record(
        self, api: APIClient, agent: Agent, help_center: list[KnowledgeArticle]
    ) -> None:
        conversation = ConversationFactory(workspace=agent.workspace, agent=agent)
        message_receive(conversation=conversation, body="How do I reset my password?")
        AgentTurn.objects.update(signals=["low_confidence"], suppressed_by="gate_attempts")

        response = api.get(f"/api/v1/conversations/{conversation.pk}")

        assert response.status_code == 200
        body = response.json()
        assert [message["author"] for message in body["messages"]] == ["user", "ai"]
        assert body["messages"][1]["sources"][0]["url"] == "https://help.example.com/reset-password"
        (turn,) = body["turns"]
        assert turn["message_id"] == body["messages"][1]["id"]
        assert turn["confidence"] >= 80
        assert turn["tools"][0]["name"] == "knowledge_search"
        assert turn["knowledge_sources"][0]["title"] == "How to reset your password"
        assert (turn["signals"], turn["escalated"], turn["suppressed_by"]) == (
            ["low_confidence"],
            False,
            "gate_attempts",
        )
        assert body["contact"]["id"] == conversation.contact_id

    def test_another_workspaces_conversation_is_not_found(self, api: APIClient) -> None:
        other = ConversationFactory()

        assert api.get(f"/api/v1/conversations/{other.pk}").status_code == 404


def test_conversation_detail_queries_do_not_grow_with_turns(
    api: APIClient, agent: Agent, help_center: list[KnowledgeArticle], django_assert_max_num_queries: object
) -> None:
    conversation = ConversationFactory(workspace=agent.workspace, agent=agent)
    for text in ("reset password", "billing details", "slack", "export csv", "hello there"):
        message_receive(conversation=conversation, body=text)
    api.get(f"/api/v1/conversations/{conversation.pk}")  # warm up (API key last_used_at)

    with django_assert_max_num_queries(5):  # type: ignore[operator]
        response = api.get(f"/api/v1/conversations/{conversation.pk}")

    assert len(response.json()["turns"]) == 5
    assert len(response.json()["messages"]) == 10
