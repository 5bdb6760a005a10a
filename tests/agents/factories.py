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


# A small help center: (title, body, url).
HELP_CENTER = [
    (
        "How to reset your password",
        "Forgot your password? Open the sign-in page and click 'Forgot password'. We email you a reset link "
        "that is valid for one hour. Choose a new password of at least 12 characters.",
        "https://help.example.com/reset-password",
    ),
    (
        "Update your billing details",
        "Admins can change the credit card and the billing address under Settings > Billing. Invoices are "
        "emailed to the billing contact on the first day of each month.",
        "https://help.example.com/billing-details",
    ),
    (
        "Connect the Slack integration",
        "Go to Settings > Integrations, pick Slack and approve the permissions. Notifications then arrive in "
        "the channel you choose.",
        "https://help.example.com/slack",
    ),
    (
        "Export your data as CSV",
        "Every report has an Export button that downloads a CSV file of the rows you see.",
        "https://help.example.com/export-csv",
    ),
]
