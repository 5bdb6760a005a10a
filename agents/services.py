"""Writes of the agents app: agents, knowledge articles, and the state of conversations.

This module is the only writer of conversations, messages and AI turns. A conversation's status moves
only through ``conversation_hand_off`` / ``conversations_hand_off`` (a human owns it: the AI stays silent),
``conversations_hand_back`` (a closed ticket gives it back to the AI) and ``message_post_user`` (a user's
message re-opens a closed conversation); every message is stored by ``message_post_user``,
``turn_record`` (the AI's) or ``message_post`` (a teammate's or the system's). Who decides when these
happen is escalation (``escalation.flow``) and the inbox (``inbox.services``); they call these functions.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from agents.events import conversation_event_data, message_broadcast, message_event_data
from agents.knowledge import knowledge_index, knowledge_unindex
from agents.models import (
    Agent,
    AgentTurn,
    Conversation,
    KnowledgeArticle,
    Message,
    hash_conversation_token,
    new_conversation_token,
)
from agents.responders import TurnResult
from agents.turns import TurnDecision
from halo import clock
from halo.inserts import insert, insert_all
from halo.models import Contact, Workspace
from halo.outbound import outbound_url_refusal
from halo.webhooks.events import WebhookEvent, webhook_endpoints_for, webhook_event_record

MAX_MESSAGE_CHARS = 4000

# --- Agents -----------------------------------------------------------------------------------------

AGENT_EDITABLE_FIELDS = (
    "name",
    "greeting",
    "knowledge_search_enabled",
    "web_search_enabled",
    "responder",
    "openai_base_url",
    "openai_model",
    "openai_api_key",
    "web_search_provider",
    "web_search_url",
    "human_only_topics",
)


# URLs Halo itself calls (``halo.outbound``): refused when saved if they point at a non-public address.
AGENT_OUTBOUND_URL_FIELDS = ("openai_base_url", "web_search_url")


def _agent_validate(agent: Agent) -> None:
    agent.full_clean(exclude=["workspace"])
    errors: dict[str, str] = {}
    for name in AGENT_OUTBOUND_URL_FIELDS:
        refusal = outbound_url_refusal(getattr(agent, name)) if getattr(agent, name) else None
        if refusal is not None:
            errors[name] = refusal
    if agent.responder == Agent.Responder.OPENAI and not (agent.openai_base_url and agent.openai_model):
        errors["responder"] = "The openai responder needs openai_base_url and openai_model."
    if agent.web_search_provider == Agent.WebSearchProvider.SEARXNG and not agent.web_search_url:
        errors["web_search_url"] = "The searxng provider needs its URL."
    topics = agent.human_only_topics
    if not isinstance(topics, list) or not all(isinstance(topic, str) and topic.strip() for topic in topics):
        errors["human_only_topics"] = "A list of non-empty phrases."
    if errors:
        raise ValidationError(errors)


def agent_create(*, workspace: Workspace, **fields: Any) -> Agent:
    unknown = set(fields) - set(AGENT_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"agent_create() got unknown fields: {sorted(unknown)}")
    agent = Agent(workspace=workspace, **fields)
    _agent_validate(agent)
    agent.save()
    return agent


def agent_provision(*, workspace: Workspace) -> dict[str, object]:
    """The default AI agent of a new workspace (``manage.py create_workspace`` calls it); returns its id."""
    agent = agent_create(workspace=workspace)
    return {"agent_id": agent.pk}


def agent_update(*, agent: Agent, data: dict[str, Any]) -> Agent:
    for name, value in data.items():
        if name not in AGENT_EDITABLE_FIELDS:
            raise TypeError(f"agent_update() got an unknown field: {name}")
        setattr(agent, name, value)
    _agent_validate(agent)
    agent.save()
    return agent


# --- Knowledge articles -----------------------------------------------------------------------------


@transaction.atomic
def knowledge_article_create(
    *, workspace: Workspace, title: str, body: str, url: str = "", published: bool = True
) -> KnowledgeArticle:
    article = KnowledgeArticle(workspace=workspace, title=title, body=body, url=url, published=published)
    article.full_clean(exclude=["workspace"])
    article.save()
    knowledge_index(article=article)
    return article


@transaction.atomic
def knowledge_article_update(*, article: KnowledgeArticle, data: dict[str, Any]) -> KnowledgeArticle:
    for name, value in data.items():
        if name not in ("title", "body", "url", "published"):
            raise TypeError(f"knowledge_article_update() got an unknown field: {name}")
        setattr(article, name, value)
    article.updated_at = timezone.now()
    article.full_clean(exclude=["workspace"])
    article.save()
    knowledge_index(article=article)
    return article


@transaction.atomic
def knowledge_article_delete(*, article: KnowledgeArticle) -> None:
    knowledge_unindex(article_id=article.pk)
    article.delete()


# --- Conversations ----------------------------------------------------------------------------------


def message_body_check(body: str) -> str:
    """A message's text, trimmed; a ``ValidationError`` when it is empty or too long."""
    body = body.strip()
    if not body:
        raise ValidationError({"body": "A message cannot be empty."})
    if len(body) > MAX_MESSAGE_CHARS:
        raise ValidationError({"body": f"A message is at most {MAX_MESSAGE_CHARS} characters."})
    return body


def conversation_open(
    *, workspace: Workspace, agent: Agent, contact: Contact, now: datetime | None = None
) -> tuple[Conversation, str]:
    """A new conversation between ``contact`` and ``agent``, and its raw token (returned this once; only its
    hash is stored). The returned instance has its agent, contact and workspace loaded.

    It is not stored yet: the first write of it (``message_post_user`` or ``conversation_hand_off``) inserts it
    in the state that write leaves it in, so a first message is one INSERT of the conversation (no UPDATE of
    its time or status after it). Nobody else can see a conversation before that INSERT commits."""
    if agent.workspace_id != workspace.pk or contact.workspace_id != workspace.pk:
        raise ValueError("The agent and the contact must belong to the workspace.")
    token = new_conversation_token()
    at = now or timezone.now()
    conversation = Conversation(
        workspace=workspace,
        contact=contact,
        agent=agent,
        token_hash=hash_conversation_token(token),
        created_at=at,
        updated_at=at,
    )
    return conversation, token


def _message_event(conversation: Conversation, message: Message) -> None:
    """Record ``message.created`` for the endpoints that want it (call in the message's transaction)."""
    webhook_event_record(
        workspace=conversation.workspace,
        event=WebhookEvent.MESSAGE_CREATED,
        data=lambda: message_event_data(message, conversation),
        at=message.created_at,
    )


def _conversation_event(conversation: Conversation, event: WebhookEvent, **extra: Any) -> None:
    webhook_event_record(
        workspace=conversation.workspace,
        event=event,
        data=lambda: {"conversation": conversation_event_data(conversation), **extra},
        at=conversation.updated_at,
    )


def message_post_user(*, conversation: Conversation, body: str, now: datetime) -> Message:
    """Store the user's message; the conversation is touched, and re-opened if it was closed (inserted, if it
    is new)."""
    body = message_body_check(body)
    # savepoint=False: nested in the caller's transaction, an error rolls it back whole (no SAVEPOINT trips).
    with transaction.atomic(savepoint=False):
        _conversation_store(conversation, now=now)
        message = Message.objects.create(
            conversation=conversation, author=Message.Author.USER, body=body, created_at=now
        )
        updates: dict[str, Any] = {}
        if conversation.updated_at != now:
            updates["updated_at"] = now
        if conversation.status == Conversation.Status.CLOSED:
            updates["status"] = Conversation.Status.OPEN
        if updates:
            _conversation_update(conversation, **updates)
        _message_event(conversation, message)
    return message


def _conversation_store(conversation: Conversation, *, now: datetime) -> None:
    """Insert a conversation that ``conversation_open`` made and nothing stored yet, as changed at ``now``,
    with its ``conversation.created`` event for the endpoints that want it."""
    if conversation.pk is None:
        conversation.updated_at = now
        insert(conversation)
        webhook_event_record(
            workspace=conversation.workspace,
            event=WebhookEvent.CONVERSATION_CREATED,
            data=lambda: {"conversation": conversation_event_data(conversation)},
            at=conversation.created_at,
        )


def conversation_insert_handed_off(
    *, conversation: Conversation, now: datetime, notice: str, user_body: str | None = None
) -> list[Message]:
    """Insert a new conversation (``conversation_open``) already handed off, with its first messages: the
    user's that asked (``user_body``) and the ``notice``, one INSERT (ids in that order). Call it before its
    ticket links to it: the ticket's search document is then written once, from the stored messages, when the
    link is inserted (the search triggers), instead of once empty and again when the messages follow.
    ``conversation_hand_off(..., inserted=<the messages>)`` then records the hand-off and the messages'
    events, in the same transaction. Returns the messages."""
    if conversation.pk is not None:
        raise ValueError("The conversation is stored already.")
    conversation.status = Conversation.Status.HANDED_OFF
    _conversation_store(conversation, now=now)
    return insert_all(_hand_off_messages(conversation, notice=notice, now=now, user_body=user_body))


def _hand_off_messages(
    conversation: Conversation, *, notice: str, now: datetime, user_body: str | None
) -> list[Message]:
    """The messages a hand-off posts, unsaved: the user's that asked (if any), then the notice."""
    rows = []
    if user_body is not None:
        rows.append(
            Message(
                conversation=conversation,
                author=Message.Author.USER,
                body=message_body_check(user_body),
                created_at=now,
            )
        )
    rows.append(
        Message(
            conversation=conversation, author=Message.Author.SYSTEM, body=message_body_check(notice), created_at=now
        )
    )
    return rows


def turn_record(
    *, conversation: Conversation, outcome: TurnResult, decision: TurnDecision, shown: str | None = None
) -> AgentTurn:
    """Store one AI turn with escalation's decision about it: its message (if the AI said something) and the
    turn itself, in one INSERT each. The turn keeps the AI's own reply; the message shows ``shown``, what the
    customer reads with the decision (default: the reply). The turn's ``message`` is set on the returned
    instance."""
    with transaction.atomic(savepoint=False):
        message = None
        if outcome.reply is not None:
            message = Message.objects.create(
                conversation=conversation,
                author=Message.Author.AI,
                body=outcome.reply if shown is None else shown,
                sources=[source.citation() for source in outcome.cited_sources],
            )
            _message_event(conversation, message)
        return AgentTurn.objects.create(
            conversation=conversation,
            message=message,
            reply=outcome.reply or "",
            confidence=outcome.confidence,
            tools=[tool.to_json() for tool in outcome.tools],
            knowledge_sources=[source.to_json() for source in outcome.knowledge_sources],
            escalate_reason=outcome.escalate_reason,
            latency_ms=outcome.latency_ms,
            signals=list(decision.signals),
            escalated=decision.escalated,
            reason=decision.reason,
            suppressed_by=decision.suppressed_by,
            decided_at=decision.decided_at,
            shadow=dict(decision.shadow) if decision.shadow is not None else None,
        )


def conversation_touch(*, conversation: Conversation, now: datetime) -> None:
    """Mark the conversation as changed now (an external bot's turn)."""
    _conversation_update(conversation, updated_at=now)


def conversation_hand_off(
    *,
    conversation: Conversation,
    notice: str,
    now: datetime,
    ticket_id: int | None = None,
    user_body: str | None = None,
    inserted: list[Message] | None = None,
) -> tuple[Message | None, Message | None]:
    """A human owns the conversation from now on: the AI stays silent in it (``ticket_id``: the ticket that
    holds it now, for the ``conversation.handed_off`` event).

    ``notice`` is posted to the customer as a system message when this call is what handed the
    conversation off; for a conversation already handed off nothing changes. The check and the change are
    one conditional UPDATE, so of two concurrent hand-offs exactly one posts the notice. ``inserted``: the
    messages the caller's transaction inserted with the conversation, handed off
    (``conversation_insert_handed_off``), so this call is what hands it off and only records the events; a
    conversation not stored yet is inserted handed off here.

    ``user_body``: the user's message that asked for the handoff, stored with the notice in one INSERT (the
    user's first, then the notice). Returns the user's message (None without ``user_body``) and the notice
    (None when the conversation was handed off already).
    """
    with transaction.atomic(savepoint=False):
        # A conversation this transaction inserts has no socket to tell yet: its token is in this request's
        # answer, which carries the notice too.
        new = inserted is not None or conversation.pk is None
        rows = inserted
        if rows is None and conversation.pk is None:
            rows = conversation_insert_handed_off(
                conversation=conversation, now=now, notice=notice, user_body=user_body
            )
        if rows is None:
            changed = (
                Conversation.objects.filter(pk=conversation.pk)
                .exclude(status=Conversation.Status.HANDED_OFF)
                .update(status=Conversation.Status.HANDED_OFF, updated_at=now)
            )
            if not changed:
                conversation.status = Conversation.Status.HANDED_OFF
                if user_body is not None:
                    return message_post_user(conversation=conversation, body=user_body, now=now), None
                return None, None
        conversation.status = Conversation.Status.HANDED_OFF
        conversation.updated_at = now
        _conversation_event(conversation, WebhookEvent.CONVERSATION_HANDED_OFF, ticket=ticket_id)
        if rows is None:
            rows = insert_all(_hand_off_messages(conversation, notice=notice, now=now, user_body=user_body))
        notice_message = rows[-1]
        if not new:
            message_broadcast(notice_message)
        for row in rows:
            _message_event(conversation, row)
        return (rows[0] if user_body is not None else None), notice_message


def conversations_hand_off(*, workspace: Workspace, conversation_ids: list[int], now: datetime, ticket_id: int) -> None:
    """Hand several conversations to a human again, silently (their closed ticket ``ticket_id`` re-opened)."""
    with transaction.atomic(savepoint=False):
        changing = Conversation.objects.filter(pk__in=conversation_ids)
        changed = _conversations_changing(workspace, WebhookEvent.CONVERSATION_HANDED_OFF, changing)
        changing.update(status=Conversation.Status.HANDED_OFF, updated_at=now)
        for conversation in changed:
            conversation.status, conversation.updated_at = Conversation.Status.HANDED_OFF, now
            _conversation_event(conversation, WebhookEvent.CONVERSATION_HANDED_OFF, ticket=ticket_id)


def conversations_hand_back(
    *, workspace: Workspace, conversation_ids: list[int], now: datetime, ticket_id: int | None = None
) -> None:
    """Give handed-off conversations back to the AI (their ticket ``ticket_id`` closed). ``handed_back_at``
    starts their escalation gates afresh, so the AI does not loop straight back into a new ticket."""
    with transaction.atomic(savepoint=False):
        handed_off = Conversation.objects.filter(pk__in=conversation_ids, status=Conversation.Status.HANDED_OFF)
        changed = _conversations_changing(workspace, WebhookEvent.CONVERSATION_HANDED_BACK, handed_off)
        handed_off.update(status=Conversation.Status.OPEN, updated_at=now, handed_back_at=now)
        for conversation in changed:
            conversation.status, conversation.updated_at = Conversation.Status.OPEN, now
            _conversation_event(conversation, WebhookEvent.CONVERSATION_HANDED_BACK, ticket=ticket_id)


def _conversations_changing(
    workspace: Workspace, event: WebhookEvent, changing: QuerySet[Conversation]
) -> list[Conversation]:
    """The conversations a bulk change is about to change, locked, when an endpoint wants ``event`` about
    them (else none, and no query)."""
    if not webhook_endpoints_for(workspace, event):
        return []
    conversations = list(
        changing.select_for_update(of=("self",)).select_related("contact").filter(workspace=workspace).order_by("id")
    )
    for conversation in conversations:
        conversation.workspace = workspace
    return conversations


def message_post(*, conversation: Conversation, author: str, body: str, teammate: User | None = None) -> Message:
    """Post a teammate's or a system message into a conversation; the widget receives it live. A teammate's
    message keeps the AI silent in the conversation from then on (``Conversation.ai_may_answer``)."""
    if author not in (Message.Author.TEAMMATE, Message.Author.SYSTEM):
        raise ValueError("Only teammate and system messages are posted this way.")
    # Halo's clock: the reply email's delay is counted from this time (``inbox.notifications.replies``).
    now = clock.now()
    with transaction.atomic(savepoint=False):
        message = _message_create(conversation=conversation, author=author, body=body, teammate=teammate, at=now)
        updates: dict[str, Any] = {"updated_at": now}
        if author == Message.Author.TEAMMATE:
            updates["teammate_replied_at"] = now
        _conversation_update(conversation, **updates)
    return message


def _message_create(
    *, conversation: Conversation, author: str, body: str, at: datetime, teammate: User | None = None
) -> Message:
    """Insert a teammate's or system message and send it to the widget after commit."""
    message = Message.objects.create(
        conversation=conversation, author=author, body=message_body_check(body), teammate=teammate, created_at=at
    )
    message_broadcast(message)
    _message_event(conversation, message)
    return message


def _conversation_update(conversation: Conversation, **values: Any) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(**values)
    for name, value in values.items():
        setattr(conversation, name, value)


# --- Seeding history in bulk (the demo and the benchmarks) -----------------------------------------------


@dataclass(frozen=True)
class SeedTurn:
    """One past exchange: the customer's question and the AI's judged reply."""

    question: str
    reply: str
    at: datetime
    confidence: int | None
    signals: tuple[str, ...] = ()
    escalated: bool = False
    reason: str | None = None
    suppressed_by: str | None = None
    knowledge_sources: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class SeedConversation:
    contact_id: int
    agent_id: int
    started_at: datetime
    status: str
    turns: tuple[SeedTurn, ...]
    # Messages after the turns: (author, body, at, teammate id or None).
    after: tuple[tuple[str, str, datetime, int | None], ...] = ()


def conversations_seed(
    *, workspace: Workspace, conversations: list[SeedConversation], messages: bool = True
) -> list[tuple[int, list[int]]]:
    """Write past conversations, their messages and judged turns in a few bulk INSERTs (the demo's month of
    history, the benchmarks' millions): the rows the live flow would have left, without running it. Returns
    each conversation's id with its turns' ids. Tokens are random and never handed out: these conversations
    cannot be resumed from a widget. ``messages=False`` writes the turns alone (no message rows: the
    benchmarks' millions of turns, which the report reads without their text)."""
    with transaction.atomic():
        created = Conversation.objects.bulk_create(
            Conversation(
                workspace=workspace,
                contact_id=seed.contact_id,
                agent_id=seed.agent_id,
                status=seed.status,
                token_hash=hash_conversation_token(new_conversation_token()),
                created_at=seed.started_at,
                updated_at=max([seed.started_at, *(turn.at for turn in seed.turns), *(m[2] for m in seed.after)]),
                teammate_replied_at=max((m[2] for m in seed.after if m[0] == Message.Author.TEAMMATE), default=None),
            )
            for seed in conversations
        )
        rows: list[Message] = []
        for conversation, seed in zip(created, conversations, strict=True) if messages else ():
            for turn in seed.turns:
                rows.append(
                    Message(
                        conversation=conversation, author=Message.Author.USER, body=turn.question, created_at=turn.at
                    )
                )
                rows.append(
                    Message(conversation=conversation, author=Message.Author.AI, body=turn.reply, created_at=turn.at)
                )
            for author, body, at, teammate_id in seed.after:
                rows.append(
                    Message(conversation=conversation, author=author, body=body, created_at=at, teammate_id=teammate_id)
                )
        Message.objects.bulk_create(rows, batch_size=2000)
        ai_messages = iter(message for message in rows if message.author == Message.Author.AI)
        turns = [
            AgentTurn(
                conversation=conversation,
                message=next(ai_messages) if messages else None,
                reply=turn.reply,
                confidence=turn.confidence,
                knowledge_sources=list(turn.knowledge_sources),
                signals=list(turn.signals),
                escalated=turn.escalated,
                reason=turn.reason,
                suppressed_by=turn.suppressed_by,
                created_at=turn.at,
                decided_at=turn.at,
            )
            for conversation, seed in zip(created, conversations, strict=True)
            for turn in seed.turns
        ]
        AgentTurn.objects.bulk_create(turns, batch_size=2000)
    by_conversation: dict[int, list[int]] = {conversation.pk: [] for conversation in created}
    for stored in turns:
        by_conversation[stored.conversation_id].append(stored.pk)
    return [(conversation.pk, by_conversation[conversation.pk]) for conversation in created]


# --- The customer's side of a teammate's reply -------------------------------------------------------


def conversation_seen(*, conversation: Conversation, message_id: int) -> int | None:
    """The widget showed the customer the conversation up to ``message_id`` (panel open, page visible).

    Only a message of this conversation counts, so a client cannot mark replies that do not exist yet as
    seen (which would silence their emails); a ``ValidationError`` otherwise. The mark only moves forward
    (one conditional UPDATE: concurrent receipts keep the highest). Returns the conversation's seen mark."""
    if not Message.objects.filter(conversation=conversation, pk=message_id).exists():
        raise ValidationError({"message_id": "This is not a message of this conversation."})
    Conversation.objects.filter(pk=conversation.pk).filter(
        Q(customer_seen_message_id__isnull=True) | Q(customer_seen_message_id__lt=message_id)
    ).update(customer_seen_message_id=message_id)
    seen = Conversation.objects.filter(pk=conversation.pk).values_list("customer_seen_message_id", flat=True).get()
    conversation.customer_seen_message_id = seen
    return seen


def conversation_replies_emailed(*, conversation: Conversation, through_id: int) -> None:
    """Teammate replies up to ``through_id`` were emailed to the customer (never moves back)."""
    Conversation.objects.filter(pk=conversation.pk).filter(
        Q(replies_emailed_through_id__isnull=True) | Q(replies_emailed_through_id__lt=through_id)
    ).update(replies_emailed_through_id=through_id)
    conversation.replies_emailed_through_id = max(conversation.replies_emailed_through_id or 0, through_id)
