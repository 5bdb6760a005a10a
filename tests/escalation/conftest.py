"""Fixtures of the escalation tests: an agent with its settings, a contact, a conversation.

``workspace``, ``teammate`` and ``api`` come from ``tests/conftest.py``.
"""

import pytest

from agents.models import Agent, Conversation
from escalation.models import EscalationSettings
from escalation.services import escalation_settings_ensure
from halo.models import Contact, Workspace
from tests.agents.factories import ConversationFactory
from tests.halo.factories import ContactFactory


@pytest.fixture
def escalation_settings(agent: Agent) -> EscalationSettings:
    return escalation_settings_ensure(agent=agent)


@pytest.fixture
def contact(workspace: Workspace) -> Contact:
    return ContactFactory(workspace=workspace, name="Jo", email="jo@example.com", plan="pro")


@pytest.fixture
def conversation(
    workspace: Workspace, agent: Agent, contact: Contact, escalation_settings: EscalationSettings
) -> Conversation:
    return ConversationFactory(workspace=workspace, agent=agent, contact=contact)
