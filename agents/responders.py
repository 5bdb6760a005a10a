"""The AI runtime: responder backends behind one interface, chosen per agent.

``responder_for(agent).respond(context=…)`` takes a ``ConversationContext`` (plain values fetched first) and
returns a ``TurnResult``: the reply (None = the AI stays silent), a confidence 0-100 (or None), every tool
called with its arguments and result, the knowledge sources searched, the sources cited, and the escalate
tool's reason if it was called. Responders never write to the database; ``agents.services`` stores the
result as a ``Message`` and an ``AgentTurn``.

- ``BuiltinResponder`` (default, offline): searches the knowledge base for every message and answers from
  the best article with its title and link. Confidence is calibrated from retrieval strength — the share of
  the question's meaningful words found in the article (title matches count extra) — so a clear match is
  high and a weak one low. When nothing fits it says so with an escalation phrase and a low confidence;
  requests on the agent's human-only topics (refunds, account changes, legal…) call the ``escalate`` tool.
- ``OpenAIResponder``: OpenAI-compatible chat completions with tool calling (``knowledge_search``,
  ``web_search``, ``escalate``); the model's final message is JSON ``{"reply", "confidence"}``.
- ``ExternalResponder``: Halo does not answer; the workspace's own bot posts its turns to the server API.
"""

import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from agents.knowledge import KnowledgeHit, knowledge_search, query_coverage, query_terms
from agents.models import Agent
from agents.turns import KnowledgeSource, ToolCall, ToolName
from agents.websearch import WebResult, web_search_provider_for
from halo.models import Workspace
from halo.outbound import outbound_client

logger = logging.getLogger(__name__)

# Said when nothing in the knowledge base fits; contains the default escalation phrase on purpose.
NO_ANSWER_REPLY = "I couldn't find an answer to that in our help center. I can get a teammate involved if you'd like."
HUMAN_ONLY_REPLY = "That's something our team handles personally, so I'll get a teammate involved for you."
SMALL_TALK_REPLY = "Happy to help! What would you like to know?"
UNAVAILABLE_REPLY = "Sorry, I'm having trouble answering right now. I'll get a teammate involved."

# Below this confidence the builtin responder does not pretend to know.
ANSWER_MIN_CONFIDENCE = 40


@dataclass(frozen=True)
class ConversationContext:
    """What a responder may know: the agent, and the conversation so far (oldest first, incl. the new message)."""

    workspace: Workspace
    agent: Agent
    conversation_id: int
    history: tuple[tuple[str, str], ...]  # (author, body)
    user_message: str


@dataclass(frozen=True)
class TurnResult:
    reply: str | None
    confidence: int | None
    tools: list[ToolCall] = field(default_factory=list)
    knowledge_sources: list[KnowledgeSource] = field(default_factory=list)
    cited_sources: list[KnowledgeSource] = field(default_factory=list)  # shown with the reply
    escalate_reason: str = ""
    latency_ms: int | None = None


class Responder(Protocol):
    def respond(self, *, context: ConversationContext) -> TurnResult: ...


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _knowledge_tool(hits: list[KnowledgeHit], query: str) -> ToolCall:
    return ToolCall(
        name=ToolName.KNOWLEDGE_SEARCH,
        arguments={"query": query},
        result=[hit.as_source().to_json() for hit in hits],
    )


def _web_tool(results: list[WebResult], query: str) -> ToolCall:
    return ToolCall(
        name=ToolName.WEB_SEARCH, arguments={"query": query}, result=[result.as_dict() for result in results]
    )


class BuiltinResponder:
    def respond(self, *, context: ConversationContext) -> TurnResult:
        started = time.perf_counter()
        agent, text = context.agent, context.user_message
        tools: list[ToolCall] = []
        hits: list[KnowledgeHit] = []
        terms = query_terms(text)
        if agent.knowledge_search_enabled and terms:
            hits = knowledge_search(workspace=context.workspace, text=text, limit=3)
            tools.append(_knowledge_tool(hits, text))
        confidence = self._confidence(terms, hits[0]) if hits else 0
        sources = [hit.as_source() for hit in hits]

        topic = self._human_only_topic(agent, text)
        if topic is not None:
            reason = f"The user asked about a human-only topic: {topic}."
            tools.append(ToolCall(name=ToolName.ESCALATE, arguments={"reason": reason}, result="ok"))
            return self._result(started, HUMAN_ONLY_REPLY, confidence, tools, sources, cited=[], escalate_reason=reason)
        if not terms:
            return self._result(started, SMALL_TALK_REPLY, None, tools, sources, cited=[])

        if confidence < ANSWER_MIN_CONFIDENCE and agent.web_search_enabled:
            results = web_search_provider_for(agent).search(query=text, limit=3)
            tools.append(_web_tool(results, text))
            if results:
                web = results[0]
                reply = f"I found this on the web, it may help: {web.title}. {web.snippet}".strip()
                return self._result(
                    started,
                    reply,
                    min(confidence, ANSWER_MIN_CONFIDENCE - 1),
                    tools,
                    sources,
                    cited=[KnowledgeSource(title=web.title, url=web.url)],
                )
        if confidence < ANSWER_MIN_CONFIDENCE:
            return self._result(started, NO_ANSWER_REPLY, confidence, tools, sources, cited=[])

        best = hits[0]
        cited = [KnowledgeSource(title=best.title, url=best.url)]
        reply = f"{best.snippet}\n\nMore in “{best.title}”."
        for other in hits[1:]:
            if self._confidence(terms, other) >= 75:
                cited.append(KnowledgeSource(title=other.title, url=other.url))
        return self._result(started, reply, confidence, tools, sources, cited=cited)

    @staticmethod
    def _confidence(terms: list[str], hit: KnowledgeHit) -> int:
        """0-100 from how much of the question the article covers: every word in the title scores 100."""
        in_article = query_coverage(terms, f"{hit.title} {hit.body}")
        in_title = query_coverage(terms, hit.title)
        return round(100 * min(1.0, 0.75 * in_article + 0.25 * in_title + (0.1 if in_title == 1.0 else 0.0)))

    @staticmethod
    def _human_only_topic(agent: Agent, text: str) -> str | None:
        normalised = _normalise(text)
        for topic in agent.human_only_topics or []:
            if isinstance(topic, str) and topic.strip() and re.search(rf"\b{re.escape(_normalise(topic))}", normalised):
                return topic.strip()
        return None

    @staticmethod
    def _result(
        started: float,
        reply: str,
        confidence: int | None,
        tools: list[ToolCall],
        sources: list[KnowledgeSource],
        *,
        cited: list[KnowledgeSource],
        escalate_reason: str = "",
    ) -> TurnResult:
        return TurnResult(
            reply=reply,
            confidence=confidence,
            tools=tools,
            knowledge_sources=sources,
            cited_sources=cited,
            escalate_reason=escalate_reason,
            latency_ms=round((time.perf_counter() - started) * 1000),
        )


OPENAI_SYSTEM_PROMPT = """You are {name}, the support assistant of {workspace}. Answer the user's question
from the help center: call knowledge_search first. Call web_search only if the help center has nothing.
Call escalate when the user needs a human (refunds, account changes, legal questions) or you cannot help.
Never invent facts. Your final message must be a JSON object: {{"reply": "<your answer to the user>",
"confidence": <0-100, how sure you are that the reply answers the question from the sources>}}."""


class OpenAIResponder:
    """OpenAI-compatible chat completions (``POST {base}/chat/completions``) with tool calling."""

    MAX_ROUNDS = 4
    TIMEOUT_SECONDS = 30.0

    def __init__(self, *, agent: Agent) -> None:
        self.agent = agent

    def _tool_definitions(self) -> list[dict[str, Any]]:
        def function(name: str, description: str, argument: str, argument_description: str) -> dict[str, Any]:
            return {
                "type": "function",
                "function": {
                    "name": name,
                    "description": description,
                    "parameters": {
                        "type": "object",
                        "properties": {argument: {"type": "string", "description": argument_description}},
                        "required": [argument],
                    },
                },
            }

        tools = []
        if self.agent.knowledge_search_enabled:
            tools.append(function(ToolName.KNOWLEDGE_SEARCH, "Search the help center.", "query", "What to look for."))
        if self.agent.web_search_enabled:
            tools.append(function(ToolName.WEB_SEARCH, "Search the web.", "query", "What to look for."))
        tools.append(function(ToolName.ESCALATE, "Hand the conversation to a human teammate.", "reason", "Why."))
        return tools

    def respond(self, *, context: ConversationContext) -> TurnResult:
        started = time.perf_counter()
        agent = self.agent
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": OPENAI_SYSTEM_PROMPT.format(name=agent.name, workspace=context.workspace)}
        ]
        for author, body in context.history:
            messages.append({"role": "user" if author == "user" else "assistant", "content": body})
        tools: list[ToolCall] = []
        sources: dict[str, KnowledgeSource] = {}
        escalate_reason = ""
        headers = {"Authorization": f"Bearer {agent.openai_api_key}"} if agent.openai_api_key else {}
        try:
            with outbound_client(
                base_url=agent.openai_base_url.rstrip("/"), headers=headers, timeout=self.TIMEOUT_SECONDS
            ) as client:
                for _round in range(self.MAX_ROUNDS):
                    response = client.post(
                        "/chat/completions",
                        json={"model": agent.openai_model, "messages": messages, "tools": self._tool_definitions()},
                    )
                    response.raise_for_status()
                    message = response.json()["choices"][0]["message"]
                    calls = message.get("tool_calls") or []
                    if not calls:
                        reply, confidence = self._parse_final(message.get("content"))
                        break
                    messages.append({"role": "assistant", "content": message.get("content"), "tool_calls": calls})
                    for call in calls:
                        tool = self._run_tool(context, call, sources)
                        tools.append(tool)
                        if tool.is_tool(ToolName.ESCALATE):
                            escalate_reason = str(tool.arguments.get("reason") or "The AI asked for a human.")
                        messages.append(
                            {"role": "tool", "tool_call_id": call.get("id", ""), "content": json.dumps(tool.result)}
                        )
                else:
                    reply, confidence = UNAVAILABLE_REPLY, 0
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError, AttributeError) as error:
            # The model is down or answered something that is not chat completions: the user still gets a
            # reply, and confidence 0 lets escalation bring in a human.
            logger.warning("openai responder: %s for agent %s", type(error).__name__, agent.pk)
            reply, confidence = UNAVAILABLE_REPLY, 0
        cited = [KnowledgeSource(title=source.title, url=source.url) for source in sources.values()][:3]
        return TurnResult(
            reply=reply,
            confidence=confidence,
            tools=tools,
            knowledge_sources=list(sources.values()),
            cited_sources=cited if confidence is None or confidence >= ANSWER_MIN_CONFIDENCE else [],
            escalate_reason=escalate_reason,
            latency_ms=round((time.perf_counter() - started) * 1000),
        )

    def _run_tool(
        self, context: ConversationContext, call: dict[str, Any], sources: dict[str, KnowledgeSource]
    ) -> ToolCall:
        function = call.get("function") or {}
        name = str(function.get("name", ""))
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            arguments = {}
        if not isinstance(arguments, dict):
            arguments = {}
        query = str(arguments.get("query", ""))[:500]
        if name == ToolName.KNOWLEDGE_SEARCH and self.agent.knowledge_search_enabled:
            hits = knowledge_search(workspace=context.workspace, text=query, limit=3)
            for hit in hits:
                sources.setdefault(str(hit.article_id), hit.as_source())
            return ToolCall(
                name=name,
                arguments={"query": query},
                result=[{**hit.as_source().to_json(), "snippet": hit.snippet} for hit in hits],
            )
        if name == ToolName.WEB_SEARCH and self.agent.web_search_enabled:
            return _web_tool(web_search_provider_for(self.agent).search(query=query, limit=3), query)
        if name == ToolName.ESCALATE:
            return ToolCall(name=name, arguments={"reason": str(arguments.get("reason", ""))[:1000]}, result="ok")
        return ToolCall(name=name, arguments=arguments, result={"error": "unknown tool"})

    @staticmethod
    def _parse_final(content: Any) -> tuple[str, int | None]:
        text = str(content or "").strip()
        try:
            payload = json.loads(text)
        except ValueError:
            return text or UNAVAILABLE_REPLY, None  # a plain-text answer: no confidence, no signal
        if not isinstance(payload, dict):
            return text, None
        reply = str(payload.get("reply") or "").strip() or UNAVAILABLE_REPLY
        confidence = payload.get("confidence")
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            return reply, None
        return reply, max(0, min(100, round(confidence)))


class ExternalResponder:
    """The workspace's own bot answers through ``POST /api/v1/conversations/{id}/ai-turns``: Halo is silent."""

    def respond(self, *, context: ConversationContext) -> TurnResult:
        return TurnResult(reply=None, confidence=None)


def responder_for(agent: Agent) -> Responder:
    if agent.responder == Agent.Responder.OPENAI:
        return OpenAIResponder(agent=agent)
    if agent.responder == Agent.Responder.EXTERNAL:
        return ExternalResponder()
    return BuiltinResponder()
