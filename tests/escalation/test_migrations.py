"""The data migrations of the request-for-a-human work: defaults that were never edited move to the new ones
(handoff phrases as a new settings version), edited lists stay, and stored turns keep the AI's words."""

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from agents.topics import DEFAULT_HUMAN_ONLY_TOPICS
from escalation.models import DEFAULT_HANDOFF_PHRASES

BEFORE = [
    ("agents", "0004_knowledge_passages"),
    ("escalation", "0003_escalationevent_to_inbox"),
]
FIRST_HUMAN_ONLY_TOPICS = [
    "refund",
    "chargeback",
    "cancel my account",
    "delete my account",
    "close my account",
    "change the account owner",
    "legal",
    "lawyer",
    "gdpr request",
    "data deletion request",
]
FIRST_HANDOFF_PHRASES = [
    "talk to a human",
    "speak to a human",
    "speak to an agent",
    "talk to an agent",
    "talk to someone",
    "real person",
    "human agent",
    "customer service representative",
]


def migrate(targets: list[tuple[str, str]] | None = None) -> Any:
    """Migrate to ``targets`` (default: every app's latest) and return the models as they are there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    nodes = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(nodes)
    return executor.loader.project_state(nodes).apps


@pytest.mark.django_db(transaction=True)
def test_untouched_defaults_move_to_the_new_ones_and_edited_lists_stay() -> None:
    apps = migrate(BEFORE)
    Workspace = apps.get_model("halo", "Workspace")
    Contact = apps.get_model("halo", "Contact")
    Agent = apps.get_model("agents", "Agent")
    Conversation = apps.get_model("agents", "Conversation")
    Message = apps.get_model("agents", "Message")
    AgentTurn = apps.get_model("agents", "AgentTurn")
    EscalationSettings = apps.get_model("escalation", "EscalationSettings")
    EscalationSettingsVersion = apps.get_model("escalation", "EscalationSettingsVersion")
    workspace = Workspace.objects.create(name="Acme", slug="acme", app_id="app-acme", identity_secret="s" * 32)
    untouched = Agent.objects.create(workspace=workspace, name="Ada", human_only_topics=FIRST_HUMAN_ONLY_TOPICS)
    edited = Agent.objects.create(workspace=workspace, name="Bo", human_only_topics=["refund", "warranty"])
    first = EscalationSettings.objects.create(agent=untouched, handoff_phrases=FIRST_HANDOFF_PHRASES)
    EscalationSettingsVersion.objects.create(
        escalation_settings=first, version=1, values={"mode": "conditional", "handoff_phrases": FIRST_HANDOFF_PHRASES}
    )
    own = EscalationSettings.objects.create(agent=edited, handoff_phrases=["open a ticket"])
    contact = Contact.objects.create(workspace=workspace, user_id="jo")
    conversation = Conversation.objects.create(
        workspace=workspace, agent=untouched, contact=contact, token_hash="t" * 64
    )
    message = Message.objects.create(conversation=conversation, author="ai", body="Here is how.")
    turn = AgentTurn.objects.create(conversation=conversation, message=message)
    silent = AgentTurn.objects.create(conversation=conversation)

    apps = migrate()
    Agent = apps.get_model("agents", "Agent")
    AgentTurn = apps.get_model("agents", "AgentTurn")
    EscalationSettings = apps.get_model("escalation", "EscalationSettings")
    EscalationSettingsVersion = apps.get_model("escalation", "EscalationSettingsVersion")

    assert Agent.objects.get(pk=untouched.pk).human_only_topics == list(DEFAULT_HUMAN_ONLY_TOPICS)
    assert Agent.objects.get(pk=edited.pk).human_only_topics == ["refund", "warranty"]
    moved = EscalationSettings.objects.get(pk=first.pk)
    assert (moved.handoff_phrases, moved.version) == (DEFAULT_HANDOFF_PHRASES, 2)
    version = EscalationSettingsVersion.objects.get(escalation_settings=moved, version=2)
    assert version.changed_via == "system"
    assert version.changes == {"handoff_phrases": [FIRST_HANDOFF_PHRASES, DEFAULT_HANDOFF_PHRASES]}
    assert version.values == {"mode": "conditional", "handoff_phrases": DEFAULT_HANDOFF_PHRASES}
    kept = EscalationSettings.objects.get(pk=own.pk)
    assert (kept.handoff_phrases, kept.version) == (["open a ticket"], 1)
    assert AgentTurn.objects.get(pk=turn.pk).reply == "Here is how."
    assert AgentTurn.objects.get(pk=silent.pk).reply == ""
