"""The knowledge-gap backlog over a real help center (Zulip's, ``bench/data/zulip-help``): customers'
questions the AI could not answer, grouped by the search index's terms; an article linked to a topic, and
the topic's questions replayed against the knowledge base."""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import Agent, AgentTurn, Conversation
from agents.services import knowledge_article_create, knowledge_article_update
from agents.turns import KnowledgeSource, ToolCall
from escalation import gaps
from escalation.flow import ai_turn_submit
from escalation.gaps import AI_COULD_HAVE_ANSWERED as AI_COULD_VERDICTS
from escalation.models import KnowledgeGapLink
from halo.models import Membership, Workspace
from inbox.models import Ticket
from inbox.services import ticket_verdict_set
from tests.agents.factories import AgentFactory, ConversationFactory, KnowledgeArticleFactory
from tests.halo.factories import ContactFactory, WorkspaceFactory
from tests.support.processes import ROOT

pytestmark = pytest.mark.django_db
# The verdict "AI could have answered", under whichever value this release gives it.
AI_COULD_HAVE_ANSWERED = next(value for value in Ticket.Verdict.values if value in AI_COULD_VERDICTS)

ARTICLES = {
    article["slug"]: article
    for article in json.loads((ROOT / "bench" / "data" / "zulip-help" / "articles.json").read_text())["articles"]
}
# The help center without the articles these questions need; "export" is added back by one test.
INDEXED = ["custom-emoji", "dark-theme", "change-your-password", "create-a-channel", "archive-a-channel"]
QUESTIONS = {
    "export": [
        "how do I export all our messages",
        "export message history to a file",
        "can I export my organization's data before we cancel",
        "exporting messages from a channel as a csv",
        "is there a way to export a full backup of our messages",
    ],
    "saml": [
        "login with SAML",
        "set up SAML single sign-on with Okta",
        "SAML login fails after the certificate changed",
    ],
    "invoic": ["where do I find our invoices", "can I get a copy of last month's invoice"],
}
SINGLE = "can I pay by bank transfer"


@pytest.fixture
def help_center(workspace: Workspace) -> None:
    for slug in INDEXED:
        article = ARTICLES[slug]
        knowledge_article_create(workspace=workspace, title=article["title"], body=article["body"], url=article["url"])


def conversation_of(agent: Agent) -> Conversation:
    workspace = agent.workspace
    return ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))


def unsure(agent: Agent, question: str, *, confidence: int = 12, tried: str = "Custom emoji") -> Any:
    """A turn that searched for ``question`` and found nothing likely (an external bot's, as stored)."""
    return ai_turn_submit(
        conversation=conversation_of(agent),
        reply="I couldn't find an answer to that in our help center.",
        confidence=confidence,
        tools=[ToolCall(name="knowledge_search", arguments={"query": question})],
        knowledge_sources=[KnowledgeSource(title=tried, url=f"https://zulip.com/help/{tried.lower()}", score=0.1)],
    )


@pytest.fixture
def asked(agent: Agent, help_center: None, escalation_settings: Any) -> None:
    for questions in QUESTIONS.values():
        for question in questions:
            unsure(agent, question)
    unsure(agent, SINGLE)


def test_questions_are_grouped_by_the_search_index_terms(
    api: APIClient, asked: None, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/knowledge/gaps")

    assert response.status_code == 200
    topics = response.json()
    assert [(topic["id"], topic["count"]) for topic in topics] == [
        ("export", 5),
        ("saml", 3),
        ("invoic", 2),
        *[(topics[3]["id"], 1)],
    ]
    assert topics[0]["topic"] == "export · messages"
    assert sorted(topics[0]["examples"]) == sorted(QUESTIONS["export"])
    assert topics[1]["topic"] == "saml · login"
    assert topics[3]["examples"] == [SINGLE]
    assert topics[0]["articles_tried"] == [{"title": "Custom emoji", "url": "https://zulip.com/help/custom emoji"}]
    assert (topics[0]["article"], topics[0]["answered_now"]) == (None, None)


def test_answered_small_talk_and_deliberate_handoffs_are_not_gaps(
    api: APIClient, agent: Agent, help_center: None, escalation_settings: Any
) -> None:
    unsure(agent, "how do I export all our messages", confidence=95)  # answered
    ai_turn_submit(conversation=conversation_of(agent), reply="Hi!", confidence=None, tools=[], knowledge_sources=[])
    ai_turn_submit(  # a human-only topic: handed over on purpose
        conversation=conversation_of(agent),
        reply="That's something our team handles personally.",
        confidence=10,
        tools=[ToolCall(name="escalate", arguments={"reason": "billing dispute"})],
        knowledge_sources=[],
    )

    assert api.get("/api/v1/knowledge/gaps").json() == []


def test_a_reaction_is_not_a_topic_and_a_negation_names_none(
    api: APIClient, agent: Agent, help_center: None, escalation_settings: Any
) -> None:
    for _ in range(3):
        unsure(agent, "Sorry, that's not it.")
        unsure(agent, "ok, no")
    unsure(agent, "notifications not working on my phone")
    unsure(agent, "can't turn off notifications")

    topics = api.get("/api/v1/knowledge/gaps").json()

    assert [(topic["id"], topic["count"]) for topic in topics] == [("notif", 2)]
    assert "not" not in topics[0]["topic"].split(" · ")


def test_an_escalation_judged_answerable_is_a_gap_whatever_its_confidence(
    api: APIClient, agent: Agent, help_center: None, escalation_settings: Any, teammate: Membership
) -> None:
    judged = ai_turn_submit(
        conversation=conversation_of(agent),
        reply="Let me get a teammate involved.",
        confidence=90,
        tools=[
            ToolCall(name="knowledge_search", arguments={"query": "how do I archive a channel"}),
            ToolCall(name="escalate", arguments={"reason": "unsure"}),
        ],
        knowledge_sources=[],
    )
    assert judged.handoff is not None
    assert api.get("/api/v1/knowledge/gaps").json() == []

    ticket_verdict_set(ticket=judged.handoff.ticket, user=teammate.user, verdict=AI_COULD_HAVE_ANSWERED)

    assert [topic["examples"] for topic in api.get("/api/v1/knowledge/gaps").json()] == [["how do I archive a channel"]]


def test_linking_an_article_replays_the_topics_questions_against_the_knowledge_base(
    api: APIClient, workspace: Workspace, asked: None
) -> None:
    export = ARTICLES["export-your-organization"]
    article = knowledge_article_create(
        workspace=workspace, title=export["title"], body=export["body"], url=export["url"]
    )

    response = api.patch("/api/v1/knowledge/gaps/export", {"article": article.pk}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["article"] == {"id": article.pk, "title": "Export your organization", "url": export["url"]}
    assert body["answered_now"] >= 0.6
    saml = api.patch("/api/v1/knowledge/gaps/saml", {"article": article.pk}, format="json").json()
    assert saml["answered_now"] < 0.5  # the export article does not answer SAML questions
    listed = {topic["id"]: topic for topic in api.get("/api/v1/knowledge/gaps").json()}
    assert listed["export"]["answered_now"] == body["answered_now"]
    assert listed["invoic"]["article"] is None

    assert api.patch("/api/v1/knowledge/gaps/export", {"article": None}, format="json").status_code == 200
    assert not KnowledgeGapLink.objects.filter(key="export").exists()


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The questions the backlog searched the knowledge base for (the real search runs)."""
    asked: list[str] = []
    search = gaps.knowledge_lookup

    def counted(**kwargs: Any) -> Any:
        asked.append(kwargs["text"])
        return search(**kwargs)

    monkeypatch.setattr(gaps, "knowledge_lookup", counted)
    return asked


def test_a_linked_topics_answered_share_is_searched_once_until_the_knowledge_base_or_the_topic_changes(
    api: APIClient, workspace: Workspace, agent: Agent, asked: None, searches: list[str]
) -> None:
    export = ARTICLES["export-your-organization"]
    article = knowledge_article_create(
        workspace=workspace, title=export["title"], body=export["body"], url=export["url"]
    )
    linked = api.patch("/api/v1/knowledge/gaps/export", {"article": article.pk}, format="json").json()
    assert sorted(searches) == sorted(QUESTIONS["export"])

    searches.clear()
    listed = {topic["id"]: topic for topic in api.get("/api/v1/knowledge/gaps").json()}
    assert searches == []  # a second view searches nothing
    assert listed["export"]["answered_now"] == linked["answered_now"]

    knowledge_article_update(article=article, data={"body": "Nothing about that here any more."})
    listed = {topic["id"]: topic for topic in api.get("/api/v1/knowledge/gaps").json()}
    assert sorted(searches) == sorted(QUESTIONS["export"])  # an article saved: searched again
    assert listed["export"]["answered_now"] < linked["answered_now"]

    searches.clear()
    unsure(agent, "export our messages to json")
    api.get("/api/v1/knowledge/gaps")
    assert "export our messages to json" in searches  # a new question on the topic: searched again


def test_gaps_are_walled_off_by_workspace(api: APIClient, workspace: Workspace, asked: None) -> None:
    other = WorkspaceFactory()
    foreign_agent = AgentFactory(workspace=other)
    unsure(foreign_agent, "how do I export all our messages")
    foreign_article = KnowledgeArticleFactory(workspace=other)

    assert api.get("/api/v1/knowledge/gaps").json()[0]["count"] == 5
    refused = api.patch("/api/v1/knowledge/gaps/export", {"article": foreign_article.pk}, format="json")
    assert refused.status_code == 400
    assert set(refused.json()["fields"]) == {"article"}
    assert api.patch("/api/v1/knowledge/gaps/nosuchtopic", {"article": None}, format="json").status_code == 404
    assert not KnowledgeGapLink.objects.exists()


def test_only_the_days_asked_are_in_the_backlog(api: APIClient, asked: None) -> None:
    AgentTurn.objects.filter(conversation__in=Conversation.objects.all()).update(
        created_at=timezone.now() - timedelta(days=100)
    )

    assert api.get("/api/v1/knowledge/gaps").json() == []
    assert len(api.get("/api/v1/knowledge/gaps?days=120").json()) == 4
    assert api.get("/api/v1/knowledge/gaps?days=0").status_code == 400


def test_bad_input_is_a_clear_error(api: APIClient, asked: None) -> None:
    assert api.get("/api/v1/knowledge/gaps?limit=x").status_code == 400
    response = api.patch("/api/v1/knowledge/gaps/export", {"article": "12"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"article"}
