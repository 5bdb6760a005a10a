"""Factories for agents, knowledge articles, conversations and messages."""

import factory

from agents.knowledge import knowledge_index
from agents.models import Agent, Conversation, KnowledgeArticle, Message, hash_conversation_token
from tests.halo.factories import ContactFactory, WorkspaceFactory


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    workspace = factory.SubFactory(WorkspaceFactory)
    name = "Halo"
    greeting = "Hi! How can I help?"
    responder = Agent.Responder.BUILTIN


class KnowledgeArticleFactory(factory.django.DjangoModelFactory):
    """An article, indexed for search like the services index it."""

    class Meta:
        model = KnowledgeArticle
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    title = factory.Sequence(lambda n: f"Article {n}")
    body = "Some help text."
    url = factory.Sequence(lambda n: f"https://help.example.com/articles/{n}")
    published = True

    @factory.post_generation
    def indexed(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            knowledge_index(article=self)


TEST_TOKEN = "test-conversation-token"


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    workspace = factory.SubFactory(WorkspaceFactory)
    agent = factory.SubFactory(AgentFactory, workspace=factory.SelfAttribute("..workspace"))
    contact = factory.SubFactory(ContactFactory, workspace=factory.SelfAttribute("..workspace"))
    token_hash = hash_conversation_token(TEST_TOKEN)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    author = Message.Author.USER
    body = "Hello"
