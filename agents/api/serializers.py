"""Input and output shapes of the agents APIs (server and widget), SPEC §6 field names. Shapes only: the
writes and their rules live in ``agents.services``. Inputs refuse unknown keys (``StrictSerializer``).
"""

from typing import Any

from django.core.validators import RegexValidator, URLValidator
from rest_framework import serializers

from agents.models import Agent, AgentTurn, Conversation, KnowledgeArticle, Message
from agents.services import MAX_MESSAGE_CHARS
from halo.api.serializers import StrictSerializer

# --- Field helpers ----------------------------------------------------------------------------------


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false`` only (DRF's own field also takes 0/1 and "yes"/"no")."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictCharField(serializers.CharField):
    """A JSON string only (DRF's own field also turns numbers into text)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


def _validate_optional_url(value: str) -> None:
    if value:
        URLValidator()(value)


def optional_url(*, max_length: int, **kwargs: Any) -> serializers.CharField:
    """An http(s) URL, or "" for none (documented as a plain string: "" is not a URI)."""
    return serializers.CharField(max_length=max_length, allow_blank=True, validators=[_validate_optional_url], **kwargs)


# --- Shared output shapes ----------------------------------------------------------------------------


class SourceSerializer(serializers.Serializer[Any]):
    title = serializers.CharField()
    url = serializers.CharField(allow_blank=True)


class MessageSerializer(serializers.ModelSerializer[Message]):
    """A message as the widget and the server API show it (``agents.events.message_payload`` matches it)."""

    sources = SourceSerializer(many=True, read_only=True, help_text="For AI answers: the articles it came from.")

    class Meta:
        model = Message
        fields = ["id", "author", "body", "created_at", "sources"]
        read_only_fields = fields


# --- Server API: agents -----------------------------------------------------------------------------


class AgentSerializer(serializers.ModelSerializer[Agent]):
    openai_base_url = serializers.CharField(read_only=True, help_text="A URL, or empty.")
    web_search_url = serializers.CharField(read_only=True, help_text="A URL, or empty.")
    openai_api_key_set = serializers.SerializerMethodField(help_text="Whether an API key is stored (write-only).")

    class Meta:
        model = Agent
        fields = [
            "id",
            "name",
            "greeting",
            "knowledge_search_enabled",
            "web_search_enabled",
            "responder",
            "openai_base_url",
            "openai_model",
            "openai_api_key_set",
            "web_search_provider",
            "web_search_url",
            "human_only_topics",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_openai_api_key_set(self, agent: Agent) -> bool:
        return bool(agent.openai_api_key)


class AgentPatchSerializer(StrictSerializer):
    name = StrictCharField(max_length=100, required=False)
    greeting = StrictCharField(max_length=500, required=False)
    knowledge_search_enabled = StrictBooleanField(required=False)
    web_search_enabled = StrictBooleanField(required=False)
    responder = serializers.ChoiceField(choices=Agent.Responder.choices, required=False)
    openai_base_url = optional_url(max_length=500, required=False)
    openai_model = StrictCharField(max_length=100, required=False, allow_blank=True)
    openai_api_key = StrictCharField(
        max_length=500, required=False, allow_blank=True, write_only=True, help_text="Write-only."
    )
    web_search_provider = serializers.ChoiceField(choices=Agent.WebSearchProvider.choices, required=False)
    web_search_url = optional_url(max_length=500, required=False)
    human_only_topics = serializers.ListField(child=StrictCharField(max_length=200), max_length=100, required=False)


# --- Server API: knowledge articles -----------------------------------------------------------------


class KnowledgeArticleSerializer(serializers.ModelSerializer[KnowledgeArticle]):
    url = serializers.CharField(read_only=True, help_text="The article's public URL, or empty.")

    class Meta:
        model = KnowledgeArticle
        fields = ["id", "title", "body", "url", "published", "created_at", "updated_at"]
        read_only_fields = fields


class KnowledgeArticleInputSerializer(StrictSerializer):
    title = StrictCharField(max_length=300)
    body = StrictCharField(max_length=100_000)
    url = optional_url(max_length=1000, required=False, default="", help_text="The article's public URL, or empty.")
    published = StrictBooleanField(required=False, default=True)


class KnowledgeArticlePageSerializer(serializers.Serializer[Any]):
    results = KnowledgeArticleSerializer(many=True)
    next_after = serializers.IntegerField(allow_null=True, help_text="Pass as `after` for the next page.")


# --- Server API: conversations ----------------------------------------------------------------------


class AgentTurnSerializer(serializers.ModelSerializer[AgentTurn]):
    message_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = AgentTurn
        fields = [
            "id",
            "message_id",
            "confidence",
            "tools",
            "knowledge_sources",
            "escalate_reason",
            "latency_ms",
            "created_at",
            "signals",
            "escalated",
            "reason",
            "suppressed_by",
            "decided_at",
        ]
        read_only_fields = fields


class ConversationContactSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    user_id = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)


class ConversationDetailSerializer(serializers.ModelSerializer[Conversation]):
    contact = ConversationContactSerializer(read_only=True)
    agent_id = serializers.IntegerField(read_only=True)
    messages = MessageSerializer(many=True, read_only=True)
    turns = AgentTurnSerializer(many=True, read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "status", "contact", "agent_id", "created_at", "updated_at", "messages", "turns"]
        read_only_fields = fields


# --- Widget API -------------------------------------------------------------------------------------


class WidgetUserSerializer(StrictSerializer):
    user_id = StrictCharField(max_length=255, required=False, help_text="Your id for a signed-in user.")
    user_hash = StrictCharField(
        max_length=128, required=False, help_text="Hex HMAC-SHA256 of `user_id` under the identity secret."
    )
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    name = StrictCharField(max_length=255, required=False, allow_blank=True)
    visitor_id = StrictCharField(
        validators=[RegexValidator(r"^[A-Za-z0-9_-]{8,64}$", "8 to 64 letters, digits, - or _.")],
        required=False,
        help_text="The widget's random id for an anonymous visitor (kept in the browser), 8-64 of [A-Za-z0-9_-].",
    )


class WidgetConfigSerializer(serializers.Serializer[Any]):
    app_id = serializers.CharField()
    name = serializers.CharField(help_text="The agent's name.")
    greeting = serializers.CharField()
    human_handoff_available = serializers.BooleanField()


class WidgetStartSerializer(StrictSerializer):
    app_id = StrictCharField(max_length=32)
    agent = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="The id of one of the workspace's agents (default: its first); the conversation keeps it.",
    )
    user = WidgetUserSerializer(required=False)
    body = StrictCharField(help_text=f"The first message (at most {MAX_MESSAGE_CHARS} characters).")


class WidgetMessageInputSerializer(StrictSerializer):
    body = StrictCharField(help_text=f"At most {MAX_MESSAGE_CHARS} characters.")


class TicketRefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    status = serializers.CharField()


class WidgetConversationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    token = serializers.CharField(help_text="Authorises this conversation only. Shown once: keep it.")
    visitor_id = serializers.CharField(allow_null=True, help_text="For an anonymous visitor: keep and send back.")
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    messages = MessageSerializer(many=True)
    ticket = TicketRefSerializer(allow_null=True)


class WidgetMessagesSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    messages = MessageSerializer(many=True)
    ticket = TicketRefSerializer(allow_null=True)
