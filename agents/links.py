"""The signed link that reopens a conversation from an email, and the credentials that open a conversation.

A conversation is opened by its token (handed to the widget once; only its hash is stored) or by a signed
link token: ``django.core.signing`` over the conversation's id, salted for this purpose, valid for
``REPLY_LINK_MAX_AGE_DAYS`` (14 days by default) from when the email was written. It is what the reply email
carries, so the customer can come back from another device without the widget's stored token; it opens that
conversation only, through the same widget API and socket. Nothing is stored for it: changing
``SECRET_KEY`` ends every link.

``conversation_link_token_read`` tells an expired link from a forged one, so the hosted page can say which.
"""

import enum
from datetime import timedelta

from django.conf import settings
from django.core import signing

from agents.models import Conversation

LINK_SALT = "halo.agents.conversation-link"


class LinkProblem(enum.StrEnum):
    EXPIRED = "expired"
    INVALID = "invalid"


class LinkRefused(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def link_max_age() -> timedelta:
    return timedelta(days=settings.REPLY_LINK_MAX_AGE_DAYS)


def conversation_link_token(*, conversation: Conversation) -> str:
    """A signed token that opens ``conversation`` until it expires (URL-safe: no ``/``)."""
    return signing.dumps({"conversation": conversation.pk}, salt=LINK_SALT, compress=False)


def conversation_link_token_read(token: str) -> int:
    """The conversation id a link token opens; ``LinkRefused`` (expired or invalid) otherwise."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=link_max_age())
    except signing.SignatureExpired:
        raise LinkRefused(LinkProblem.EXPIRED) from None
    except signing.BadSignature:
        raise LinkRefused(LinkProblem.INVALID) from None
    conversation_id = data.get("conversation") if isinstance(data, dict) else None
    if not isinstance(conversation_id, int) or isinstance(conversation_id, bool):
        raise LinkRefused(LinkProblem.INVALID)
    return conversation_id


def conversation_credential_valid(*, conversation: Conversation, token: str) -> bool:
    """Whether ``token`` opens ``conversation``: its own token, or a live signed link to it. A raw token never
    holds ``:``, a signed one always does, so each is checked the one way it can match."""
    if ":" not in token:
        return conversation.token_matches(token)
    try:
        return conversation_link_token_read(token) == conversation.pk
    except LinkRefused:
        return False
