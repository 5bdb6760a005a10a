"""Input and output shapes of the escalation server API. Shapes only: the rules live in
``EscalationSettings.clean`` and ``escalation.services``, so the API refuses exactly what the admin form does.
"""

from typing import Any

from rest_framework import serializers

from escalation.engine import Mode, Reason, Signal, SuppressedBy
from escalation.models import MAX_PHRASE_LENGTH, MAX_PHRASES, EscalationSettings
from escalation.services import SETTINGS_FIELDS
from halo.api.serializers import StrictBooleanField, StrictSerializer, TextField, WholeNumberField
from inbox.api.serializers import TicketSerializer
from segments.fields import SegmentRuleSerializerField


class EscalationSettingsSerializer(serializers.ModelSerializer[EscalationSettings]):
    agent = serializers.IntegerField(source="agent_id", read_only=True)
    default_assignee = serializers.IntegerField(
        source="default_assignee_id", allow_null=True, help_text="User id of a member of the workspace, or null."
    )
    default_inbox = serializers.IntegerField(
        source="default_inbox_id", allow_null=True, help_text="Id of a custom inbox of the workspace, or null."
    )

    class Meta:
        model = EscalationSettings
        fields = ["agent", *SETTINGS_FIELDS, "version", "updated_at"]
        read_only_fields = fields


def _phrases() -> serializers.ListField:
    return serializers.ListField(
        child=TextField(max_length=MAX_PHRASE_LENGTH, trim_whitespace=True),
        max_length=MAX_PHRASES,
        required=False,
    )


class EscalationSettingsPatchSerializer(StrictSerializer):
    """Every field optional; validated together with the stored values by the model (``clean``)."""

    mode = serializers.ChoiceField(choices=[mode.value for mode in Mode], required=False)
    confidence_threshold = WholeNumberField(
        min_value=0, max_value=100, required=False, help_text="Escalate when confidence is strictly below it."
    )
    max_attempts = WholeNumberField(min_value=1, max_value=10, required=False)
    require_knowledge_search = StrictBooleanField(required=False)
    require_web_search = StrictBooleanField(required=False)
    escalation_filter = SegmentRuleSerializerField(required=False, help_text="Segment rule; blank: everyone.")
    priority_filter = SegmentRuleSerializerField(required=False, help_text="Segment rule; blank: nobody.")
    default_assignee = WholeNumberField(allow_null=True, required=False, min_value=1)
    routing_type = serializers.ChoiceField(choices=EscalationSettings.RoutingType.choices, required=False)
    default_inbox = WholeNumberField(allow_null=True, required=False, min_value=1)
    escalation_phrases = _phrases()
    handoff_phrases = _phrases()
    expected_reply_time = TextField(max_length=100, required=False)


class ToolCallInputSerializer(serializers.Serializer[Any]):
    """A tool the external AI called: its ``name`` plus its arguments as further keys (e.g. ``query``)."""

    name = TextField(max_length=100, help_text="`knowledge_search`, `web_search`, `escalate`, or a tool of your own.")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        validated = super().to_internal_value(data)
        extra = {key: value for key, value in data.items() if key != "name"}
        return {**extra, **validated}


class KnowledgeSourceInputSerializer(serializers.Serializer[Any]):
    title = TextField(max_length=300)
    url = TextField(max_length=1000, allow_blank=True, required=False, default="")
    score = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True, default=None)


class AiTurnInputSerializer(StrictSerializer):
    reply = TextField(
        max_length=4000, allow_blank=True, trim_whitespace=True, help_text="The AI's reply; blank: it said nothing."
    )
    confidence = WholeNumberField(
        min_value=0, max_value=100, allow_null=True, required=False, default=None, help_text="0-100, or null."
    )
    tools = serializers.ListField(child=ToolCallInputSerializer(), required=False, default=list, max_length=50)
    knowledge_sources = serializers.ListField(
        child=KnowledgeSourceInputSerializer(), required=False, default=list, max_length=50
    )


class DecisionSerializer(serializers.Serializer[Any]):
    turn = serializers.IntegerField(help_text="Id of the recorded AI turn.")
    message = serializers.IntegerField(allow_null=True, help_text="Id of the AI message, null for a silent turn.")
    escalated = serializers.BooleanField()
    reason = serializers.ChoiceField(choices=[reason.value for reason in Reason], allow_null=True)
    suppressed_by = serializers.ChoiceField(choices=[rule.value for rule in SuppressedBy], allow_null=True)
    signals = serializers.ListField(child=serializers.ChoiceField(choices=[signal.value for signal in Signal]))
    ticket = TicketSerializer(allow_null=True)


class PreviewInputSerializer(StrictSerializer):
    settings = serializers.DictField(
        help_text="Any escalation settings fields (as for PATCH escalation-settings); the rest are the live values."
    )
    days = WholeNumberField(min_value=1, max_value=365, required=False, default=30)


class PreviewSerializer(serializers.Serializer[Any]):
    days = serializers.IntegerField()
    turns_replayed = serializers.IntegerField()
    manual_replayed = serializers.IntegerField(help_text="Manual handoffs (the customer asked for a human) replayed.")
    newly_escalated = serializers.ListField(child=serializers.IntegerField(), help_text="Conversation ids.")
    no_longer_escalated = serializers.ListField(child=serializers.IntegerField(), help_text="Conversation ids.")
    newly_priority = serializers.ListField(child=serializers.IntegerField(), help_text="Ticket ids.")
    by_reason = serializers.DictField(child=serializers.IntegerField(), help_text="Escalations under the draft.")
    by_reason_live = serializers.DictField(child=serializers.IntegerField(), help_text="Under the live settings.")
    held_back_by = serializers.DictField(child=serializers.IntegerField())
    held_back_by_live = serializers.DictField(child=serializers.IntegerField())
    tickets_delta = serializers.IntegerField(
        help_text="Handoffs (tickets opened or merged into) more, negative: fewer, than under the live settings."
    )


class ShadowSerializer(serializers.Serializer[Any]):
    settings = serializers.DictField(help_text="Every setting of the shadow.")
    version = serializers.IntegerField()
    since = serializers.DateTimeField()
    turns = serializers.IntegerField(help_text="Live turns judged under this shadow version.")
    agreement_rate = serializers.FloatField(allow_null=True)
    would_open = serializers.ListField(child=serializers.IntegerField(), help_text="Conversation ids.")
    would_avoid = serializers.ListField(child=serializers.IntegerField(), help_text="Ticket ids.")


class SuggestionEffectSerializer(serializers.Serializer[Any]):
    tickets_delta = serializers.IntegerField()
    conversations = serializers.ListField(child=serializers.IntegerField())


class SuggestionSerializer(serializers.Serializer[Any]):
    field = serializers.CharField()
    value = serializers.IntegerField()
    current = serializers.IntegerField()
    effect = SuggestionEffectSerializer()
    evidence = serializers.ListField(child=serializers.IntegerField(), help_text="Ticket or conversation ids.")
    evidence_detail = serializers.ListField(
        child=serializers.DictField(),
        help_text=(
            "The evidence the value satisfies and the live settings do not: `{kind, id, type}`, `kind` one of "
            "`ai_could_have_answered`, `right_to_escalate`, `asked_for_human`, `reopened`, "
            "`held_back_then_reopened`; `type` `ticket` or `conversation`."
        ),
    )
    evidence_against = serializers.ListField(
        child=serializers.DictField(),
        help_text="The evidence the live settings satisfy and the value does not (same shape).",
    )


class ArticleRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField()


class KnowledgeGapSerializer(serializers.Serializer[Any]):
    id = serializers.CharField(help_text="The topic's stable id: its search terms.")
    topic = serializers.CharField()
    count = serializers.IntegerField()
    last_seen_at = serializers.DateTimeField()
    examples = serializers.ListField(child=serializers.CharField())
    articles_tried = serializers.ListField(child=serializers.DictField())
    article = ArticleRefSerializer(allow_null=True)
    answered_now = serializers.FloatField(allow_null=True)


class KnowledgeGapPatchSerializer(StrictSerializer):
    article = WholeNumberField(min_value=1, allow_null=True, help_text="A knowledge article's id; null unlinks.")
