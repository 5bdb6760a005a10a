"""Input and output shapes of the widget API. Shapes only: the flow lives in ``escalation.flow``."""

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from agents.api.serializers import MessageSerializer
from agents.models import Conversation
from agents.services import MAX_MESSAGE_CHARS
from halo.api.serializers import StrictSerializer, TextField, WholeNumberField
from inbox.models import Ticket


class WidgetUserSerializer(StrictSerializer):
    user_id = TextField(max_length=255, required=False, help_text="Your id for a signed-in user.")
    user_hash = TextField(
        max_length=128, required=False, help_text="Hex HMAC-SHA256 of `user_id` under the identity secret."
    )
    user_jwt = TextField(
        max_length=8192,
        required=False,
        help_text="An HS256 JWT under the identity secret with `user_id` and optionally `email`, `name`, `traits`: "
        "the only way for the widget to set an identified user's email, name or traits.",
    )
    email = serializers.EmailField(
        max_length=254, required=False, allow_blank=True, help_text="Ignored: send it inside `user_jwt`."
    )
    name = TextField(max_length=255, required=False, allow_blank=True, help_text="Ignored: send it inside `user_jwt`.")
    traits = serializers.DictField(required=False, help_text="Ignored: send them inside `user_jwt`.")
    visitor_id = TextField(
        validators=[RegexValidator(r"^[A-Za-z0-9_-]{8,64}$", "8 to 64 letters, digits, - or _.")],
        required=False,
        help_text="The widget's random id for an anonymous visitor (kept in the browser), 8-64 of [A-Za-z0-9_-].",
    )


class ExpectedReplySerializer(serializers.Serializer[Any]):
    open_now = serializers.BooleanField(help_text="Whether the team is within its business hours now.")
    text = serializers.CharField(
        help_text='For the widget\'s header: "Our team typically replies in about 20 minutes", "We\'re back '
        'Monday at 09:00".'
    )
    next_open_at = serializers.DateTimeField(allow_null=True, help_text="When the team is back (null while open).")


class WidgetConfigSerializer(serializers.Serializer[Any]):
    app_id = serializers.CharField()
    name = serializers.CharField(help_text="The agent's name.")
    greeting = serializers.CharField()
    human_handoff_available = serializers.BooleanField()
    expected_reply = ExpectedReplySerializer()


class WidgetStartSerializer(StrictSerializer):
    app_id = TextField(max_length=32)
    agent = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="The id of one of the workspace's agents (default: its first); the conversation keeps it.",
    )
    user = WidgetUserSerializer(required=False)
    body = TextField(help_text=f"The first message (at most {MAX_MESSAGE_CHARS} characters).")


class WidgetMessageInputSerializer(StrictSerializer):
    body = TextField(help_text=f"At most {MAX_MESSAGE_CHARS} characters.")


class TicketRefSerializer(serializers.ModelSerializer[Ticket]):
    """The ticket that owns a conversation, as the widget sees it. Rendered without building the fields: a
    ``ModelSerializer`` introspects its model for every instance it renders; the fields here describe the
    shape for the schema, and ``created_at`` is rendered by DRF's own field."""

    class Meta:
        model = Ticket
        fields = ["id", "status", "created_at"]
        read_only_fields = fields

    def to_representation(self, instance: Ticket) -> dict[str, Any]:
        return {
            "id": instance.pk,
            "status": instance.status,
            "created_at": _TICKET_CREATED_AT.to_representation(instance.created_at),
        }


# Stateless when rendering (no parent, no context): one instance serves every request.
_TICKET_CREATED_AT = serializers.DateTimeField()


class WidgetConversationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    token = serializers.CharField(help_text="Authorises this conversation only. Shown once: keep it.")
    visitor_id = serializers.CharField(allow_null=True, help_text="For an anonymous visitor: keep and send back.")
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    messages = MessageSerializer(many=True)
    ticket = TicketRefSerializer(allow_null=True)


class RatingRequestSerializer(serializers.Serializer[Any]):
    ticket_id = serializers.IntegerField(help_text="The closed ticket the customer may rate.")


class WidgetMessagesSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    messages = MessageSerializer(many=True)
    ticket = TicketRefSerializer(allow_null=True)


class WidgetCatchUpSerializer(WidgetMessagesSerializer):
    rating_request = RatingRequestSerializer(
        allow_null=True,
        help_text="Set while the conversation's latest ticket is closed and not rated yet: ask for a rating.",
    )


class WidgetSeenSerializer(StrictSerializer):
    message_id = WholeNumberField(
        min_value=1, max_value=2**63 - 1, help_text="The newest message of this conversation shown to the customer."
    )


class WidgetSeenResultSerializer(serializers.Serializer[Any]):
    seen_message_id = serializers.IntegerField(help_text="The conversation's seen mark (it only moves forward).")


class WidgetRatingSerializer(StrictSerializer):
    score = WholeNumberField(min_value=1, max_value=5, help_text="1 (very bad) to 5 (very good).")
    comment = TextField(max_length=2000, required=False, allow_blank=True, default="")


class WidgetRatingResultSerializer(serializers.Serializer[Any]):
    ticket_id = serializers.IntegerField()
    score = serializers.IntegerField()
    comment = serializers.CharField(allow_blank=True)
    rated_at = serializers.DateTimeField()


class HandoffSerializer(serializers.Serializer[Any]):
    """The widget's answer to "Talk to a human": the conversation's status and its ticket."""

    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    created = serializers.BooleanField(help_text="False when the contact's open ticket was reused.")
    ticket = TicketRefSerializer()
    messages = MessageSerializer(many=True, help_text="The handoff message, if one was posted.")


class WidgetPageViewSerializer(StrictSerializer):
    """The host page the widget was loaded on."""

    app_id = TextField(max_length=32)
    user = WidgetUserSerializer(required=False)
    url = TextField(max_length=2048, help_text="The page's path and query, e.g. /pricing?plan=pro.")


class WidgetPageViewResultSerializer(serializers.Serializer[Any]):
    recorded = serializers.BooleanField(
        help_text="False for an anonymous visitor Halo does not know yet (nothing is stored for them)."
    )
