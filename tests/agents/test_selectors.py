"""The widget path's reads compiled once (``halo.compiled``): the agent, the conversation and its recent
messages. Each must return what the queryset it was compiled from returns, for every workspace and every
value, in one query."""

from typing import Any

import pytest
from django.db import models

from agents.models import Agent, AgentTurn, Conversation, Message
from agents.selectors import agent_for_widget, conversation_for_widget, messages_recent
from escalation.models import EscalationSettings, EscalationShadow
from escalation.services import escalation_settings_ensure
from halo.models import BusinessHours
from tests.agents.factories import AgentFactory, ConversationFactory, MessageFactory
from tests.halo.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def _row(instance: models.Model | None) -> dict[str, Any] | None:
    """Every column of ``instance`` as loaded, with the model (None stays None)."""
    if instance is None:
        return None
    values = {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}
    return {"model": type(instance).__name__, **values, "db": instance._state.db, "adding": instance._state.adding}


def _agent_as_loaded(agent: Agent) -> dict[str, Any]:
    workspace = agent.workspace
    return {
        "agent": _row(agent),
        "workspace": _row(workspace),
        "business_hours": _row(getattr(workspace, "business_hours", None)),
        "settings": _row(getattr(agent, "escalation_settings", None)),
    }


def _orm_agent(app_id: str, agent_id: int | None) -> Agent | None:
    agents = Agent.objects.select_related("workspace__business_hours", "escalation_settings").filter(
        workspace__app_id=app_id
    )
    return agents.filter(pk=agent_id).first() if agent_id is not None else agents.order_by("id").first()


def test_the_agent_for_a_widget_is_the_querysets_with_everything_loaded_in_one_query(
    django_assert_num_queries: Any,
) -> None:
    workspace = WorkspaceFactory(timezone="Europe/Paris")
    first = AgentFactory(workspace=workspace, name="First")
    second = AgentFactory(workspace=workspace, name="Second")
    escalation_settings_ensure(agent=second)
    BusinessHours.objects.create(
        workspace=workspace, weekly=[{"day": 0, "open": "09:00", "close": "17:00"}], holidays=["2026-12-24"]
    )

    for agent_id, expected in ((None, first), (second.pk, second), (first.pk, first)):
        with django_assert_num_queries(1):
            agent = agent_for_widget(app_id=workspace.app_id, agent_id=agent_id)
            assert agent is not None
            loaded = _agent_as_loaded(agent)  # no query: the workspace, its hours and the settings came with it

        assert agent.pk == expected.pk
        assert loaded == _agent_as_loaded(_orm_agent(workspace.app_id, agent_id))  # type: ignore[arg-type]
    assert loaded["business_hours"]["weekly"] == [{"day": 0, "open": "09:00", "close": "17:00"}]


def test_an_agent_without_settings_or_hours_reads_them_as_absent_without_a_query(
    django_assert_num_queries: Any,
) -> None:
    agent = AgentFactory()

    with django_assert_num_queries(1):
        found = agent_for_widget(app_id=agent.workspace.app_id, agent_id=None)
        assert found is not None
        with pytest.raises(EscalationSettings.DoesNotExist):
            found.escalation_settings  # noqa: B018
        with pytest.raises(BusinessHours.DoesNotExist):
            found.workspace.business_hours  # noqa: B018


def test_each_call_reads_its_own_workspace_and_another_workspaces_agent_is_unknown() -> None:
    ours, theirs = WorkspaceFactory(), WorkspaceFactory()
    our_agent, their_agent = AgentFactory(workspace=ours), AgentFactory(workspace=theirs)

    found = [
        agent_for_widget(app_id=ours.app_id, agent_id=None),
        agent_for_widget(app_id=theirs.app_id, agent_id=None),
        agent_for_widget(app_id=ours.app_id, agent_id=our_agent.pk),
        agent_for_widget(app_id=ours.app_id, agent_id=their_agent.pk),
        agent_for_widget(app_id=theirs.app_id, agent_id=their_agent.pk),
        agent_for_widget(app_id="unknown-app", agent_id=None),
    ]

    assert [agent.pk if agent else None for agent in found] == [
        our_agent.pk,
        their_agent.pk,
        our_agent.pk,
        None,  # their agent's id with our app_id
        their_agent.pk,
        None,
    ]
    assert [agent.workspace.app_id for agent in found if agent] == [
        ours.app_id,
        theirs.app_id,
        ours.app_id,
        theirs.app_id,
    ]


def test_a_settings_change_is_read_by_the_next_request() -> None:
    agent = AgentFactory()
    settings = escalation_settings_ensure(agent=agent)
    before = agent_for_widget(app_id=agent.workspace.app_id, agent_id=None)

    EscalationSettings.objects.filter(pk=settings.pk).update(mode="off", version=settings.version + 1)
    after = agent_for_widget(app_id=agent.workspace.app_id, agent_id=None)

    assert before is not None
    assert after is not None
    assert (before.escalation_settings.mode, after.escalation_settings.mode) == (settings.mode, "off")


def _conversation_as_loaded(conversation: Conversation) -> dict[str, Any]:
    agent = conversation.agent
    return {
        "conversation": _row(conversation),
        "workspace": _row(conversation.workspace),
        "business_hours": _row(getattr(conversation.workspace, "business_hours", None)),
        "contact": _row(conversation.contact),
        "agent": _row(agent),
        "settings": _row(getattr(agent, "escalation_settings", None)),
        "shadow": _row(getattr(agent, "escalation_shadow", None)),
    }


def test_the_conversation_for_a_widget_is_the_querysets_with_everything_loaded_in_one_query(
    django_assert_num_queries: Any,
) -> None:
    plain = ConversationFactory()
    full = ConversationFactory()
    settings = escalation_settings_ensure(agent=full.agent)
    EscalationShadow.objects.create(agent=full.agent, values={"mode": "off"}, version=3)
    BusinessHours.objects.create(workspace=full.workspace, holidays_country="FR")
    orm = Conversation.objects.select_related(
        "workspace__business_hours", "contact", "agent__escalation_settings", "agent__escalation_shadow"
    )

    for conversation in (plain, full, plain):
        with django_assert_num_queries(1):
            found = conversation_for_widget(conversation_id=conversation.pk)
            assert found is not None
            loaded = _conversation_as_loaded(found)

        assert loaded == _conversation_as_loaded(orm.get(pk=conversation.pk))
    assert loaded["settings"] is None
    assert loaded["shadow"] is None
    full_loaded = _conversation_as_loaded(conversation_for_widget(conversation_id=full.pk))  # type: ignore[arg-type]
    assert (full_loaded["settings"]["id"], full_loaded["shadow"]["values"]) == (settings.pk, {"mode": "off"})
    assert full_loaded["business_hours"]["holidays_country"] == "FR"
    assert conversation_for_widget(conversation_id=full.pk + plain.pk + 1000) is None


def test_recent_messages_are_the_newest_twenty_oldest_first_with_their_turns_in_one_query(
    django_assert_num_queries: Any,
) -> None:
    conversation, other = ConversationFactory(), ConversationFactory()
    for n in range(12):
        MessageFactory(conversation=conversation, author=Message.Author.USER, body=f"question {n}")
        answer = MessageFactory(conversation=conversation, author=Message.Author.AI, body=f"answer {n}")
        if n % 3:  # some answers have no turn (a reply stored without one)
            AgentTurn.objects.create(
                conversation=conversation, message=answer, signals=["low_confidence"], suppressed_by="mode_off"
            )
    MessageFactory(conversation=other, body="another conversation")
    orm = list(
        reversed(list(Message.objects.filter(conversation=conversation).select_related("turn").order_by("-id")[:20]))
    )

    with django_assert_num_queries(1):
        recent = messages_recent(conversation=conversation)
        turns = [_row(getattr(message, "turn", None)) for message in recent]  # no query: loaded with them

    assert [_row(message) for message in recent] == [_row(message) for message in orm]
    assert [message.body for message in recent][:2] == ["question 2", "answer 2"]
    assert turns == [_row(getattr(message, "turn", None)) for message in orm]
    assert sum(1 for turn in turns if turn is not None) == 7  # answers 2, 4, 5, 7, 8, 10, 11
