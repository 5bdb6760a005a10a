"""Input and output shapes of the agents APIs (server and widget), SPEC §6 field names. Shapes only: the
writes and their rules live in ``agents.services``. Inputs refuse unknown keys (``StrictSerializer``).
"""

from typing import Any

from rest_framework import serializers

from agents.models import Agent, AgentTurn, Conversation, KnowledgeArticle, Message
from agents.services import MAX_MESSAGE_CHARS
from halo.api.serializers import StrictSerializer

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
    name = serializers.CharField(max_length=100, required=False)
    greeting = serializers.CharField(max_length=500, required=False)
    knowledge_search_enabled = serializers.BooleanField(required=False)
    web_search_enabled = serializers.BooleanField(required=False)
    responder = serializers.ChoiceField(choices=Agent.Responder.choices, required=False)
    openai_base_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    openai_model = serializers.CharField(max_length=100, required=False, allow_blank=True)
    openai_api_key = serializers.CharField(
        max_length=500, required=False, allow_blank=True, write_only=True, help_text="Write-only."
    )
    web_search_provider = serializers.ChoiceField(choices=Agent.WebSearchProvider.choices, required=False)
    web_search_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    human_only_topics = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=100, required=False
    )


# --- Server API: knowledge articles -----------------------------------------------------------------


class KnowledgeArticleSerializer(serializers.ModelSerializer[KnowledgeArticle]):
    class Meta:
        model = KnowledgeArticle
        fields = ["id", "title", "body", "url", "published", "created_at", "updated_at"]
        read_only_fields = fields


class KnowledgeArticleInputSerializer(StrictSerializer):
    title = serializers.CharField(max_length=300)
    body = serializers.CharField(max_length=100_000)
    url = serializers.URLField(max_length=1000, required=False, allow_blank=True, default="")
    published = serializers.BooleanField(required=False, default=True)


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
    user_id = serializers.CharField(max_length=255, required=False, help_text="Your id for a signed-in user.")
    user_hash = serializers.CharField(
        max_length=128, required=False, help_text="Hex HMAC-SHA256 of `user_id` under the identity secret."
    )
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    visitor_id = serializers.RegexField(
        r"^[A-Za-z0-9_-]{8,64}$",
        required=False,
        help_text="The widget's random id for an anonymous visitor (kept in the browser).",
    )


class WidgetConfigSerializer(serializers.Serializer[Any]):
    app_id = serializers.CharField()
    name = serializers.CharField(help_text="The agent's name.")
    greeting = serializers.CharField()
    human_handoff_available = serializers.BooleanField()


class WidgetStartSerializer(StrictSerializer):
    app_id = serializers.CharField(max_length=32)
    user = WidgetUserSerializer(required=False)
    body = serializers.CharField(help_text=f"The first message (at most {MAX_MESSAGE_CHARS} characters).")


class WidgetMessageInputSerializer(StrictSerializer):
    body = serializers.CharField(help_text=f"At most {MAX_MESSAGE_CHARS} characters.")


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
