"""Factories for AI turns (as the agents runtime records them) and escalation settings."""

import factory

from agents.models import AgentTurn, Message
from escalation.models import EscalationSettings
from tests.agents.factories import AgentFactory, ConversationFactory


class EscalationSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EscalationSettings

    agent = factory.SubFactory(AgentFactory)
    mode = "conditional"
    confidence_threshold = 50
    max_attempts = 3
    require_knowledge_search = True


class AgentTurnFactory(factory.django.DjangoModelFactory):
    """An AI turn with its message. ``reply`` sets the message body; ``searched=True`` adds a knowledge search."""

    class Meta:
        model = AgentTurn
        exclude = ("reply", "searched")

    conversation = factory.SubFactory(ConversationFactory)
    reply = "Here is how to do it."
    searched = True
    confidence = 90
    message = factory.LazyAttribute(
        lambda o: Message.objects.create(conversation=o.conversation, author=Message.Author.AI, body=o.reply)
    )
    tools = factory.LazyAttribute(
        lambda o: [{"name": "knowledge_search", "arguments": {"query": "q"}, "result": []}] if o.searched else []
    )
    knowledge_sources = factory.LazyAttribute(
        lambda o: (
            [{"title": "Reset your password", "url": "https://help.example.com/reset", "score": 0.4}]
            if o.searched
            else []
        )
    )
