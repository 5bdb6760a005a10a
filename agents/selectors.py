"""Reads of the agents app, always scoped to a workspace (another workspace's id reads as "not found")."""

from collections.abc import Sequence
from datetime import datetime

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from agents.models import Agent, AgentTurn, Conversation, KnowledgeArticle, Message
from agents.responders import ConversationContext
from halo.compiled import CompiledRead
from halo.models import Workspace

# How much of the conversation a responder sees (the newest messages).
HISTORY_MESSAGES = 20


def agent_default(*, workspace: Workspace) -> Agent | None:
    """The agent the widget talks to: the workspace's first agent."""
    return Agent.objects.filter(workspace=workspace).order_by("id").first()


def agent_list(*, workspace: Workspace) -> QuerySet[Agent]:
    return Agent.objects.filter(workspace=workspace).order_by("id")


def agent_get(*, workspace: Workspace, agent_id: int) -> Agent | None:
    return Agent.objects.filter(workspace=workspace, pk=agent_id).first()


def _agents_of_app(app_id: str) -> QuerySet[Agent]:
    return Agent.objects.select_related("workspace__business_hours", "escalation_settings").filter(
        workspace__app_id=app_id
    )


# The widget reads these on every request: compiled and prepared once per connection (``halo.compiled``; by
# the workspace's unique app_id). The placeholders are values no call passes: an app_id ``APP_ID_PATTERN``
# refuses and the id 0 (ids are positive).
_AGENT_OF_APP = CompiledRead(lambda app_id: _agents_of_app(app_id)[:1], "<app_id>", prepare=True)
_AGENT_OF_APP_BY_ID = CompiledRead(
    lambda app_id, agent_id: _agents_of_app(app_id).filter(pk=agent_id)[:1], "<app_id>", 0, prepare=True
)


def agent_for_widget(*, app_id: str, agent_id: int | None) -> Agent | None:
    """The agent a widget embed talks to (``agent_id``, else the workspace's first), found by the workspace's
    ``app_id``, with its workspace (and its business hours) and escalation settings, in one query; None when
    either is unknown (the caller tells which apart). ``app_id`` matches ``halo.selectors.APP_ID_PATTERN`` and
    ``agent_id`` is a parsed id (``halo.params.parse_id``)."""
    if agent_id is not None:
        return _AGENT_OF_APP_BY_ID.first(app_id, agent_id)
    return _AGENT_OF_APP.first(app_id)


def knowledge_article_list(*, workspace: Workspace) -> QuerySet[KnowledgeArticle]:
    return KnowledgeArticle.objects.filter(workspace=workspace).order_by("id")


def knowledge_article_get(*, workspace: Workspace, article_id: int) -> KnowledgeArticle | None:
    return knowledge_article_list(workspace=workspace).filter(pk=article_id).first()


_CONVERSATION_FOR_WIDGET = CompiledRead(
    lambda conversation_id: (
        Conversation.objects.select_related(
            "workspace__business_hours", "contact", "agent__escalation_settings", "agent__escalation_shadow"
        )
        .filter(pk=conversation_id)
        .order_by()
    ),  # a primary key: no ORDER BY, no LIMIT needed
    0,
    prepare=True,
)


def conversation_for_widget(*, conversation_id: int) -> Conversation | None:
    """A conversation with everything a widget message reads, in one query: its workspace, contact, agent
    and the agent's escalation settings and shadow settings (its token is checked by the caller).
    ``conversation_id`` is a parsed id (the ``<id:>`` path converter)."""
    return _CONVERSATION_FOR_WIDGET.first(conversation_id)


def conversation_detail(*, workspace: Workspace, conversation_id: int) -> Conversation | None:
    """A conversation with its transcript and AI turns (the server API's "why / why not" view)."""
    return (
        Conversation.objects.filter(workspace=workspace, pk=conversation_id)
        .select_related("contact", "agent")
        .prefetch_related(
            Prefetch("messages", queryset=Message.objects.select_related("teammate").order_by("id")),
            Prefetch("turns", queryset=AgentTurn.objects.order_by("id")),
        )
        .first()
    )


def messages_after(*, conversation: Conversation, after_id: int = 0, limit: int = 200) -> list[Message]:
    return list(
        Message.objects.filter(conversation=conversation, pk__gt=after_id)
        .select_related("teammate")
        .order_by("id")[:limit]
    )


# Read on every message the AI answers: compiled once per connection (the placeholder is an id no row has).
_MESSAGES_RECENT = CompiledRead(
    lambda conversation_id: (
        Message.objects.filter(conversation_id=conversation_id)
        .select_related("turn")
        .order_by("-id")[:HISTORY_MESSAGES]
    ),
    0,
)


def messages_recent(*, conversation: Conversation) -> list[Message]:
    """The conversation's newest messages, oldest first, each AI message with its turn (the turn's decision
    says whether that reply offered a teammate): one query."""
    return list(reversed(_MESSAGES_RECENT.all(conversation.pk)))


def responder_context_get(
    *, conversation: Conversation, user_message: Message, recent: Sequence[Message]
) -> ConversationContext:
    """What the conversation's responder may know to answer ``user_message``: the ``recent`` messages before
    it (``messages_recent``) and the message itself."""
    history = tuple((message.author, message.body) for message in [*recent, user_message])
    return ConversationContext(
        workspace=conversation.workspace,
        agent=conversation.agent,
        conversation_id=conversation.pk,
        history=history,
        user_message=user_message.body,
    )


def turn_latest(*, conversation: Conversation) -> AgentTurn | None:
    """The conversation's latest AI turn (what a manual handoff reports as the AI's context)."""
    return AgentTurn.objects.filter(conversation=conversation).order_by("-id").first()


def turns_held_back_count(*, conversation: Conversation) -> int:
    """The AI turns of ``conversation`` that a rule held back (``suppressed_by`` set) since it was last handed
    back to the AI (all of them if it never was)."""
    turns = AgentTurn.objects.filter(conversation_id=conversation.pk, suppressed_by__isnull=False)
    if conversation.handed_back_at is not None:
        turns = turns.filter(created_at__gt=conversation.handed_back_at)
    return turns.count()


def conversation_feed(
    *,
    workspace: Workspace,
    statuses: Sequence[str] = (),
    agent_id: int | None = None,
    updated_after: datetime | None = None,
) -> QuerySet[Conversation]:
    """The workspace's conversations, oldest change first (the feed a bot catches up from), with their
    contact and the id of their newest message (``last_message_id``)."""
    conversations = Conversation.objects.filter(workspace=workspace).select_related("contact")
    if statuses:
        conversations = conversations.filter(status__in=statuses)
    if agent_id is not None:
        conversations = conversations.filter(agent_id=agent_id)
    if updated_after is not None:
        conversations = conversations.filter(updated_at__gt=updated_after)
    newest = Message.objects.filter(conversation=OuterRef("pk")).order_by("-id").values("id")[:1]
    return conversations.annotate(last_message_id=Subquery(newest)).order_by("updated_at", "id")


def conversations_last_messages(*, conversations: Sequence[Conversation]) -> None:
    """Attach ``last_message`` to each conversation of a feed page, in one query."""
    ids = [getattr(conversation, "last_message_id", None) for conversation in conversations]
    messages = Message.objects.select_related("teammate").in_bulk([pk for pk in ids if pk is not None])
    for conversation, message_id in zip(conversations, ids, strict=True):
        conversation.last_message = messages.get(message_id) if message_id is not None else None  # type: ignore[attr-defined]
