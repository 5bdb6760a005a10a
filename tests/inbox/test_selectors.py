"""Reads of the inbox app on the widget's path, compiled once (``halo.compiled``): each returns what the queryset
it was compiled from returns, in one query."""

from typing import Any

import pytest
from django.db import models

from inbox.models import Ticket
from inbox.selectors import ticket_open_of_conversation
from tests.agents.factories import ConversationFactory
from tests.inbox.factories import TicketFactory

pytestmark = pytest.mark.django_db


def _row(instance: models.Model | None) -> dict[str, Any] | None:
    if instance is None:
        return None
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_the_open_ticket_of_a_conversation_is_the_one_not_closed(django_assert_num_queries: Any) -> None:
    conversation, alone = ConversationFactory(), ConversationFactory()
    closed = TicketFactory(workspace=conversation.workspace, contact=conversation.contact, status="closed")
    closed.conversations.add(conversation)
    assert ticket_open_of_conversation(conversation=conversation) is None
    opened = TicketFactory(workspace=conversation.workspace, contact=conversation.contact)
    opened.conversations.add(conversation)

    with django_assert_num_queries(1):
        found = ticket_open_of_conversation(conversation=conversation)

    assert found == opened
    assert _row(found) == _row(Ticket.objects.get(pk=opened.pk))
    assert ticket_open_of_conversation(conversation=alone) is None
