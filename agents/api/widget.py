"""The widget API (``/api/widget/v1/``): public endpoints called by the chat widget from customers' sites.

Who may call what:

- ``config`` and ``POST conversations`` are public, identified by the workspace's ``app_id``. A signed-in
  user sends ``user_id`` + ``user_hash`` (hex HMAC-SHA256 of ``user_id`` under the workspace's identity
  secret); a wrong or missing hash is a 401 ``invalid_user_hash`` — an unverified visitor never becomes an
  identified contact. An anonymous visitor sends the random ``visitor_id`` the widget keeps (or gets one).
- ``config`` and ``POST conversations`` take an optional ``agent`` (an agent id of the workspace) so that
  one embed can talk to, say, "Sales" and another to "Support"; without it the workspace's first agent
  answers. A conversation keeps its agent. An id that is not one of this workspace's agents (another
  workspace's, unknown, not an integer) is a 404 ``unknown_agent``.
- Conversation endpoints need that conversation's token (``Authorization: Bearer <token>`` or
  ``?token=``), which authorises that conversation only; a missing token is a 401 ``token_required``, a
  token of another conversation reads as 404.

The widget's authentication (``WidgetTokenAuthentication``) never reads the session: a staff cookie in the
same browser must not turn these into CSRF-protected, session-authenticated calls. Requests are throttled
per client IP (scope ``widget``). CORS headers (incl. preflight ``OPTIONS``) are sent only to the
workspace's ``allowed_origins``; the workspace is known from ``?app_id=`` (the widget adds it to every
request, which is how a preflight without a body finds it) or from the conversation in the URL.
"""

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.cache import patch_vary_headers
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import authentication, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api.serializers import (
    MessageSerializer,
    WidgetConfigSerializer,
    WidgetConversationSerializer,
    WidgetMessageInputSerializer,
    WidgetMessagesSerializer,
    WidgetStartSerializer,
)
from agents.models import Agent, Conversation
from agents.selectors import agent_default, agent_get, conversation_for_widget, messages_after
from agents.services import (
    MAX_MESSAGE_CHARS,
    PostResult,
    WidgetUser,
    conversation_post_user_message,
    conversation_start,
    user_hash_valid,
    widget_contact_lookup,
    widget_contact_resolve,
)
from escalation.services import conversation_ticket, handoff_available
from halo.api.errors import ApiError
from halo.api.schema import error_responses
from halo.api.throttling import CacheRateThrottle
from halo.models import Workspace

CORS_MAX_AGE = "600"


class WidgetCaller:
    """A widget request that carried a conversation token (checked against a conversation by the view)."""

    is_authenticated = True

    def __init__(self, token: str) -> None:
        self.token = token


class WidgetTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[WidgetCaller, None] | None:
        header = authentication.get_authorization_header(request).split()
        token: str | None = None
        if header and header[0].lower() == b"bearer" and len(header) == 2:
            token = header[1].decode("latin-1")
        elif isinstance(request.query_params.get("token"), str):
            token = request.query_params["token"]
        return (WidgetCaller(token), None) if token else None

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class WidgetTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "agents.api.widget.WidgetTokenAuthentication"
    name = "conversationToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106
            bearer_format="conversation token",
        )


class WidgetRateThrottle(CacheRateThrottle):
    scope = "widget"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


_error_401_description = "`invalid_user_hash`, or `token_required` on a conversation endpoint."


class WidgetView(APIView):
    authentication_classes = [WidgetTokenAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [WidgetRateThrottle]
    cors_workspace: Workspace | None = None

    # --- CORS ---

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        self.cors_workspace = self._workspace_for_cors(request, kwargs)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _workspace_for_cors(self, request: Request, kwargs: dict[str, Any]) -> Workspace | None:
        app_id = request.query_params.get("app_id")
        if app_id:
            return workspace_by_app_id(app_id)
        if "conversation_id" in kwargs:
            conversation = Conversation.objects.select_related("workspace").filter(pk=kwargs["conversation_id"])
            found = conversation.first()
            return found.workspace if found else None
        return None

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Response:
        finalized: Response = super().finalize_response(request, response, *args, **kwargs)
        origin = request.headers.get("Origin")
        if origin:
            patch_vary_headers(finalized, ["Origin"])
            workspace = self.cors_workspace
            if workspace is not None and origin_allowed(workspace, origin):
                finalized["Access-Control-Allow-Origin"] = origin
                finalized["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                finalized["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
                finalized["Access-Control-Max-Age"] = CORS_MAX_AGE
        return finalized

    # --- lookups ---

    def workspace_for_app(self, app_id: Any) -> Workspace:
        workspace = workspace_by_app_id(app_id)
        if workspace is None:
            raise ApiError("unknown_app", "No workspace has this app_id.", status=404)
        self.cors_workspace = workspace
        return workspace

    def agent_for_embed(self, workspace: Workspace, raw_agent_id: Any) -> Agent:
        """The agent the embed asked for (``agent``), else the workspace's first agent."""
        if raw_agent_id is None:
            agent = agent_default(workspace=workspace)
            if agent is None:
                raise ApiError("unknown_app", "This workspace has no AI agent.", status=404)
            return agent
        agent_id = agent_id_param(raw_agent_id)
        agent = agent_get(workspace=workspace, agent_id=agent_id) if agent_id is not None else None
        if agent is None:  # another workspace's agent reads as unknown: nothing tells them apart
            raise ApiError("unknown_agent", "This workspace has no agent with this id.", status=404)
        return agent

    def conversation_for_token(self, request: Request, conversation_id: int) -> Conversation:
        conversation = conversation_for_widget(conversation_id=conversation_id)
        if conversation is not None:
            self.cors_workspace = conversation.workspace
        caller = request.user
        if not isinstance(caller, WidgetCaller):
            raise ApiError("token_required", "This conversation's token is required.", status=401)
        if conversation is None or not conversation.token_matches(caller.token):
            raise ApiError("not_found", "Not found.", status=404)
        return conversation


APP_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
VISITOR_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")


def workspace_by_app_id(app_id: Any) -> Workspace | None:
    """The workspace of a well-formed ``app_id`` (anything else, e.g. a NUL byte, finds nothing)."""
    if not isinstance(app_id, str) or not APP_ID_PATTERN.fullmatch(app_id):
        return None
    return Workspace.objects.filter(app_id=app_id).first()


def message_id_param(raw: str | None) -> int:
    """``?after=``: a message id (ASCII digits), 0 when absent; an empty value is not an id (the schema
    says integer)."""
    if raw is None:
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ValidationError({"after": ["A message id (a non-negative integer)."]})
    return int(raw)


def agent_id_param(raw: Any) -> int | None:
    """``agent``: a positive id, as a JSON integer or ASCII digits (the query string); None for anything
    else (a bool, a float, a sign, an id longer than any id can be)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if 0 < raw < 10**18 else None
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw) or None
    return None


def origin_allowed(workspace: Workspace, origin: str) -> bool:
    allowed = {str(value).rstrip("/").lower() for value in workspace.allowed_origins or []}
    return origin.rstrip("/").lower() in allowed or "*" in allowed


def origin_is_same_host(origin: str, host: str) -> bool:
    return urlsplit(origin).netloc.lower() == host.lower()


def widget_user(workspace: Workspace, data: dict[str, Any]) -> WidgetUser:
    """A verified widget user from request values: identified (valid hash) or anonymous (``visitor_id``)."""
    user_id = (data.get("user_id") or "").strip() or None
    if user_id is not None and (len(user_id) > 255 or "\x00" in user_id):
        raise ApiError("invalid", "user_id: at most 255 characters.", status=400)
    if user_id is not None:
        user_hash = data.get("user_hash") or ""
        if not user_hash_valid(workspace=workspace, user_id=user_id, user_hash=user_hash):
            raise ApiError("invalid_user_hash", "The user_hash does not match the user_id.", status=401)
        return WidgetUser(user_id=user_id, email=data.get("email") or None, name=data.get("name") or None)
    visitor_id = data.get("visitor_id")
    if not isinstance(visitor_id, str) or not VISITOR_ID_PATTERN.fullmatch(visitor_id):
        visitor_id = None  # a malformed id is ignored: the visitor gets a new one
    return WidgetUser(visitor_id=visitor_id)


def _check_body_length(body: str) -> None:
    if len(body) > MAX_MESSAGE_CHARS:
        raise ApiError(
            "message_too_long",
            f"A message is at most {MAX_MESSAGE_CHARS} characters.",
            status=400,
            max_length=MAX_MESSAGE_CHARS,
        )


def _messages_payload(result: PostResult) -> dict[str, Any]:
    return {
        "status": result.conversation.status,
        "messages": MessageSerializer(result.messages, many=True).data,
        "ticket": result.ticket,
    }


APP_ID = OpenApiParameter("app_id", str, OpenApiParameter.QUERY, required=True, description="The workspace's app_id.")
AGENT_ID = OpenApiParameter(
    "agent",
    int,
    OpenApiParameter.QUERY,
    required=False,
    description="The id of one of the workspace's agents (default: its first agent). Unknown: 404 `unknown_agent`.",
)
CONVERSATION_ID = OpenApiParameter("conversation_id", int, OpenApiParameter.PATH)


class WidgetConfigView(WidgetView):
    @extend_schema(
        operation_id="widget_config",
        summary="Widget configuration",
        description=(
            "The agent's name and greeting, and whether the 'Talk to a human' button is shown. `agent` picks "
            "one of the workspace's agents (default: its first); 404 `unknown_agent` if it is not one of them."
        ),
        parameters=[
            APP_ID,
            AGENT_ID,
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
        user = widget_user(workspace, dict(request.query_params.items()))
        contact = widget_contact_lookup(workspace=workspace, user=user)
        return Response(
            {
                "app_id": workspace.app_id,
                "name": agent.name,
                "greeting": agent.greeting,
                "human_handoff_available": handoff_available(agent=agent, contact=contact),
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
        request=WidgetStartSerializer,
        responses={201: WidgetConversationSerializer, **error_responses(400, 401, 404, 429)},
        auth=[],
        tags=["widget"],
    )
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        workspace = self.workspace_for_app(data.get("app_id"))
        if isinstance(data.get("body"), str):
            _check_body_length(data["body"])
        # Before the serializer: an agent id that is not an integer is as unknown as a wrong one (404).
        agent = self.agent_for_embed(workspace, data.get("agent"))
        serializer = WidgetStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = widget_user(workspace, serializer.validated_data.get("user") or {})
        if user.user_id is None and user.visitor_id is None:
            user = WidgetUser(visitor_id=new_visitor_id())
        contact = widget_contact_resolve(workspace=workspace, user=user)
        result = conversation_start(
            workspace=workspace, agent=agent, contact=contact, body=serializer.validated_data["body"]
        )
        payload = {
            "id": result.conversation.pk,
            "token": result.token,
            "visitor_id": contact.visitor_id,
            **_messages_payload(result),
        }
        return Response(payload, status=status.HTTP_201_CREATED)


def new_visitor_id() -> str:
    return secrets.token_urlsafe(18)


class WidgetMessagesView(WidgetView):
    @extend_schema(
        operation_id="widget_messages_list",
        summary="Messages after an id",
        description="The conversation's messages with an id above `after` (catch-up after a reconnect).",
        parameters=[
            CONVERSATION_ID,
            OpenApiParameter("after", int, OpenApiParameter.QUERY, required=False, description="A message id."),
            OpenApiParameter("app_id", str, OpenApiParameter.QUERY, required=False, description="For CORS."),
        ],
        responses={200: WidgetMessagesSerializer, **error_responses(400, 401, 404, 429)},
        tags=["widget"],
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = self.conversation_for_token(request, conversation_id)
        after_id = message_id_param(request.query_params.get("after"))
        messages = messages_after(conversation=conversation, after_id=after_id)
        return Response(
            {
                "status": conversation.status,
                "messages": MessageSerializer(messages, many=True).data,
                "ticket": conversation_ticket(conversation=conversation),
            }
        )

    @extend_schema(
        operation_id="widget_message_post",
        summary="Send a message",
        description="Stores the user's message and returns every message it created, in id order (the user's, "
        "the AI's reply unless a human owns the conversation, and the handoff's system message if it handed off), "
        "the conversation's status and its ticket.",
        parameters=[
            CONVERSATION_ID,
            OpenApiParameter("app_id", str, OpenApiParameter.QUERY, required=False, description="For CORS."),
        ],
        request=WidgetMessageInputSerializer,
        responses={201: WidgetMessagesSerializer, **error_responses(400, 401, 404, 429)},
        tags=["widget"],
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        conversation = self.conversation_for_token(request, conversation_id)
        data = request.data if isinstance(request.data, dict) else {}
        if isinstance(data.get("body"), str):
            _check_body_length(data["body"])
        serializer = WidgetMessageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = conversation_post_user_message(conversation=conversation, body=serializer.validated_data["body"])
        return Response(_messages_payload(result), status=status.HTTP_201_CREATED)
