"""Fixtures of the security tests: two fully populated tenants, ``ours`` (the caller) and ``theirs``.

Each tenant is built through the real services and the widget API (a widget conversation handed off to a
human, so the ticket, escalation event, outbox rows, inbox events and notes are the ones production makes),
and carries every kind of object an endpoint, socket or admin page can address. Every name, title and body
of ``theirs`` contains ``THEIRS_MARKER``, so a test can assert that nothing of theirs appears in a page.
"""

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from agents.knowledge import knowledge_settings_save
from agents.knowledge.text import stem
from agents.models import Agent, Conversation, KnowledgeArticle, KnowledgeSettings
from agents.services import knowledge_article_create
from agents.turns import ToolCall
from escalation.flow import ai_turn_submit
from escalation.services import escalation_settings_ensure, knowledge_gap_link
from halo.models import Contact, Membership, OutboxMessage, WebhookEndpoint, Workspace
from halo.services import api_key_create, business_hours_set, contact_upsert, membership_set, page_view_record
from halo.webhooks.events import DELIVER_TASK, WebhookEvent
from halo.webhooks.services import webhook_delivery_start, webhook_endpoint_create
from inbox.models import CustomInbox, SavedView, Ticket
from inbox.services import macro_create, saved_view_create, ticket_note_add
from segments.models import Segment
from tests.agents.factories import AgentFactory, ConversationFactory
from tests.halo.factories import UserFactory, WorkspaceFactory

THEIRS_MARKER = "Zanzibarian"


@dataclass
class Tenant:
    """One workspace with one of everything, and clients acting as its server, teammate and admin."""

    workspace: Workspace
    marker: str
    api: APIClient
    api_key: str
    teammate: User
    admin: User
    agent: Agent
    article: KnowledgeArticle
    segment: Segment
    contact: Contact
    conversation: Conversation
    conversation_token: str
    ticket: Ticket
    custom_inbox: CustomInbox
    saved_view: SavedView
    webhook_endpoint: WebhookEndpoint
    extra: dict[str, Any] = field(default_factory=dict)

    def staff_client(self) -> Client:
        client = Client()
        client.force_login(self.teammate)
        return client

    def admin_client(self) -> Client:
        client = Client()
        client.force_login(self.admin)
        return client


def tenant_build(*, name: str, marker: str) -> Tenant:
    slug = name.lower()
    workspace = WorkspaceFactory(name=f"{name} {marker}", slug=slug, allowed_origins=[f"https://{slug}.example.com"])
    _, raw_key = api_key_create(workspace=workspace, name=f"key {marker}")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    teammate = UserFactory(username=f"sam@{slug}.test", first_name=marker)
    membership_set(workspace=workspace, user=teammate, role=Membership.Role.TEAMMATE)
    admin = UserFactory(username=f"admin@{slug}.test")
    membership_set(workspace=workspace, user=admin, role=Membership.Role.ADMIN)

    agent = AgentFactory(workspace=workspace, name=f"Agent {marker}", greeting=f"Hello from {marker}")
    escalation_settings_ensure(agent=agent)
    article = knowledge_article_create(
        workspace=workspace, title=f"Article {marker}", body=f"How {marker} passwords are reset.", url=""
    )
    knowledge_settings_save(
        settings=KnowledgeSettings(workspace=workspace, embeddings=KnowledgeSettings.Embeddings.OFF)
    )
    segment = Segment.objects.create(workspace=workspace, name=f"Segment {marker}", rule="company.plan = enterprise")
    contact = contact_upsert(
        workspace=workspace,
        user_id=f"{slug}-user",
        data={
            "name": f"Customer {marker}",
            "email": f"customer@{slug}.test",
            "company": {"company_id": f"{slug}-co", "name": f"Co {marker}"},
        },
    ).contact
    page_view_record(contact=contact, url=f"https://{slug}.example.com/{marker}")
    custom_inbox = CustomInbox.objects.create(workspace=workspace, name=f"Inbox {marker}")
    saved_view = saved_view_create(workspace=workspace, name=f"View {marker}", created_by=teammate)
    macro_create(workspace=workspace, name=f"Macro {marker}", body=f"Hi {{{{ customer.first_name }}}} {marker}")
    business_hours_set(workspace=workspace, data={"holidays": ["2026-12-24"]})
    webhook_endpoint = webhook_endpoint_create(
        workspace=workspace, url=f"https://hooks.{slug}.example.com/{marker}", events=[e.value for e in WebhookEvent]
    )
    workspace.refresh_from_db()  # its routes: the widget conversation below records its events

    # A real widget conversation of an anonymous visitor, handed off to a human.
    widget = APIClient()
    started = widget.post(
        "/api/widget/v1/conversations",
        {"app_id": workspace.app_id, "body": f"My {marker} invoice is wrong"},
        format="json",
    )
    assert started.status_code == 201, started.content
    conversation = Conversation.objects.get(pk=started.json()["id"])
    token = started.json()["token"]
    handed_off = widget.post(
        f"/api/widget/v1/conversations/{conversation.pk}/handoff", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert handed_off.status_code == 201, handed_off.content
    ticket = Ticket.objects.get(workspace=workspace)
    ticket_note_add(ticket=ticket, author=teammate, body=f"Note {marker}")
    # A question the AI could not answer, on its own in the knowledge-gap backlog: the topic ``stem(marker)``.
    ai_turn_submit(
        conversation=ConversationFactory(workspace=workspace, agent=agent, contact=contact),
        reply="I couldn't find an answer to that in our help center.",
        confidence=5,
        tools=[ToolCall(name="knowledge_search", arguments={"query": marker})],
        knowledge_sources=[],
    )
    knowledge_gap_link(workspace=workspace, key=stem(marker.lower()), article=article)
    first_event = OutboxMessage.objects.filter(task=DELIVER_TASK, workspace=workspace).order_by("id").first()
    assert first_event is not None
    webhook_delivery_start(
        endpoint=webhook_endpoint,
        event=first_event.payload["event"],
        outbox_message_id=first_event.pk,
        now=timezone.now(),
    )

    return Tenant(
        workspace=workspace,
        marker=marker,
        api=api,
        api_key=raw_key,
        teammate=teammate,
        admin=admin,
        agent=agent,
        article=article,
        segment=segment,
        contact=contact,
        conversation=conversation,
        conversation_token=token,
        ticket=ticket,
        custom_inbox=custom_inbox,
        saved_view=saved_view,
        webhook_endpoint=webhook_endpoint,
    )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Each tenant has two logins; PBKDF2 would make building one take a second."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ours(db: None) -> Tenant:
    return tenant_build(name="Ours", marker="Ourselves")


@pytest.fixture
def theirs(db: None) -> Tenant:
    return tenant_build(name="Theirs", marker=THEIRS_MARKER)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each of schemathesis's per-operation tests (``test_schemathesis.py``) its own node id.

    Their names hold the operation (``test_…[GET /api/v1/agents]``), but pytest builds a test's node id from
    its function's name and its ``parametrize`` parameters, which schemathesis does not use: every operation
    gets the function's node id. pytest-xdist schedules and reports by node id, so under ``make test`` it
    would run one operation of the fifty and count one test. The id is rebuilt the way pytest builds a node's
    id from its name when it is not told otherwise."""
    for item in items:
        if type(item).__name__ == "SchemathesisFunction" and item.parent is not None:
            item._id = item.parent.id.child(item.name).with_params(None)  # type: ignore[attr-defined]
