"""The AI runtime: responder backends behind one interface, chosen per agent.

``responder_for(agent).respond(context=…)`` takes a ``ConversationContext`` (plain values fetched first) and
returns a ``TurnResult``: the reply (None = the AI stays silent), a confidence 0-100 (or None), every tool
called with its arguments and result, the knowledge sources searched, the sources cited, and the escalate
tool's reason if it was called. Responders never write to the database; ``agents.services`` stores the
result as a ``Message`` and an ``AgentTurn``.

- ``BuiltinResponder`` (default, offline): reads the conversation, not only the new message. Small talk
  (greetings, thanks, "that worked", a "no thanks") gets a short reply with no confidence, so no escalation
  signal (``agents.dialogue``). Otherwise it searches the help center's passages (``agents.knowledge``) — a
  follow-up ("and on mobile?") with the question it follows — and quotes the sentences of the best passage
  that answer the question, citing its article; when the first articles are about as likely, it offers up
  to three ("Did you mean…?"). Its confidence is the calibrated probability times 100 that the reply answers
  the question from the help center (``agents.knowledge.calibration``). When nothing is likely enough it
  says so in neutral words with a low confidence: whether a teammate is offered or brought in is
  escalation's decision, made on that confidence, and the customer reads it with the reply. A message on
  one of the agent's ``human_only_topics`` (account security, billing disputes, legal or privacy requests,
  outages or bugs that persist, and the admin's own phrases: ``agents.topics``) calls the ``escalate`` tool.
- ``OpenAIResponder``: OpenAI-compatible chat completions with the conversation's recent messages and tool
  calling (``knowledge_search`` — the same passage search, returning the passages' quotes —,
  ``web_search``, ``escalate``); the model's final message is JSON ``{"reply", "confidence"}``.
- ``ExternalResponder``: Halo does not answer; the workspace's own bot posts its turns to the server API.
"""

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from agents.dialogue import SmallTalk, search_query, small_talk
from agents.knowledge import (
    KnowledgeHit,
    KnowledgeResult,
    SearchMode,
    knowledge_lookup,
    message_vectors,
    query_terms,
)
from agents.knowledge.calibration import answer_probability, choices_probability
from agents.models import Agent
from agents.topic_vectors import failure_by_meaning, topic_by_meaning
from agents.topics import EARLIER_READ, TopicMatch, category_entry, failure_unworded, human_only_topic
from agents.turns import KnowledgeSource, ToolCall, ToolName
from agents.websearch import WebResult, web_search_provider_for
from halo.models import Workspace
from halo.outbound import outbound_client

logger = logging.getLogger(__name__)

# Neutral on purpose: whether a teammate is offered or brought in is escalation's decision, and the customer
# reads it with the reply (escalation.flow); a promise here could not be kept when nothing is handed off.
NO_ANSWER_REPLY = "I couldn't find an answer to that in our help center."
CHOICES_INTRO = "I found a few articles that may help. Did you mean one of these?"
HUMAN_ONLY_REPLY = "That's something our team handles personally."
UNAVAILABLE_REPLY = "Sorry, I'm having trouble answering right now."
SMALL_TALK_REPLY = "Happy to help! What would you like to know?"
SMALL_TALK_REPLIES = {
    SmallTalk.GREETING: "Hi! What can I help you with?",
    SmallTalk.THANKS: "Glad I could help! Anything else?",
    SmallTalk.GOODBYE: "Bye for now, and come back any time!",
    SmallTalk.DECLINE: "Alright. What else can I help you with?",
    SmallTalk.ACKNOWLEDGE: "Alright. What else can I help you with?",
    SmallTalk.CHITCHAT: "I'm {name}, and I answer questions from our help center. What would you like to know?",
}

# Below this confidence the builtin responder does not pretend to know (the OpenAI responder cites nothing).
ANSWER_MIN_CONFIDENCE = 40
# The builtin: below this probability that its best hit answers, it answers with the no-answer reply (or
# choices, if one of the first three is likely enough); see docs/answers.md for how it was chosen.
REFUSE_BELOW = 0.2
# It offers choices when the first two articles' scores are this close and the first alone is not sure.
CHOICES_MARGIN = 0.03
CHOICES_BELOW = 0.6


@dataclass(frozen=True)
class ConversationContext:
    """What a responder may know: the agent, and the conversation so far (oldest first, incl. the new message)."""

    workspace: Workspace
    agent: Agent
    conversation_id: int
    history: tuple[tuple[str, str], ...]  # (author, body)
    user_message: str

    @property
    def earlier_user_messages(self) -> list[str]:
        """What the user wrote before the new message, oldest first."""
        return [body for author, body in self.history[:-1] if author == "user"]


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


def offers_choices(hits: Sequence[KnowledgeHit], *, probability: float, choices: float) -> bool:
    """Whether the builtin asks "Did you mean one of these?" rather than answering from the first hit: the first
    is unlikely, or the first two score about the same and the first alone is not sure, while one of the first
    three is likely enough and likelier than the first alone (``probability``: that the first hit answers;
    ``choices``: that one of the first three does)."""
    close = len(hits) >= 2 and hits[0].score - hits[1].score < CHOICES_MARGIN
    unsure = probability < REFUSE_BELOW or close
    return (
        len(hits) >= 2 and unsure and probability < CHOICES_BELOW and choices >= REFUSE_BELOW and choices > probability
    )


def _topic_by_meaning(text: str, result: KnowledgeResult, topics: Sequence[object]) -> TopicMatch | None:
    """A human-only topic the word patterns missed, read from the vector search already computed for ``text``;
    only the categories the admin switched on count."""
    meaning = topic_by_meaning(text, result.question_vector, embedding_model=result.vector_model)
    if meaning is None:
        return None
    category, chance = meaning
    entry = category_entry(topics, category)
    return TopicMatch(topic=entry, words=f"by meaning, {chance:.2f}") if entry is not None else None


def _persisting_failure_by_meaning(
    workspace: Workspace, text: str, earlier: Sequence[str], topics: Sequence[object]
) -> TopicMatch | None:
    """A persisting failure told in words the patterns do not know: the message says the problem persists and
    the meaning of one of the last earlier messages reports a failure. Only earlier messages are read so: a
    message that says something persists ("it's still the same") reads like a failure report by itself; and
    small talk among them is not ("thanks, that fixed it!" reads like one too). Embeds those few messages,
    only for a message that says something persists."""
    told = [message for message in earlier[-EARLIER_READ:] if small_talk(message) is None]
    if not told or not failure_unworded(text, topics, earlier=earlier):
        return None
    found = message_vectors(workspace=workspace, texts=told)
    chance = failure_by_meaning(found[1], embedding_model=found[0]) if found is not None else None
    if chance is None:
        return None
    return human_only_topic(
        text,
        topics,
        earlier=earlier,
        failure_by_meaning=f"a failure by meaning, {chance:.2f}",
        company=workspace.name,
    )


class BuiltinResponder:
    def respond(self, *, context: ConversationContext) -> TurnResult:
        started = time.perf_counter()
        agent, text = context.agent, context.user_message
        earlier = context.earlier_user_messages
        tools: list[ToolCall] = []
        topic = human_only_topic(text, agent.human_only_topics or [], earlier=earlier, company=context.workspace.name)
        chat = small_talk(text) if topic is None else None
        if chat is not None:
            return self._result(started, SMALL_TALK_REPLIES[chat].format(name=agent.name), None, tools, [], cited=[])

        result = KnowledgeResult(hits=[], mode=SearchMode.LEXICAL)
        query = search_query(text, earlier)
        terms = query_terms(query)
        if agent.knowledge_search_enabled and terms:
            result = knowledge_lookup(workspace=context.workspace, text=query, limit=3)
            tools.append(_knowledge_tool(result.hits, query))
        hits = result.hits
        probability = answer_probability(result)
        confidence = round(100 * probability)
        sources = [hit.as_source() for hit in hits]

        if topic is None and query == text:
            topic = _topic_by_meaning(text, result, agent.human_only_topics or [])
        if topic is None:
            topic = _persisting_failure_by_meaning(context.workspace, text, earlier, agent.human_only_topics or [])
        if topic is not None:
            reason = f"The user's message is on a human-only topic: {topic.topic} ({topic.words})."
            tools.append(ToolCall(name=ToolName.ESCALATE, arguments={"reason": reason}, result="ok"))
            return self._result(started, HUMAN_ONLY_REPLY, confidence, tools, sources, cited=[], escalate_reason=reason)
        if not terms:
            return self._result(started, SMALL_TALK_REPLY, None, tools, sources, cited=[])

        choices = choices_probability(result)
        if offers_choices(hits, probability=probability, choices=choices):
            offered = hits[:3]
            reply = "\n".join([CHOICES_INTRO, *(f"• {hit.title}" for hit in offered)])
            cited = [KnowledgeSource(title=hit.title, url=hit.url) for hit in offered]
            return self._result(started, reply, round(100 * choices), tools, sources, cited=cited)
        if probability < REFUSE_BELOW or not hits:
            if agent.web_search_enabled:
                results = web_search_provider_for(agent).search(query=text, limit=3)
                tools.append(_web_tool(results, text))
                if results:
                    web = results[0]
                    reply = f"I found this on the web, it may help: {web.title}. {web.snippet}".strip()
                    return self._result(
                        started,
                        reply,
                        confidence,
                        tools,
                        sources,
                        cited=[KnowledgeSource(title=web.title, url=web.url)],
                    )
            return self._result(started, NO_ANSWER_REPLY, confidence, tools, sources, cited=[])

        best = hits[0]
        excerpt = best.snippet or best.title
        reply = f"{excerpt}\n\nMore in “{best.title}”."
        return self._result(
            started, reply, confidence, tools, sources, cited=[KnowledgeSource(title=best.title, url=best.url)]
        )

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


OPENAI_SYSTEM_PROMPT = """You are {name}, the support assistant of {workspace}. Answer the user's latest
message from the help center: call knowledge_search first, with a query that includes what the earlier
messages say the user is talking about (a follow-up such as "and on mobile?" needs its topic). Call
web_search only if the help center has nothing. Call escalate when the user needs a human (refunds,
account changes, legal questions) or you cannot help. Never invent facts. Your final message must be a
JSON object: {{"reply": "<your answer to the user>",
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
            hits = knowledge_lookup(workspace=context.workspace, text=query, limit=3).hits
            for hit in hits:
                sources.setdefault(str(hit.article_id), hit.as_source())
            # The model gets what the builtin quotes: the sentences of each article's best passage that
            # answer the query, under the passage's heading.
            return ToolCall(
                name=name,
                arguments={"query": query},
                result=[{**hit.as_source().to_json(), "heading": hit.heading, "snippet": hit.snippet} for hit in hits],
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
