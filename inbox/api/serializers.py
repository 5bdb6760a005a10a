"""Input and output shapes of the tickets API (the public field names); the rules live in ``inbox.services``."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from halo import clock
from halo.api.serializers import ContactSummarySerializer, StrictBooleanField, StrictSerializer, WholeNumberField
from halo.models import Membership
from halo.services import MEMBERSHIP_CAPACITY_MAX
from inbox.models import CustomInbox, Ticket
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
    verdict = serializers.SerializerMethodField(
        help_text="A teammate's judgement of the escalation: `ai_could_have_answered`, `right_to_escalate`, or null."
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
            "verdict",
            "reopened_count",
            "held_back_turns",
            "rating",
        ]
        read_only_fields = fields

    def get_summary(self, ticket: Ticket) -> str | None:
        return ticket.summary if ticket.summary_state == Ticket.SummaryState.READY else None

    def get_sla_breached(self, ticket: Ticket) -> bool:
        return sla_breached(ticket, now=clock.now())

    def get_verdict(self, ticket: Ticket) -> str | None:
        return ticket.verdict or None

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
    verdict = serializers.ChoiceField(
        choices=Ticket.Verdict.choices,
        allow_null=True,
        required=False,
        help_text="Judge the escalation for tuning: `ai_could_have_answered`, `right_to_escalate`; null clears it.",
    )


class CustomInboxSerializer(serializers.ModelSerializer[CustomInbox]):
    members = serializers.SerializerMethodField(help_text="User ids of the inbox's teammates.")

    class Meta:
        model = CustomInbox
        fields = ["id", "name", "assignment", "members"]
        read_only_fields = fields

    def get_members(self, inbox: CustomInbox) -> list[int]:
        return [member.user_id for member in inbox.memberships.all()]


class CustomInboxPatchSerializer(StrictSerializer):
    members = serializers.ListField(
        child=WholeNumberField(min_value=1),
        required=False,
        max_length=500,
        help_text="User ids, each a member of the workspace; replaces the inbox's teammates.",
    )
    assignment = serializers.ChoiceField(
        choices=CustomInbox.Assignment.choices,
        required=False,
        help_text="`manual`: nobody is assigned automatically; `round_robin`: each available member in turn; "
        "`balanced`: the available member with the fewest tickets that are not closed.",
    )


class MemberSerializer(serializers.ModelSerializer[Membership]):
    user = serializers.IntegerField(source="user_id", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "email", "role", "available", "capacity"]
        read_only_fields = fields


class MemberPatchSerializer(StrictSerializer):
    available = StrictBooleanField(required=False, help_text="false: away, given no ticket automatically.")
    capacity = WholeNumberField(
        allow_null=True,
        required=False,
        min_value=0,
        max_value=MEMBERSHIP_CAPACITY_MAX,
        help_text="Most tickets that are not closed assigned automatically at once; null: no limit.",
    )
