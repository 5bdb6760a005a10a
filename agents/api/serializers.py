"""Input and output shapes of the agents' server API. Shapes only: the writes and their rules live in
``agents.services``. Inputs refuse unknown keys (``StrictSerializer``).
"""

from typing import Any

from django.core.validators import URLValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.events import message_payload
from agents.models import Agent, AgentTurn, Conversation, KnowledgeArticle, Message
from halo.api.serializers import ContactSummarySerializer, StrictBooleanField, StrictSerializer, TextField

# --- Field helpers ----------------------------------------------------------------------------------


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
    """A message as the widget, the server API and the sockets show it: rendered by
    ``agents.events.message_payload``, the one shape; the fields here describe it for the schema."""

    sources = SourceSerializer(many=True, read_only=True, help_text="For AI answers: the articles it came from.")
    author_name = serializers.CharField(
        read_only=True, allow_null=True, help_text="A teammate's first name as the customer sees it; null otherwise."
    )

    class Meta:
        model = Message
        fields = ["id", "author", "author_name", "body", "created_at", "sources"]
        read_only_fields = fields

    def to_representation(self, instance: Message) -> dict[str, Any]:
        return message_payload(instance)


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
    name = TextField(max_length=100, required=False)
    greeting = TextField(max_length=500, required=False)
    knowledge_search_enabled = StrictBooleanField(required=False)
    web_search_enabled = StrictBooleanField(required=False)
    responder = serializers.ChoiceField(choices=Agent.Responder.choices, required=False)
    openai_base_url = optional_url(max_length=500, required=False)
    openai_model = TextField(max_length=100, required=False, allow_blank=True)
    openai_api_key = TextField(
        max_length=500, required=False, allow_blank=True, write_only=True, help_text="Write-only."
    )
    web_search_provider = serializers.ChoiceField(choices=Agent.WebSearchProvider.choices, required=False)
    web_search_url = optional_url(max_length=500, required=False)
    human_only_topics = serializers.ListField(child=TextField(max_length=200), max_length=100, required=False)


# --- Server API: knowledge articles -----------------------------------------------------------------


class KnowledgeArticleSerializer(serializers.ModelSerializer[KnowledgeArticle]):
    url = serializers.CharField(read_only=True, help_text="The article's public URL, or empty.")

    class Meta:
        model = KnowledgeArticle
        fields = ["id", "title", "body", "url", "published", "created_at", "updated_at"]
        read_only_fields = fields


class KnowledgeArticleInputSerializer(StrictSerializer):
    title = TextField(max_length=300)
    body = TextField(max_length=100_000)
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
            "reply",
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


class ConversationDetailSerializer(serializers.ModelSerializer[Conversation]):
    contact = ContactSummarySerializer(read_only=True)
    agent_id = serializers.IntegerField(read_only=True)
    messages = MessageSerializer(many=True, read_only=True)
    turns = AgentTurnSerializer(many=True, read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "status", "contact", "agent_id", "created_at", "updated_at", "messages", "turns"]
        read_only_fields = fields


class ConversationSummarySerializer(serializers.ModelSerializer[Conversation]):
    """A conversation in the feed: its state and its latest message (what a bot catching up looks at)."""

    contact = ContactSummarySerializer(read_only=True)
    agent_id = serializers.IntegerField(read_only=True)
    last_message = serializers.SerializerMethodField(help_text="The newest message, or null.")

    class Meta:
        model = Conversation
        fields = ["id", "status", "contact", "agent_id", "created_at", "updated_at", "last_message"]
        read_only_fields = fields

    @extend_schema_field(MessageSerializer(allow_null=True))
    def get_last_message(self, conversation: Conversation) -> dict[str, Any] | None:
        message: Message | None = getattr(conversation, "last_message", None)
        return message_payload(message) if message is not None else None
