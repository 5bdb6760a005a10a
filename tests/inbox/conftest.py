"""Fixtures of the inbox tests (``workspace``, ``teammate`` and ``api`` come from ``tests/conftest.py``).

The staff-inbox fixtures: ``agent`` (with escalation settings), ``escalate`` (a real
manual handoff of a new conversation, so tickets, escalation events, outbox rows and inbox events are
the ones production makes), ``staff`` (a logged-in teammate's browser session) and ``outsider`` (a
member of another workspace).
"""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from agents.models import Agent, Conversation
from escalation.flow import handoff_request
from halo.models import Contact, Membership, Workspace
from inbox.models import Ticket
from tests.agents.factories import ConversationFactory, MessageFactory
from tests.halo.factories import ContactFactory, MembershipFactory, WorkspaceFactory


@pytest.fixture
def escalate(workspace: Workspace, agent: Agent) -> Callable[..., Ticket]:
    """Escalate a new conversation of ``contact`` (a new contact by default) with the user's ``body``."""

    def make(
        *, contact: Contact | None = None, body: str = "I need help with my invoice", **contact_fields: Any
    ) -> Ticket:
        contact = contact or ContactFactory(workspace=workspace, **contact_fields)
        conversation: Conversation = ConversationFactory(workspace=workspace, agent=agent, contact=contact)
        MessageFactory(conversation=conversation, author="user", body=body)
        return handoff_request(conversation=conversation).ticket

    return make


@pytest.fixture
def staff(teammate: Membership) -> Client:
    """A browser session of the workspace's teammate."""
    client = Client()
    client.force_login(teammate.user)
    return client


@pytest.fixture
def other_workspace(db: None) -> Workspace:
    return WorkspaceFactory(name="Globex", slug="globex")


@pytest.fixture
def outsider(other_workspace: Workspace) -> Membership:
    return MembershipFactory(workspace=other_workspace, user__username="eve@globex.test")
