"""The admin's tuning tools on the Ticket Escalation page (preview, shadow, suggestions) and the Knowledge gaps
backlog, through the admin's own views: validation, what is shown, and workspace walls."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from agents.models import Agent
from agents.services import knowledge_article_create
from agents.turns import ToolCall
from escalation.flow import ai_turn_submit, handoff_request
from escalation.gaps import AI_COULD_HAVE_ANSWERED as AI_COULD_VERDICTS
from escalation.models import EscalationSettings, EscalationSettingsVersion, EscalationShadow, KnowledgeGapLink
from escalation.services import escalation_settings_update
from halo.models import Membership, Workspace
from inbox.models import Ticket
from inbox.services import ticket_verdict_set
from tests.agents.factories import AgentFactory, ConversationFactory
from tests.escalation.test_admin import form_data
from tests.halo.factories import ContactFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db
# The verdict "AI could have answered", under whichever value this release gives it.
AI_COULD_HAVE_ANSWERED = next(value for value in Ticket.Verdict.values if value in AI_COULD_VERDICTS)
SEARCH = ToolCall.list_from_json([{"name": "knowledge_search", "arguments": {"query": "how do I export our data"}}])


def url(name: str, settings: EscalationSettings) -> str:
    return reverse(f"admin:escalation_escalationsettings_{name}", args=[settings.pk])


def answer(workspace: Workspace, agent: Agent, confidence: int) -> Any:
    conversation = ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))
    return ai_turn_submit(
        conversation=conversation, reply="Here is how.", confidence=confidence, tools=SEARCH, knowledge_sources=[]
    )


@pytest.fixture
def history(workspace: Workspace, agent: Agent, escalation_settings: EscalationSettings) -> dict[str, Any]:
    escalation_settings_update(escalation_settings=escalation_settings, data={"max_attempts": 1})
    return {"escalated": answer(workspace, agent, 45), "sixty": answer(workspace, agent, 60)}


def test_preview_shows_the_drafts_effect_with_links_and_saves_nothing(
    admin_client_of: Client, escalation_settings: EscalationSettings, history: dict[str, Any]
) -> None:
    versions = EscalationSettingsVersion.objects.count()

    response = admin_client_of.post(
        url("preview", escalation_settings), form_data(escalation_settings, confidence_threshold=70)
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "1 more ticket" in html
    conversation = history["sixty"].turn.conversation_id
    assert reverse("admin:agents_conversation_change", args=[conversation]) in html
    assert "Would newly escalate (1)" in html
    assert EscalationSettingsVersion.objects.count() == versions
    escalation_settings.refresh_from_db()
    assert escalation_settings.confidence_threshold == 50


def test_preview_of_an_invalid_draft_shows_the_forms_errors(
    admin_client_of: Client, escalation_settings: EscalationSettings, history: dict[str, Any]
) -> None:
    response = admin_client_of.post(
        url("preview", escalation_settings),
        form_data(escalation_settings, confidence_threshold=101, routing_type="inbox"),
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "nothing was replayed" in html
    assert "Confidence threshold" in html
    assert "less than or equal to 100" in html
    assert "What these settings would have changed" not in html


def test_save_as_shadow_then_promote_from_the_page(
    admin_client_of: Client, escalation_settings: EscalationSettings, workspace: Workspace, agent: Agent
) -> None:
    response = admin_client_of.post(
        url("shadow", escalation_settings), form_data(escalation_settings, confidence_threshold=80)
    )
    assert response.status_code == 302
    assert EscalationShadow.objects.get(agent=agent).values["confidence_threshold"] == 80
    answer(workspace, agent, 70)

    page = admin_client_of.get(response["Location"]).content.decode()
    assert "Shadow settings" in page
    assert "Agreement with the live decisions" in page
    assert "0%" in page
    assert "confidence threshold</strong> → 80" in page

    admin_client_of.post(url("shadow_promote", escalation_settings))
    escalation_settings.refresh_from_db()
    assert escalation_settings.confidence_threshold == 80
    assert EscalationSettingsVersion.objects.filter(changed_via="admin").count() == 1
    assert not EscalationShadow.objects.exists()


def test_suggestions_are_shown_and_applied_with_a_click(
    admin_client_of: Client, escalation_settings: EscalationSettings, history: dict[str, Any], teammate: Membership
) -> None:
    ticket = history["escalated"].handoff.ticket
    ticket_verdict_set(ticket=ticket, user=teammate.user, verdict=AI_COULD_HAVE_ANSWERED)

    page = admin_client_of.get(reverse("admin:escalation_escalationsettings_change", args=[escalation_settings.pk]))
    html = page.content.decode()
    assert "Confidence threshold: 50 → 45" in html
    assert f"ticket #{ticket.pk}" in html
    assert "AI could have answered" in html

    admin_client_of.post(url("suggestion_apply", escalation_settings), {"field": "confidence_threshold", "value": "45"})
    escalation_settings.refresh_from_db()
    assert (escalation_settings.confidence_threshold, escalation_settings.version) == (45, 3)
    admin_client_of.post(url("suggestion_apply", escalation_settings), {"field": "mode", "value": "1"})
    escalation_settings.refresh_from_db()
    assert escalation_settings.version == 3


def test_another_workspaces_settings_cannot_be_previewed_or_shadowed(admin_client_of: Client) -> None:
    other = AgentFactory(workspace=WorkspaceFactory())
    settings = EscalationSettings.objects.create(agent=other)

    for name in ("preview", "shadow", "shadow_promote", "shadow_discard", "suggestion_apply"):
        assert admin_client_of.post(url(name, settings), form_data(settings)).status_code == 404, name
    assert not EscalationShadow.objects.exists()


def test_the_backlog_lists_topics_and_links_an_article(
    admin_client_of: Client, workspace: Workspace, agent: Agent, escalation_settings: EscalationSettings
) -> None:
    for _ in range(2):
        answer(workspace, agent, 10)
    article = knowledge_article_create(
        workspace=workspace, title="Export your data", body="Export all your messages and data from Settings > Export."
    )
    backlog = reverse("admin:escalation_knowledgegaplink_changelist")

    html = admin_client_of.get(backlog).content.decode()
    assert "asked 2 times" in html
    assert "how do I export our data" in html
    assert "Mark handled" in html

    response = admin_client_of.post(backlog, {"workspace": workspace.pk, "topic": "export", "article": article.pk})
    assert response.status_code == 302
    assert KnowledgeGapLink.objects.get(key="export").article == article
    html = admin_client_of.get(response["Location"]).content.decode()
    assert "Linked: " in html
    assert "of these questions now" in html


def test_the_backlog_never_shows_another_workspaces_questions(admin_client_of: Client, workspace: Workspace) -> None:
    other = WorkspaceFactory()
    answer(other, AgentFactory(workspace=other), 10)
    backlog = reverse("admin:escalation_knowledgegaplink_changelist")

    assert "export" not in admin_client_of.get(f"{backlog}?workspace={other.pk}").content.decode()
    admin_client_of.post(backlog, {"workspace": other.pk, "topic": "export", "article": ""})
    assert not KnowledgeGapLink.objects.filter(workspace=other).exists()


def test_preview_links_the_manual_handoff_a_draft_filter_would_refuse(
    admin_client_of: Client, agent: Agent, workspace: Workspace, escalation_settings: EscalationSettings
) -> None:
    free = ConversationFactory(
        workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace, plan="free")
    )
    handoff_request(conversation=free)  # "Talk to a human", before any AI turn

    page = admin_client_of.post(
        url("preview", escalation_settings), form_data(escalation_settings, escalation_filter="user.plan = vip")
    )

    html = page.content.decode()
    assert "0 AI turns and 1 request for a human replayed" in html
    assert reverse("admin:agents_conversation_change", args=[free.pk]) in html
    assert "1 fewer ticket" in html
