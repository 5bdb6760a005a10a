"""The admin's *Actions > Ticket Escalation* page: grouped form, validation, history, workspace scoping."""

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agents.models import Agent
from escalation.admin import ticket_escalation_url
from escalation.models import EscalationSettings, EscalationSettingsVersion
from escalation.services import escalation_settings_ensure, escalation_settings_update
from halo.models import Membership, Workspace
from tests.agents.factories import AgentFactory
from tests.conftest import WITHOUT_ESCALATION_SETTINGS
from tests.halo.factories import ContactFactory, MembershipFactory, UserFactory, WorkspaceFactory
from tests.inbox.factories import CustomInboxFactory


@pytest.fixture
def admin_client_of(db: None):
    def login(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


@pytest.fixture
def superuser(db: None) -> Any:
    return get_user_model().objects.create_superuser("root@halo.test", "root@halo.test", "pw-123456789")


def form_data(settings: EscalationSettings, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "mode": settings.mode,
        "confidence_threshold": settings.confidence_threshold,
        "max_attempts": settings.max_attempts,
        "require_knowledge_search": "on" if settings.require_knowledge_search else "",
        "escalation_filter": settings.escalation_filter,
        "priority_filter": settings.priority_filter,
        "default_assignee": settings.default_assignee_id or "",
        "routing_type": settings.routing_type,
        "default_inbox": settings.default_inbox_id or "",
        "escalation_phrases": "\n".join(settings.escalation_phrases),
        "handoff_phrases": "\n".join(settings.handoff_phrases),
        "expected_reply_time": settings.expected_reply_time,
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != "" or key not in ("require_knowledge_search",)}


def open_settings(client: Client, agent: Agent) -> tuple[EscalationSettings, str]:
    response = client.get(ticket_escalation_url(agent))
    assert response.status_code == 302
    return EscalationSettings.objects.get(agent=agent), response["Location"]


@WITHOUT_ESCALATION_SETTINGS
def test_agent_link_opens_the_grouped_settings_form(admin_client_of, superuser, agent: Agent) -> None:
    client = admin_client_of(superuser)
    _, url = open_settings(client, agent)
    page = client.get(url).content.decode()

    for group in ("When to escalate", "Conditions (conditional mode)", "Who", "Routing", "Phrases and messages"):
        assert group in page
    assert "a higher threshold escalates more" in page.lower()
    assert "No filter: every contact may be handed off." in page
    assert "Version history" in page


def test_saving_records_who_changed_what(admin_client_of, superuser, agent: Agent, teammate: Membership) -> None:
    client = admin_client_of(superuser)
    settings, url = open_settings(client, agent)

    response = client.post(url, form_data(settings, confidence_threshold=65, default_assignee=teammate.user.pk))

    assert response.status_code == 302, response.content.decode()[:2000]
    settings.refresh_from_db()
    assert (settings.confidence_threshold, settings.default_assignee, settings.version) == (65, teammate.user, 2)
    version = EscalationSettingsVersion.objects.get(escalation_settings=settings, version=2)
    assert version.changed_by == superuser
    assert version.changed_via == "admin"
    assert version.changes == {"confidence_threshold": [50, 65], "default_assignee": [None, teammate.user.pk]}


def test_phrases_are_edited_one_per_line(admin_client_of, superuser, agent: Agent) -> None:
    client = admin_client_of(superuser)
    settings, url = open_settings(client, agent)

    client.post(url, form_data(settings, handoff_phrases="talk to a human\n\n  get me a person  \n"))

    settings.refresh_from_db()
    assert settings.handoff_phrases == ["talk to a human", "get me a person"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"routing_type": "inbox"}, "Choose a default inbox for inbox routing."),
        ({"confidence_threshold": 101}, "Ensure this value is less than or equal to 100."),
        ({"max_attempts": 0}, "Ensure this value is greater than or equal to 1."),
        ({"require_web_search": "on"}, "Turn on the agent&#x27;s web-search skill"),
    ],
)
def test_refuses_invalid_settings_with_a_clear_message(
    admin_client_of, superuser, agent: Agent, changes: dict[str, Any], message: str
) -> None:
    client = admin_client_of(superuser)
    settings, url = open_settings(client, agent)

    response = client.post(url, form_data(settings, **changes))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert EscalationSettings.objects.get(pk=settings.pk).version == 1


def test_offers_only_the_workspaces_inboxes_and_teammates(
    admin_client_of, superuser, agent: Agent, teammate: Membership
) -> None:
    CustomInboxFactory(workspace=agent.workspace, name="Billing desk")
    CustomInboxFactory(workspace=WorkspaceFactory(), name="Someone else's inbox")
    MembershipFactory(workspace=WorkspaceFactory(), user__username="stranger@other.test")
    client = admin_client_of(superuser)
    _, url = open_settings(client, agent)

    page = client.get(url).content.decode()

    assert "Billing desk" in page
    assert "sam@acme.test" in page
    assert "Someone else&#x27;s inbox" not in page
    assert "stranger@other.test" not in page


def test_workspace_admin_cannot_open_another_workspaces_settings(admin_client_of, agent: Agent) -> None:
    other: Workspace = WorkspaceFactory()
    other_admin = UserFactory(is_staff=True)
    Membership.objects.create(user=other_admin, workspace=other, role=Membership.Role.ADMIN)
    client = admin_client_of(other_admin)

    assert client.get(ticket_escalation_url(agent)).status_code == 404
    settings = escalation_settings_ensure(agent=agent)
    change_url = f"/admin/escalation/escalationsettings/{settings.pk}/change/"
    assert client.get(change_url).status_code in (302, 403, 404)
    own_agent = AgentFactory(workspace=other)
    assert client.get(ticket_escalation_url(own_agent)).status_code == 302


def test_each_filter_shows_how_many_contacts_it_matches_now(admin_client_of, superuser, agent: Agent) -> None:
    for plan in ("enterprise", "enterprise", "free"):
        ContactFactory(workspace=agent.workspace, plan=plan)
    ContactFactory(plan="enterprise")  # another workspace's
    client = admin_client_of(superuser)
    settings, url = open_settings(client, agent)
    escalation_settings_update(escalation_settings=settings, data={"priority_filter": "user.plan = enterprise"})

    page = client.get(url).content.decode()

    assert "2 contacts match now." in page


def test_refuses_a_filter_that_does_not_parse(admin_client_of, superuser, agent: Agent) -> None:
    client = admin_client_of(superuser)
    settings, url = open_settings(client, agent)

    response = client.post(url, form_data(settings, escalation_filter="user.plan = = pro"))

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert EscalationSettings.objects.get(pk=settings.pk).escalation_filter == ""


def test_agent_page_links_to_its_ticket_escalation_settings(admin_client_of, superuser, agent: Agent) -> None:
    page = admin_client_of(superuser).get(f"/admin/agents/agent/{agent.pk}/change/").content.decode()
    assert f'href="{ticket_escalation_url(agent)}"' in page
    assert "Ticket Escalation" in page
