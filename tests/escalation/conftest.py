"""Fixtures of the escalation tests: a workspace with a teammate, an agent with its settings, a conversation."""

import pytest
from rest_framework.test import APIClient

from agents.models import Agent, Conversation
from escalation.models import EscalationSettings
from escalation.services import escalation_settings_ensure
from halo.models import Contact, Membership, Workspace
from halo.services import api_key_create
from tests.agents.factories import AgentFactory, ConversationFactory
from tests.halo.factories import ContactFactory, MembershipFactory, WorkspaceFactory


@pytest.fixture
def workspace(db: None) -> Workspace:
    return WorkspaceFactory(name="Acme", slug="acme")


@pytest.fixture
def teammate(workspace: Workspace) -> Membership:
    return MembershipFactory(workspace=workspace, user__username="sam@acme.test")


@pytest.fixture
def agent(workspace: Workspace) -> Agent:
    return AgentFactory(workspace=workspace, name="Ada")


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


@pytest.fixture
def api(workspace: Workspace) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(workspace=workspace)[1]}")
    return client
