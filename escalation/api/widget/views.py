"""The widget API's views: each parses its input, calls one function of ``escalation.flow`` (or a
selector) and renders the result."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from agents.api.serializers import MessageSerializer
from agents.selectors import messages_after
from agents.services import MAX_MESSAGE_CHARS, conversation_seen
from escalation.api.widget.cors import WidgetView
from escalation.api.widget.identity import widget_identity
from escalation.api.widget.params import new_visitor_id
from escalation.api.widget.serializers import (
    ExpectedReplySerializer,
    HandoffSerializer,
    TicketRefSerializer,
    WidgetCatchUpSerializer,
    WidgetConfigSerializer,
    WidgetConversationSerializer,
    WidgetMessageInputSerializer,
    WidgetMessagesSerializer,
    WidgetPageViewResultSerializer,
    WidgetPageViewSerializer,
    WidgetRatingResultSerializer,
    WidgetRatingSerializer,
    WidgetSeenResultSerializer,
    WidgetSeenSerializer,
    WidgetStartSerializer,
)
from escalation.error_codes import WidgetErrorCode
from escalation.flow import PostResult, conversation_start, handoff_request, message_receive
from escalation.selectors import agent_escalation_settings, expected_reply_get, handoff_available
from escalation.services import HandoffUnavailable
from halo import clock
from halo.api.errors import ApiError
from halo.api.schema import error_responses
from halo.identity import ContactIdentity
from halo.models import Contact
from halo.params import after_id_param
from halo.selectors import contact_of_identity
from halo.services import contact_of_identity_resolve, page_view_record
from inbox.models import Ticket
from inbox.selectors import ticket_open_of_conversation, ticket_rated_of_conversation
from inbox.services import TicketNotRatable, ticket_rate

APP_ID = OpenApiParameter("app_id", str, OpenApiParameter.QUERY, required=True, description="The workspace's app_id.")
APP_ID_FOR_CORS = OpenApiParameter("app_id", str, OpenApiParameter.QUERY, required=False, description="For CORS.")
AGENT_ID = OpenApiParameter(
    "agent",
    int,
    OpenApiParameter.QUERY,
    required=False,
    description="The id of one of the workspace's agents (default: its first). Unknown: 404 `unknown_agent`.",
)
CONVERSATION_ID = OpenApiParameter("conversation_id", int, OpenApiParameter.PATH)
VISITOR_TIMEZONE = OpenApiParameter(
    "timezone",
    str,
    OpenApiParameter.QUERY,
    required=False,
    description="The visitor's IANA time zone (e.g. America/New_York): when the team is back is said on their "
    "clock. Unknown or absent: the workspace's.",
)


def _visitor_timezone(request: Request) -> str | None:
    return request.query_params.get("timezone") or None


def _check_body_length(data: Any) -> None:
    """A message that is too long gets its own code (the widget tells the user the limit)."""
    body = data.get("body") if isinstance(data, dict) else None
    if isinstance(body, str) and len(body) > MAX_MESSAGE_CHARS:
        raise ApiError(
            WidgetErrorCode.MESSAGE_TOO_LONG,
            f"A message is at most {MAX_MESSAGE_CHARS} characters.",
            status=400,
            max_length=MAX_MESSAGE_CHARS,
        )


def _ticket(ticket: Ticket | None) -> dict[str, Any] | None:
    return TicketRefSerializer(ticket).data if ticket is not None else None


def _messages_payload(result: PostResult) -> dict[str, Any]:
    return {
        "status": result.conversation.status,
        "messages": MessageSerializer(result.messages, many=True).data,
        "ticket": _ticket(result.ticket),
    }


class WidgetConfigView(WidgetView):
    @extend_schema(
        operation_id="widget_config",
        summary="Widget configuration",
        description=(
            "The agent's name and greeting, whether the 'Talk to a human' button is shown, and when a reply can "
            "be expected (`expected_reply`: during business hours the team's median first-reply time over the "
            "last 7 days, else when it is back, on the visitor's clock). `agent` picks one of the workspace's "
            "agents (default: its first); 404 `unknown_agent` if it is not one of them."
        ),
        parameters=[
            APP_ID,
            AGENT_ID,
            VISITOR_TIMEZONE,
            OpenApiParameter("user_id", str, OpenApiParameter.QUERY, required=False),
            OpenApiParameter("user_hash", str, OpenApiParameter.QUERY, required=False),
            OpenApiParameter("visitor_id", str, OpenApiParameter.QUERY, required=False),
        ],
        responses={200: WidgetConfigSerializer, **error_responses(401, 404, 429)},
        auth=[],
        tags=["widget"],
    )
    def get(self, request: Request) -> Response:
        workspace = self.workspace_for_app(request.query_params.get("app_id"))
        agent = self.agent_for_embed(workspace, request.query_params.get("agent"))
        identity = widget_identity(workspace=workspace, data=dict(request.query_params.items()))
        contact = contact_of_identity(workspace=workspace, identity=identity)
        now = clock.now()
        expected = expected_reply_get(
            workspace=workspace,
            escalation_settings=agent_escalation_settings(agent=agent),
            now=now,
            visitor_timezone=_visitor_timezone(request),
        )
        return Response(
            {
                "app_id": workspace.app_id,
                "name": agent.name,
                "greeting": agent.greeting,
                "human_handoff_available": handoff_available(agent=agent, contact=contact, now=now),
                "expected_reply": ExpectedReplySerializer(expected).data,
            }
        )


class WidgetConversationsView(WidgetView):
    @extend_schema(
        operation_id="widget_conversation_start",
        summary="Start a conversation",
        description=(
            "Sends the first message and returns every message it created (the user's, the AI's reply, and the "
            "handoff's system message if it handed off), the conversation's status and ticket, and the "
            "conversation token (shown once). Anonymous visitors get a `visitor_id` to send next time. `agent` "
            "picks one of the workspace's agents (default: its first), which keeps the conversation; 404 "
            "`unknown_agent` if it is not one of them."
        ),
        parameters=[VISITOR_TIMEZONE],
        request=WidgetStartSerializer,
        responses={201: WidgetConversationSerializer, **error_responses(400, 401, 404, 429)},
        auth=[],
        tags=["widget"],
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        # The workspace, the agent and its escalation settings in one read; when it finds nothing, the
        # lookups below say which is unknown, in the order the errors are checked.
        agent = self.agent_for_app(data.get("app_id"), data.get("agent"))
        workspace = agent.workspace if agent is not None else self.workspace_for_app(data.get("app_id"))
        _check_body_length(data)
        if agent is None:
            # Before the serializer: an agent id that is not an integer is as unknown as a wrong one (404).
            agent = self.agent_for_embed(workspace, data.get("agent"))
        serializer = WidgetStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        identity = widget_identity(workspace=workspace, data=serializer.validated_data.get("user") or {})
        if identity.user_id is None and identity.visitor_id is None:
            identity = ContactIdentity(visitor_id=new_visitor_id())
        result = conversation_start(
            workspace=workspace,
            agent=agent,
            identity=identity,
            body=serializer.validated_data["body"],
            visitor_timezone=_visitor_timezone(request),
        )
        payload = {
            "id": result.conversation.pk,
            "token": result.token,
            "visitor_id": result.conversation.contact.visitor_id,
            **_messages_payload(result),
        }
        return Response(payload, status=status.HTTP_201_CREATED)


class WidgetMessagesView(WidgetView):
    @extend_schema(
        operation_id="widget_messages_list",
        summary="Messages after an id",
        description="The conversation's messages with an id above `after` (catch-up after a reconnect).",
        parameters=[
            CONVERSATION_ID,
            OpenApiParameter("after", int, OpenApiParameter.QUERY, required=False, description="A message id."),
            APP_ID_FOR_CORS,
        ],
        responses={200: WidgetCatchUpSerializer, **error_responses(400, 401, 404, 429)},
        tags=["widget"],
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = self.conversation_for_token(request, conversation_id)
        after_id = after_id_param(request.query_params.get("after"))
        open_ticket = ticket_open_of_conversation(conversation=conversation)
        closed = None if open_ticket is not None else ticket_rated_of_conversation(conversation=conversation)
        to_rate = closed if closed is not None and closed.rating_score is None else None
        return Response(
            {
                "status": conversation.status,
                "messages": MessageSerializer(
                    messages_after(conversation=conversation, after_id=after_id), many=True
                ).data,
                "ticket": _ticket(open_ticket),
                "rating_request": {"ticket_id": to_rate.pk} if to_rate is not None else None,
            }
        )

    @extend_schema(
        operation_id="widget_message_post",
        summary="Send a message",
        description="Stores the user's message and returns every message it created, in id order (the user's, "
        "the AI's reply unless a human owns the conversation, and the handoff's system message if it handed off), "
        "the conversation's status and its ticket.",
        parameters=[CONVERSATION_ID, APP_ID_FOR_CORS, VISITOR_TIMEZONE],
        request=WidgetMessageInputSerializer,
        responses={201: WidgetMessagesSerializer, **error_responses(400, 401, 404, 429)},
        tags=["widget"],
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = self.conversation_for_token(request, conversation_id)
        _check_body_length(request.data)
        serializer = WidgetMessageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = message_receive(
            conversation=conversation,
            body=serializer.validated_data["body"],
            visitor_timezone=_visitor_timezone(request),
        )
        return Response(_messages_payload(result), status=status.HTTP_201_CREATED)


class WidgetHandoffView(WidgetView):
    @extend_schema(
        operation_id="widget_handoff",
        summary="Talk to a human",
        description=(
            "Hands the conversation to the team in every escalation mode (reason `manual`). 403 "
            "`handoff_unavailable` when the contact is outside the agent's escalation filter (the escalation "
            "filter is enforced here, on the server, whatever the widget shows). Asking again returns the same "
            "ticket."
        ),
        parameters=[CONVERSATION_ID, APP_ID_FOR_CORS, VISITOR_TIMEZONE],
        request=None,
        responses={201: HandoffSerializer, **error_responses(401, 403, 404, 429)},
        tags=["widget"],
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = self.conversation_for_token(request, conversation_id)
        try:
            handoff = handoff_request(conversation=conversation, visitor_timezone=_visitor_timezone(request))
        except HandoffUnavailable:
            raise ApiError(
                WidgetErrorCode.HANDOFF_UNAVAILABLE,
                "Talking to a human isn't available here. Our assistant is happy to keep helping.",
                status=403,
            ) from None
        return Response(
            {
                "status": conversation.status,
                "created": handoff.created,
                "ticket": _ticket(handoff.ticket),
                "messages": MessageSerializer([handoff.message] if handoff.message else [], many=True).data,
            },
            status=status.HTTP_201_CREATED,
        )


class WidgetPageViewsView(WidgetView):
    @extend_schema(
        operation_id="widget_page_view",
        summary="Record the host page",
        description=(
            'The widget reports the page it is shown on (unless the embed says `data-track-pages="false"`), '
            "so segment rules on `activity.pages_visited` and `activity.last_active` work without the server "
            "API. Recorded for an identified user (verified `user_hash`; the contact is created on first sight) "
            "and for an anonymous visitor Halo already knows (one who chatted); other visitors are not stored "
            "(`recorded: false`)."
        ),
        request=WidgetPageViewSerializer,
        responses={201: WidgetPageViewResultSerializer, **error_responses(400, 401, 404, 429)},
        auth=[],
        tags=["widget"],
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        workspace = self.workspace_for_app(data.get("app_id"))
        serializer = WidgetPageViewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        identity = widget_identity(workspace=workspace, data=serializer.validated_data.get("user") or {})
        contact: Contact | None = (
            contact_of_identity_resolve(workspace=workspace, identity=identity)
            if identity.user_id is not None
            else contact_of_identity(workspace=workspace, identity=identity)
        )
        if contact is None:
            return Response({"recorded": False}, status=status.HTTP_201_CREATED)
        page_view_record(contact=contact, url=serializer.validated_data["url"][:2048])
        return Response({"recorded": True}, status=status.HTTP_201_CREATED)


class WidgetSeenView(WidgetView):
    @extend_schema(
        operation_id="widget_seen",
        summary="Report what the customer has seen",
        description=(
            "The widget showed the customer the conversation up to `message_id` (panel open, page visible). A "
            "teammate reply at or below the mark is not emailed. The mark only moves forward; a message of "
            "another conversation is a 400 field error. The widget's socket takes the same receipt as a frame, "
            '`{"type": "seen", "message_id": N}`.'
        ),
        parameters=[CONVERSATION_ID, APP_ID_FOR_CORS],
        request=WidgetSeenSerializer,
        responses={200: WidgetSeenResultSerializer, **error_responses(400, 401, 404, 429)},
        tags=["widget"],
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = self.conversation_for_token(request, conversation_id)
        serializer = WidgetSeenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        seen = conversation_seen(conversation=conversation, message_id=serializer.validated_data["message_id"])
        return Response({"seen_message_id": seen})


class WidgetRatingView(WidgetView):
    @extend_schema(
        operation_id="widget_rating",
        summary="Rate the closed ticket",
        description=(
            "The customer's 1-5 rating, with an optional comment (at most 2,000 characters), of the latest "
            "closed ticket holding this conversation: once per ticket. 409 `already_rated` after the first; "
            "409 `nothing_to_rate` while no closed ticket holds the conversation (or another one holds it "
            "open). A score outside 1-5 is a 400 field error."
        ),
        parameters=[CONVERSATION_ID, APP_ID_FOR_CORS],
        request=WidgetRatingSerializer,
        responses={201: WidgetRatingResultSerializer, **error_responses(400, 401, 404, 409, 429)},
        tags=["widget"],
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = self.conversation_for_token(request, conversation_id)
        serializer = WidgetRatingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = None
        if ticket_open_of_conversation(conversation=conversation) is None:
            ticket = ticket_rated_of_conversation(conversation=conversation)
        if ticket is None:
            raise ApiError(
                WidgetErrorCode.NOTHING_TO_RATE, "There is no closed conversation with our team to rate.", status=409
            )
        try:
            ticket = ticket_rate(
                ticket=ticket,
                score=serializer.validated_data["score"],
                comment=serializer.validated_data.get("comment", ""),
            )
        except TicketNotRatable:
            raise ApiError(
                WidgetErrorCode.ALREADY_RATED, "You have rated this conversation already.", status=409
            ) from None
        return Response(
            {
                "ticket_id": ticket.pk,
                "score": ticket.rating_score,
                "comment": ticket.rating_comment,
                "rated_at": ticket.rated_at,
            },
            status=status.HTTP_201_CREATED,
        )
