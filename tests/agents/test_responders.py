"""Responders: the builtin one (offline, calibrated), the OpenAI-compatible one against a stand-in server."""

import json
from typing import Any

import pytest

from agents.knowledge import KnowledgeHit
from agents.models import Agent, KnowledgeArticle
from agents.responders import (
    CHOICES_INTRO,
    HUMAN_ONLY_REPLY,
    NO_ANSWER_REPLY,
    UNAVAILABLE_REPLY,
    BuiltinResponder,
    ConversationContext,
    ExternalResponder,
    OpenAIResponder,
    TurnResult,
    offers_choices,
    responder_for,
)
from agents.services import knowledge_article_create
from halo.models import Workspace
from tests.agents.standins import chat_completion, stand_in_server, tool_call

pytestmark = pytest.mark.django_db


def context_for(agent: Agent, text: str, history: tuple[tuple[str, str], ...] = ()) -> ConversationContext:
    return ConversationContext(
        workspace=agent.workspace,
        agent=agent,
        conversation_id=1,
        history=(*history, ("user", text)),
        user_message=text,
    )


def builtin(agent: Agent, text: str) -> TurnResult:
    return BuiltinResponder().respond(context=context_for(agent, text))


def tool_names(result: TurnResult) -> list[str]:
    return [tool.name for tool in result.tools]


class TestBuiltinResponder:
    def test_clear_match_answers_from_the_article_with_its_link_and_high_confidence(
        self, agent: Agent, help_center: list[KnowledgeArticle]
    ) -> None:
        result = builtin(agent, "How do I reset my password?")

        assert "Forgot password" in (result.reply or "")
        assert "How to reset your password" in (result.reply or "")
        assert result.cited_sources[0].citation() == {
            "title": "How to reset your password",
            "url": "https://help.example.com/reset-password",
        }
        assert result.confidence is not None
        assert result.confidence >= 80
        assert tool_names(result) == ["knowledge_search"]
        assert result.tools[0].arguments == {"query": "How do I reset my password?"}
        assert result.knowledge_sources[0].title == "How to reset your password"
        assert result.escalate_reason == ""
        assert result.latency_ms is not None

    def test_weak_match_gets_lower_confidence_than_a_clear_one(
        self, agent: Agent, help_center: list[KnowledgeArticle]
    ) -> None:
        clear = builtin(agent, "update billing details")
        weak = builtin(agent, "billing for my hamster subscription on mars")

        assert clear.confidence is not None
        assert weak.confidence is not None
        assert weak.confidence < clear.confidence
        assert weak.confidence < 50

    def test_nothing_fits_answers_in_neutral_words_with_a_low_confidence(
        self, agent: Agent, help_center: list[KnowledgeArticle]
    ) -> None:
        result = builtin(agent, "Which wine pairs with salmon?")

        # Whether a teammate comes is escalation's decision on the confidence: the reply promises nothing.
        assert result.reply == NO_ANSWER_REPLY
        assert "teammate" not in result.reply
        assert result.confidence == 0
        assert result.cited_sources == []
        assert tool_names(result) == ["knowledge_search"]

    def test_the_reply_quotes_the_sentences_that_answer_and_cites_one_article(self, agent: Agent) -> None:
        knowledge_article_create(
            workspace=agent.workspace,
            title="Channels",
            body="## Create a channel\nClick **New channel** in the sidebar. Pick a name.\n\n## Archive a channel\n"
            "Archiving hides a channel from the sidebar. Its messages stay searchable. Only admins can archive.",
            url="https://help.example.com/channels",
        )

        result = builtin(agent, "who can archive a channel?")

        assert result.reply is not None
        assert result.reply.startswith("Archiving hides a channel from the sidebar.")
        assert "Only admins can archive." in result.reply
        assert "New channel" not in result.reply  # the other section is not quoted
        assert result.reply.endswith("More in “Channels”.")
        assert [source.citation() for source in result.cited_sources] == [
            {"title": "Channels", "url": "https://help.example.com/channels"}
        ]

    def test_close_articles_are_offered_as_choices(self, agent: Agent) -> None:
        for title, thing in (("Export reports", "rows"), ("Export projects", "tasks")):
            knowledge_article_create(
                workspace=agent.workspace, title=title, body=f"Open one and click Export to download its {thing}."
            )

        result = builtin(agent, "how do I export")

        assert result.reply == f"{CHOICES_INTRO}\n• Export projects\n• Export reports" or result.reply == (
            f"{CHOICES_INTRO}\n• Export reports\n• Export projects"
        )
        assert {source.title for source in result.cited_sources} == {"Export reports", "Export projects"}
        # The confidence of a choice is the chance that one of the offered articles answers.
        assert result.confidence is not None
        assert 20 <= result.confidence < 100

    def test_human_only_topic_calls_the_escalate_tool(self, agent: Agent, help_center: list[KnowledgeArticle]) -> None:
        result = builtin(agent, "I want a REFUND for last month's   billing")

        assert result.reply == HUMAN_ONLY_REPLY
        assert tool_names(result) == ["knowledge_search", "escalate"]
        assert result.escalate_reason == "The user's message is on a human-only topic: billing dispute (want a refund)."
        assert result.tools[1].arguments == {"reason": result.escalate_reason}

    def test_human_only_topics_are_configurable(self, agent: Agent) -> None:
        agent.human_only_topics = ["warranty claim"]

        assert tool_names(builtin(agent, "I need a refund"))[-1:] != ["escalate"]
        assert builtin(agent, "Filing a warranty claim").escalate_reason

    def test_small_talk_gets_a_reply_without_confidence(self, agent: Agent) -> None:
        result = builtin(agent, "Hi, thanks!")

        assert result.reply
        assert result.confidence is None
        assert result.tools == []

    def test_no_knowledge_search_when_the_skill_is_off(self, agent: Agent, help_center: list[KnowledgeArticle]) -> None:
        agent.knowledge_search_enabled = False

        result = builtin(agent, "reset password")

        assert result.tools == []
        assert result.reply == NO_ANSWER_REPLY

    def test_web_search_is_tried_when_the_knowledge_base_has_nothing(self, agent: Agent) -> None:
        results = {"results": [{"title": "Salmon wine", "url": "https://wine.example/salmon", "content": "Pinot."}]}
        with stand_in_server(lambda request: (200, results)) as searx:
            agent.web_search_enabled = True
            agent.web_search_provider = Agent.WebSearchProvider.SEARXNG
            agent.web_search_url = searx.url
            result = builtin(agent, "Which wine pairs with salmon?")

        assert tool_names(result) == ["knowledge_search", "web_search"]
        assert result.tools[1].result == [
            {"title": "Salmon wine", "url": "https://wine.example/salmon", "snippet": "Pinot."}
        ]
        assert [source.citation() for source in result.cited_sources] == [
            {"title": "Salmon wine", "url": "https://wine.example/salmon"}
        ]
        assert result.confidence is not None
        assert result.confidence < 40


def hits_scoring(*scores: float) -> list[KnowledgeHit]:
    return [
        KnowledgeHit(article_id=n, title=f"Article {n}", url=f"https://help.example.com/{n}", score=s, snippet="")
        for n, s in enumerate(scores, 1)
    ]


@pytest.mark.parametrize(
    ("scores", "probability", "choices", "offered"),
    [
        ((0.65, 0.64, 0.60), 0.45, 0.85, True),  # two near-duplicates, the first alone not sure
        ((0.40, 0.30, 0.20), 0.15, 0.35, True),  # the first unlikely, one of three likely enough
        ((0.70, 0.40, 0.30), 0.90, 0.95, False),  # a clear first hit is the answer
        ((0.65, 0.64, 0.60), 0.65, 0.90, False),  # close, but the first alone is sure enough
        ((0.30, 0.29, 0.28), 0.10, 0.15, False),  # none of them likely: the no-answer reply
        ((0.65, 0.64, 0.60), 0.45, 0.40, False),  # the choices no likelier than the first alone
        ((0.40,), 0.15, 0.35, False),  # one hit is no choice
    ],
)
def test_did_you_mean_is_offered_when_one_of_three_is_likely_and_the_first_alone_is_not(
    scores: tuple[float, ...], probability: float, choices: float, offered: bool
) -> None:
    assert offers_choices(hits_scoring(*scores), probability=probability, choices=choices) is offered


def openai_agent(workspace: Workspace, url: str, **fields: Any) -> Agent:
    return Agent.objects.create(
        workspace=workspace,
        responder=Agent.Responder.OPENAI,
        openai_base_url=f"{url}/v1",
        openai_model="stand-in-model",
        openai_api_key="sk-test",
        **fields,
    )


class TestOpenAIResponder:
    def test_tool_call_round_trip_then_structured_answer(
        self, workspace: Workspace, help_center: list[KnowledgeArticle]
    ) -> None:
        def reply(request: dict[str, Any]) -> tuple[int, Any]:
            messages = request["json"]["messages"]
            if messages[-1]["role"] == "user":
                return 200, chat_completion(
                    {"content": None, "tool_calls": [tool_call("call_1", "knowledge_search", {"query": "reset"})]},
                    finish_reason="tool_calls",
                )
            answer = {"reply": "Click 'Forgot password' on the sign-in page.", "confidence": 87}
            return 200, chat_completion({"content": json.dumps(answer)})

        with stand_in_server(reply) as server:
            agent = openai_agent(workspace, server.url)
            result = OpenAIResponder(agent=agent).respond(
                context=context_for(agent, "reset my password", history=(("ai", "Hi!"),))
            )

        assert result.reply == "Click 'Forgot password' on the sign-in page."
        assert result.confidence == 87
        assert [tool.name for tool in result.tools] == ["knowledge_search"]
        assert result.tools[0].result[0]["title"] == "How to reset your password"
        assert result.knowledge_sources[0].url == "https://help.example.com/reset-password"
        assert [source.citation() for source in result.cited_sources] == [
            {"title": "How to reset your password", "url": "https://help.example.com/reset-password"}
        ]

        first, second = server.requests
        assert first["path"] == "/v1/chat/completions"
        assert first["headers"]["authorization"] == "Bearer sk-test"
        assert first["json"]["model"] == "stand-in-model"
        assert [tool["function"]["name"] for tool in first["json"]["tools"]] == ["knowledge_search", "escalate"]
        assert [message["role"] for message in first["json"]["messages"]] == ["system", "assistant", "user"]
        assert [message["role"] for message in second["json"]["messages"]][-2:] == ["assistant", "tool"]
        assert second["json"]["messages"][-2]["tool_calls"][0]["id"] == "call_1"
        tool_message = second["json"]["messages"][-1]
        assert tool_message["tool_call_id"] == "call_1"
        assert json.loads(tool_message["content"])[0]["title"] == "How to reset your password"

    def test_the_search_tool_returns_the_builtins_passage_quotes_and_sees_the_history(
        self, workspace: Workspace
    ) -> None:
        knowledge_article_create(
            workspace=workspace,
            title="Notifications",
            body="## Email\nWe email you about missed messages.\n\n## Mobile\nPush notifications reach your phone "
            "when the app is installed. Turn them off under Settings > Mobile.",
            url="https://help.example.com/notifications",
        )

        def reply(request: dict[str, Any]) -> tuple[int, Any]:
            messages = request["json"]["messages"]
            if messages[-1]["role"] == "user":
                # What a model does with a follow-up: the topic comes from the earlier message.
                query = f"{messages[-3]['content']} {messages[-1]['content']}"
                call = tool_call("call_2", "knowledge_search", {"query": query})
                return 200, chat_completion({"content": None, "tool_calls": [call]}, finish_reason="tool_calls")
            return 200, chat_completion({"content": '{"reply": "Under Settings > Mobile.", "confidence": 80}'})

        history = (("user", "how do I stop notifications"), ("ai", "On which device?"))
        with stand_in_server(reply) as server:
            agent = openai_agent(workspace, server.url)
            result = OpenAIResponder(agent=agent).respond(context=context_for(agent, "on my phone", history=history))

        assert [m["content"] for m in server.requests[0]["json"]["messages"][1:]] == [
            "how do I stop notifications",
            "On which device?",
            "on my phone",
        ]
        found = result.tools[0].result[0]
        assert (found["title"], found["heading"]) == ("Notifications", "Mobile")
        assert found["snippet"].startswith("Push notifications reach your phone")
        assert json.loads(server.requests[1]["json"]["messages"][-1]["content"])[0]["heading"] == "Mobile"
        assert result.reply == "Under Settings > Mobile."

    def test_escalate_tool_reason_is_recorded(self, workspace: Workspace) -> None:
        def reply(request: dict[str, Any]) -> tuple[int, Any]:
            if request["json"]["messages"][-1]["role"] == "user":
                call = tool_call("call_9", "escalate", {"reason": "Refund request"})
                return 200, chat_completion({"content": None, "tool_calls": [call]}, finish_reason="tool_calls")
            return 200, chat_completion({"content": '{"reply": "A teammate will help.", "confidence": 30}'})

        with stand_in_server(reply) as server:
            agent = openai_agent(workspace, server.url)
            result = OpenAIResponder(agent=agent).respond(context=context_for(agent, "refund please"))

        assert result.escalate_reason == "Refund request"
        assert result.tools[0].to_json() == {
            "name": "escalate",
            "arguments": {"reason": "Refund request"},
            "result": "ok",
        }
        assert (result.reply, result.confidence) == ("A teammate will help.", 30)

    def test_plain_text_answer_has_no_confidence(self, workspace: Workspace) -> None:
        with stand_in_server(lambda request: (200, chat_completion({"content": "Sure thing."}))) as server:
            agent = openai_agent(workspace, server.url)
            result = OpenAIResponder(agent=agent).respond(context=context_for(agent, "hello"))

        assert (result.reply, result.confidence) == ("Sure thing.", None)

    @pytest.mark.parametrize(
        ("status", "body"),
        [(500, {"error": {"message": "boom"}}), (200, {"unexpected": True}), (200, "not json")],
    )
    def test_a_failing_model_still_answers_with_zero_confidence(
        self, workspace: Workspace, status: int, body: Any
    ) -> None:
        with stand_in_server(lambda request: (status, body)) as server:
            agent = openai_agent(workspace, server.url)
            result = OpenAIResponder(agent=agent).respond(context=context_for(agent, "hello"))

        assert (result.reply, result.confidence) == (UNAVAILABLE_REPLY, 0)

    def test_web_search_tool_is_offered_and_run_when_the_skill_is_on(self, workspace: Workspace) -> None:
        searx_results = {"results": [{"title": "Status page", "url": "https://status.example", "content": "Up."}]}

        def reply(request: dict[str, Any]) -> tuple[int, Any]:
            if request["path"] == "/search":
                return 200, searx_results
            if request["json"]["messages"][-1]["role"] == "user":
                call = tool_call("c1", "web_search", {"query": "status"})
                return 200, chat_completion({"content": None, "tool_calls": [call]}, finish_reason="tool_calls")
            return 200, chat_completion({"content": '{"reply": "All systems up.", "confidence": 70}'})

        with stand_in_server(reply) as server:
            agent = openai_agent(
                workspace,
                server.url,
                web_search_enabled=True,
                web_search_provider=Agent.WebSearchProvider.SEARXNG,
                web_search_url=server.url,
            )
            result = OpenAIResponder(agent=agent).respond(context=context_for(agent, "is it down?"))

        offered = [tool["function"]["name"] for tool in server.requests[0]["json"]["tools"]]
        assert offered == ["knowledge_search", "web_search", "escalate"]
        search_request = next(request for request in server.requests if request["path"] == "/search")
        assert search_request["query"] == {"q": "status", "format": "json"}
        assert result.tools[0].result == [{"title": "Status page", "url": "https://status.example", "snippet": "Up."}]


def test_external_responder_stays_silent(agent: Agent) -> None:
    agent.responder = Agent.Responder.EXTERNAL

    result = responder_for(agent).respond(context=context_for(agent, "hello"))

    assert isinstance(responder_for(agent), ExternalResponder)
    assert (result.reply, result.confidence, result.tools) == (None, None, [])
