"""The widget path's shortcut keeps the decision: for any conversation, judging each new turn in memory
(unsaved, the earlier turns read only when the turn carries a signal) decides exactly what a replay of the
stored turn decides with its full history under the same settings."""

from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.turns import ToolCall
from escalation.engine import Policy
from escalation.flow import ai_turn_submit
from escalation.selectors import policy_from_settings, turn_decision_replay
from escalation.services import escalation_settings_update
from tests.agents.factories import ConversationFactory
from tests.halo.factories import ContactFactory

pytestmark = pytest.mark.django_db

TOOLS = {
    "none": [],
    "search": [{"name": "knowledge_search", "arguments": {"query": "q"}}],
    "escalate": [{"name": "escalate", "arguments": {"reason": "asked"}}],
}
turns = st.lists(
    st.tuples(
        st.sampled_from(["Here is how.", "I'm not sure, let me get a teammate."]),
        st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
        st.sampled_from(sorted(TOOLS)),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    turns=turns,
    mode=st.sampled_from(["off", "always", "conditional"]),
    threshold=st.integers(min_value=0, max_value=100),
    max_attempts=st.integers(min_value=1, max_value=4),
)
def test_in_memory_judgement_equals_the_full_history_replay(
    workspace: Any, agent: Any, escalation_settings: Any, turns: list[Any], mode: str, threshold: int, max_attempts: int
) -> None:
    escalation_settings_update(
        escalation_settings=escalation_settings,
        data={"mode": mode, "confidence_threshold": threshold, "max_attempts": max_attempts},
    )
    policy: Policy = policy_from_settings(escalation_settings)
    conversation = ConversationFactory(workspace=workspace, agent=agent, contact=ContactFactory(workspace=workspace))
    for reply, confidence, tools in turns:
        if conversation.status != "open":
            break  # a human owns it now: the AI takes no more turns
        judged = ai_turn_submit(
            conversation=conversation,
            reply=reply,
            confidence=confidence,
            tools=ToolCall.list_from_json(TOOLS[tools]),
            knowledge_sources=[],
        )

        assert judged.decision == turn_decision_replay(turn_id=judged.turn.pk, policy=policy, now=timezone.now())
