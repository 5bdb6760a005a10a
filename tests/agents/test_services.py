"""Services of the agents app: the widget message path, visitor email capture, teammate messages."""

import pytest

from agents.models import Conversation, Message
from agents.services import message_post
from escalation.flow import message_receive
from halo.models import Contact
from tests.agents.factories import ConversationFactory
from tests.halo.factories import ContactFactory

pytestmark = pytest.mark.django_db


def anonymous_conversation() -> Conversation:
    conversation = ConversationFactory(contact=ContactFactory(user_id=None, visitor_id="visitor-abcdef", email=None))
    return Conversation.objects.select_related("workspace", "agent", "contact").get(pk=conversation.pk)


def test_anonymous_visitor_who_writes_an_email_gets_it_stored_as_unverified() -> None:
    conversation = anonymous_conversation()

    message_receive(conversation=conversation, body="Sure, it's Ada.L@Example.com. Thanks!")

    contact = Contact.objects.get(pk=conversation.contact_id)
    assert contact.unverified_email == "ada.l@example.com"
    assert contact.email is None


@pytest.mark.parametrize("body", ["no email here", "write to me at ada@localhost", "@@@.com", "a@b"])
def test_text_without_a_valid_email_changes_nothing(body: str) -> None:
    conversation = anonymous_conversation()

    message_receive(conversation=conversation, body=body)

    contact = Contact.objects.get(pk=conversation.contact_id)
    assert contact.email is None
    assert contact.unverified_email is None


def test_identified_users_email_is_never_taken_from_chat() -> None:
    conversation = ConversationFactory(contact=ContactFactory(email="real@example.com"))
    conversation = Conversation.objects.select_related("workspace", "agent", "contact").get(pk=conversation.pk)

    message_receive(conversation=conversation, body="mail me at other@example.com")

    assert Contact.objects.get(pk=conversation.contact_id).email == "real@example.com"


def test_closed_conversation_reopens_on_a_new_message() -> None:
    conversation = anonymous_conversation()
    Conversation.objects.filter(pk=conversation.pk).update(status="closed")
    conversation.status = "closed"

    result = message_receive(conversation=conversation, body="How do I export csv?")

    assert result.conversation.status == "open"
    assert [message.author for message in result.messages] == ["user", "ai"]


def test_only_teammate_and_system_messages_are_posted_directly() -> None:
    conversation = anonymous_conversation()

    with pytest.raises(ValueError, match="teammate and system"):
        message_post(conversation=conversation, author="ai", body="hi")
    message = message_post(conversation=conversation, author="system", body="  Ticket opened.  ")

    assert (message.author, message.body) == ("system", "Ticket opened.")
    assert Message.objects.filter(conversation=conversation).count() == 1
