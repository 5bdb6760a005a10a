"""Writes of the agents app: agents, knowledge articles, widget contacts, conversations and AI turns.

``conversation_post_user_message`` is the path of every widget message: it stores the user's message, lets
escalation route it (a conversation a human owns gets no AI turn; a handoff phrase hands off), asks the
agent's responder for a reply (outside any transaction when the responder calls the network: an
OpenAI-compatible call can take seconds and must not hold a database lock), then stores the AI message
and its ``AgentTurn`` and has escalation judge the turn, in one transaction. Escalation owns every
decision about humans; agents calls it directly (``escalation.services`` / ``escalation.selectors``).
"""

import hmac
import re
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.events import message_broadcast
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
from agents.responders import ConversationContext, TurnResult, responder_for
from escalation.selectors import conversation_ai_may_answer
from escalation.services import Handoff, ticket_widget_payload, turn_judge, user_message_handoff
from halo.models import Contact, Workspace
from halo.outbound import outbound_url_refusal

MAX_MESSAGE_CHARS = 4000
# How much of the conversation a responder sees (the newest messages).
HISTORY_MESSAGES = 20

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
    article_id = article.pk
    article.delete()
    knowledge_unindex(article_id=article_id)


# --- Widget identity --------------------------------------------------------------------------------


def user_hash_expected(*, workspace: Workspace, user_id: str) -> str:
    """What the workspace's server computes: hex HMAC-SHA256 of ``user_id`` under the identity secret."""
    return hmac.new(workspace.identity_secret.encode(), user_id.encode(), sha256).hexdigest()


def user_hash_valid(*, workspace: Workspace, user_id: str, user_hash: str) -> bool:
    # Compared as bytes: ``compare_digest`` raises TypeError on a str with non-ASCII characters.
    expected = user_hash_expected(workspace=workspace, user_id=user_id).encode()
    return hmac.compare_digest(expected, user_hash.lower().encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class WidgetUser:
    """A widget caller, already verified: an identified user (``user_id``) or an anonymous visitor."""

    user_id: str | None = None
    visitor_id: str | None = None
    email: str | None = None
    name: str | None = None


def widget_contact_lookup(*, workspace: Workspace, user: WidgetUser) -> Contact | None:
    """The contact of a verified widget caller if it exists already (never creates one)."""
    if user.user_id is not None:
        return Contact.objects.filter(workspace=workspace, user_id=user.user_id).first()
    if user.visitor_id is not None:
        return Contact.objects.filter(workspace=workspace, visitor_id=user.visitor_id).first()
    return None


def widget_contact_resolve(*, workspace: Workspace, user: WidgetUser) -> Contact:
    """The contact of a verified widget caller, created on first sight.

    An identified user's email and name are upserted lightly (only values that are given and differ);
    the server API stays the source of truth for everything else. Creation is race-free: the database's
    unique constraints decide, and the loser of a race reads the winner's row.
    """
    if user.user_id is not None:
        lookup: dict[str, Any] = {"workspace": workspace, "user_id": user.user_id}
    elif user.visitor_id is not None:
        lookup = {"workspace": workspace, "visitor_id": user.visitor_id}
    else:
        raise ValueError("A widget user needs a user_id or a visitor_id.")
    traits = {name: value for name, value in (("email", user.email), ("name", user.name)) if value and user.user_id}
    contact = Contact.objects.filter(**lookup).first()
    if contact is None:
        try:
            with transaction.atomic():
                contact = Contact.objects.create(**lookup, **traits)
        except IntegrityError:
            contact = Contact.objects.get(**lookup)
        return contact
    changed = [name for name, value in traits.items() if getattr(contact, name) != value]
    if changed:
        for name in changed:
            setattr(contact, name, traits[name])
        contact.save(update_fields=changed)
    return contact


# --- Conversations ----------------------------------------------------------------------------------


@dataclass
class PostResult:
    """What a widget post produced: every message it created, in id order (the user's, the AI's if it
    answered, and the handoff's system message if it handed off)."""

    conversation: Conversation
    messages: list[Message]
    turn: AgentTurn | None = None
    token: str | None = None  # the raw token, only when the conversation was just started
    ticket: dict[str, Any] | None = field(default=None)

    def add_handoff(self, handoff: Handoff) -> None:
        """The ticket that now owns the conversation, and the handoff's system message if one was posted."""
        self.ticket = ticket_widget_payload(ticket=handoff.ticket)
        if handoff.message is not None:
            self.messages.append(handoff.message)


def _check_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ValidationError({"body": "A message cannot be empty."})
    if len(body) > MAX_MESSAGE_CHARS:
        raise ValidationError({"body": f"A message is at most {MAX_MESSAGE_CHARS} characters."})
    return body


def conversation_start(*, workspace: Workspace, agent: Agent, contact: Contact, body: str) -> PostResult:
    """Open a conversation with the user's first message and the AI's reply; the raw token is returned once."""
    body = _check_body(body)
    if agent.workspace_id != workspace.pk or contact.workspace_id != workspace.pk:
        raise ValueError("The agent and the contact must belong to the workspace.")
    token = new_conversation_token()
    with transaction.atomic():
        conversation = Conversation.objects.create(
            workspace=workspace, contact=contact, agent=agent, token_hash=hash_conversation_token(token)
        )
    conversation.agent = agent
    conversation.contact = contact
    result = conversation_post_user_message(conversation=conversation, body=body)
    result.token = token
    return result


def conversation_post_user_message(*, conversation: Conversation, body: str) -> PostResult:
    """Store the user's message, let the AI answer (unless it must stay silent), judge the AI's turn.

    Expects ``conversation.agent`` and ``conversation.workspace`` loaded (``select_related``). With a
    responder that works offline (builtin, no web search) the whole message is one transaction (one
    commit); a responder that calls the network runs between two, so no lock is held while it waits.
    """
    body = _check_body(body)
    if _responder_is_local(conversation.agent):
        with transaction.atomic():
            return _post_user_message(conversation=conversation, body=body)
    return _post_user_message(conversation=conversation, body=body)


_EMAIL_IN_TEXT = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+\.[A-Za-z]{2,}")


def _visitor_email_capture(*, contact: Contact, body: str) -> None:
    """An anonymous visitor without an email who writes one (asked for it at handoff) gets it stored, so
    the team can reach them. Identified users' emails come from the workspace, never from chat text."""
    if not contact.is_anonymous or contact.email:
        return
    match = _EMAIL_IN_TEXT.search(body)
    if match is None:
        return
    email = match.group(0).rstrip(".").lower()
    try:
        validate_email(email)
    except ValidationError:
        return
    contact.email = email
    Contact.objects.filter(pk=contact.pk, email__isnull=True).update(email=email)


def _responder_is_local(agent: Agent) -> bool:
    return agent.responder == Agent.Responder.BUILTIN and not agent.web_search_enabled


def _post_user_message(*, conversation: Conversation, body: str) -> PostResult:
    now = timezone.now()
    # savepoint=False: inside the caller's transaction these blocks add no SAVEPOINT round trips.
    with transaction.atomic(savepoint=False):
        user_message = Message.objects.create(
            conversation=conversation, author=Message.Author.USER, body=body, created_at=now
        )
        updates: dict[str, Any] = {"updated_at": now}
        if conversation.status == Conversation.Status.CLOSED:
            updates["status"] = Conversation.Status.OPEN  # a new message re-opens a closed conversation
        Conversation.objects.filter(pk=conversation.pk).update(**updates)
        for name, value in updates.items():
            setattr(conversation, name, value)
        _visitor_email_capture(contact=conversation.contact, body=body)
        owner = user_message_handoff(message=user_message)
    result = PostResult(conversation=conversation, messages=[user_message])
    if owner is not None:  # a human owns the conversation (the message may have just handed off): no AI turn
        result.add_handoff(owner)
        return result
    # From here on the conversation is open, and an open conversation has no ticket that is not closed
    # (closing a ticket is what hands a conversation back): the widget's ``ticket`` stays None unless the
    # AI's turn hands off.
    if not conversation_ai_may_answer(conversation=conversation):
        return result

    outcome = responder_for(conversation.agent).respond(
        context=_context(conversation=conversation, user_message=user_message)
    )
    if outcome.reply is None:  # the external bot answers through the server API
        return result
    with transaction.atomic(savepoint=False):
        turn = agent_turn_build(conversation=conversation, outcome=outcome)
        judgement = turn_judge(turn=turn)  # stores the turn with its decision; hands off if it escalates
    if turn.message is not None:
        result.messages.append(turn.message)
    result.turn = turn
    if judgement.handoff is not None:
        result.add_handoff(judgement.handoff)
    return result


def _context(*, conversation: Conversation, user_message: Message) -> ConversationContext:
    if conversation.agent.responder == Agent.Responder.BUILTIN:
        # The builtin responder reads only the new message: no history query on the hot path.
        history: tuple[tuple[str, str], ...] = ((user_message.author, user_message.body),)
    else:
        recent = Message.objects.filter(conversation=conversation).order_by("-id")[:HISTORY_MESSAGES]
        history = tuple((message.author, message.body) for message in reversed(list(recent)))
    return ConversationContext(
        workspace=conversation.workspace,
        agent=conversation.agent,
        conversation_id=conversation.pk,
        history=history,
        user_message=user_message.body,
    )


def agent_turn_build(*, conversation: Conversation, outcome: TurnResult) -> AgentTurn:
    """One AI turn: its message stored (if it said something), the turn itself not yet. Escalation's
    ``turn_judge`` stores it, with its decision, in one INSERT. Call inside a transaction."""
    message = None
    if outcome.reply is not None:
        message = Message.objects.create(
            conversation=conversation, author=Message.Author.AI, body=outcome.reply, sources=outcome.cited_sources
        )
    return AgentTurn(
        conversation=conversation,
        message=message,
        confidence=outcome.confidence,
        tools=[tool.as_dict() for tool in outcome.tools],
        knowledge_sources=outcome.knowledge_sources,
        escalate_reason=outcome.escalate_reason,
        latency_ms=outcome.latency_ms,
    )


def conversation_post_message(
    *, conversation: Conversation, author: str, body: str, teammate: Any = None, status: str | None = None
) -> Message:
    """Post a teammate's or a system message into a conversation; the widget receives it live.

    ``status``, if given, is set on the conversation in the same UPDATE (the handoff's system message)."""
    if author not in (Message.Author.TEAMMATE, Message.Author.SYSTEM):
        raise ValueError("Only teammate and system messages are posted this way.")
    body = _check_body(body)
    # savepoint=False: nested in a caller's transaction, an error rolls it back whole (no SAVEPOINT trips).
    with transaction.atomic(savepoint=False):
        message = Message.objects.create(conversation=conversation, author=author, body=body, teammate=teammate)
        updates: dict[str, Any] = {"updated_at": message.created_at}
        if author == Message.Author.TEAMMATE:
            updates["teammate_replied_at"] = message.created_at  # from now on the AI stays silent here
        if status is not None:
            updates["status"] = status
        Conversation.objects.filter(pk=conversation.pk).update(**updates)
        for name, value in updates.items():
            setattr(conversation, name, value)
        message_broadcast(message)
    return message
