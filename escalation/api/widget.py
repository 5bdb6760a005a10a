"""Widget API of escalation: ``POST conversations/{id}/handoff`` ("Talk to a human").

It reuses the widget's own view base (``agents.api.widget.WidgetView``: conversation-token
authentication, CORS for the workspace's allowed origins, the ``widget`` rate limit). The escalation
filter is enforced here, on the server: a contact outside it gets 403 ``handoff_unavailable``, whatever the
widget shows.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from agents.api.serializers import MessageSerializer
from agents.api.widget import WidgetView
from agents.models import Message
from escalation.api.serializers import HandoffSerializer
from escalation.services import HandoffUnavailable, conversation_ticket, handoff_request
from halo.api.errors import ApiError
from halo.api.schema import error_responses


class WidgetHandoffView(WidgetView):
    @extend_schema(
        operation_id="widget_handoff",
        summary="Talk to a human",
        description=(
            "Hands the conversation to the team in every escalation mode (reason `manual`). 403 "
            "`handoff_unavailable` when the contact is outside the agent's escalation filter. Asking again "
            "returns the same ticket."
        ),
        parameters=[OpenApiParameter("conversation_id", int, OpenApiParameter.PATH)],
        request=None,
        responses={201: HandoffSerializer, **error_responses(401, 403, 404, 429)},
        tags=["widget"],
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = self.conversation_for_token(request, conversation_id)
        last_id = Message.objects.filter(conversation=conversation).order_by("-id").values_list("id", flat=True)
        before = last_id.first() or 0
        try:
            handoff = handoff_request(conversation=conversation)
        except HandoffUnavailable:
            raise ApiError(
                "handoff_unavailable",
                "Talking to a human isn't available here. Our assistant is happy to keep helping.",
                status=403,
            ) from None
        messages = Message.objects.filter(conversation=conversation, pk__gt=before).order_by("id")
        return Response(
            {
                "status": conversation.status,
                "created": handoff.created,
                "ticket": conversation_ticket(conversation=conversation),
                "messages": MessageSerializer(messages, many=True).data,
            },
            status=status.HTTP_201_CREATED,
        )
