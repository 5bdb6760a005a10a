"""Input and output shapes of the tickets API (the public field names); the rules live in ``inbox.services``."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from halo import clock
from halo.api.serializers import ContactSummarySerializer, StrictSerializer
from inbox.models import Ticket
from inbox.sla import sla_breached


class TicketKnowledgeSourceSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True, allow_blank=True)
    score = serializers.FloatField(allow_null=True)


class TicketRatingSerializer(serializers.Serializer[Any]):
    score = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(allow_blank=True)
    rated_at = serializers.DateTimeField()


class TicketSerializer(serializers.ModelSerializer[Ticket]):
    contact = ContactSummarySerializer(read_only=True)
    assignee = serializers.IntegerField(source="assignee_id", allow_null=True, help_text="User id, or null.")
    inbox = serializers.IntegerField(source="inbox_id", allow_null=True, help_text="Custom inbox id, or null.")
    summary = serializers.SerializerMethodField(help_text="The AI summary; null while it is pending.")
    conversations = serializers.SerializerMethodField(help_text="Ids of the attached conversations.")
    knowledge_sources = TicketKnowledgeSourceSerializer(many=True, read_only=True)
    tools_tried = serializers.ListField(child=serializers.DictField(), read_only=True)
    sla_breached = serializers.SerializerMethodField(
        help_text="Whether the first reply missed its due time: sent late, or still not sent and overdue."
    )
    rating = serializers.SerializerMethodField(help_text="The customer's rating after the ticket closed, or null.")

    class Meta:
        model = Ticket
        fields = [
            "id",
            "status",
            "contact",
            "assignee",
            "inbox",
            "reason",
            "confidence",
            "summary",
            "summary_state",
            "conversations",
            "escalation_count",
            "knowledge_sources",
            "tools_tried",
            "settings_version",
            "created_at",
            "updated_at",
            "closed_at",
            "snoozed_until",
            "first_reply_due_at",
            "first_replied_at",
            "sla_breached",
            "rating",
        ]
        read_only_fields = fields

    def get_summary(self, ticket: Ticket) -> str | None:
        return ticket.summary if ticket.summary_state == Ticket.SummaryState.READY else None

    def get_sla_breached(self, ticket: Ticket) -> bool:
        return sla_breached(ticket, now=clock.now())

    @extend_schema_field(TicketRatingSerializer(allow_null=True))
    def get_rating(self, ticket: Ticket) -> dict[str, Any] | None:
        if ticket.rating_score is None:
            return None
        return {"score": ticket.rating_score, "comment": ticket.rating_comment, "rated_at": ticket.rated_at}

    def get_conversations(self, ticket: Ticket) -> list[int]:
        return sorted(conversation.pk for conversation in ticket.conversations.all())


class TicketPatchSerializer(StrictSerializer):
    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
    assignee = serializers.IntegerField(allow_null=True, required=False, min_value=1, help_text="A member's user id.")
    inbox = serializers.IntegerField(allow_null=True, required=False, min_value=1, help_text="A custom inbox id.")
    snoozed_until = serializers.DateTimeField(
        allow_null=True,
        required=False,
        help_text="With status `snoozed`: when the ticket comes back to open (null: when the customer writes).",
    )
