"""The base of every widget view: token authentication, the rate limit, and CORS for the workspace's
allowed origins (preflight ``OPTIONS`` included).

The workspace is known from ``?app_id=`` (the widget adds it to every request, which is how a preflight
without a body finds it) or from the conversation in the URL. CORS headers are sent only to an origin in
the workspace's ``allowed_origins``, on errors too, so the widget can read them.
"""

from typing import Any

from django.utils.cache import patch_vary_headers
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.links import conversation_credential_valid
from agents.models import Agent, Conversation
from agents.selectors import agent_default, agent_get, conversation_for_widget
from escalation.api.widget.auth import WidgetCaller, WidgetRateThrottle, WidgetTokenAuthentication
from escalation.api.widget.params import agent_id_param
from escalation.error_codes import WidgetErrorCode
from halo.api.error_codes import ErrorCode
from halo.api.errors import ApiError
from halo.models import Workspace
from halo.selectors import workspace_by_app_id, workspace_origin_allowed

CORS_MAX_AGE = "600"


class WidgetView(APIView):
    authentication_classes = [WidgetTokenAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [WidgetRateThrottle]
    cors_workspace: Workspace | None = None

    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        self.cors_workspace = self._workspace_for_cors(request, kwargs)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _workspace_for_cors(self, request: Request, kwargs: dict[str, Any]) -> Workspace | None:
        app_id = request.query_params.get("app_id")
        if app_id:
            return workspace_by_app_id(app_id)
        if "conversation_id" in kwargs:
            found = Conversation.objects.select_related("workspace").filter(pk=kwargs["conversation_id"]).first()
            return found.workspace if found else None
        return None

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Response:
        finalized: Response = super().finalize_response(request, response, *args, **kwargs)
        origin = request.headers.get("Origin")
        if origin:
            patch_vary_headers(finalized, ["Origin"])
            workspace = self.cors_workspace
            if workspace is not None and workspace_origin_allowed(workspace=workspace, origin=origin):
                finalized["Access-Control-Allow-Origin"] = origin
                finalized["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
                finalized["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
                finalized["Access-Control-Max-Age"] = CORS_MAX_AGE
        return finalized

    # --- lookups every widget view shares ---

    def workspace_for_app(self, app_id: Any) -> Workspace:
        workspace = workspace_by_app_id(app_id)
        if workspace is None:
            raise ApiError(WidgetErrorCode.UNKNOWN_APP, "No workspace has this app_id.", status=404)
        self.cors_workspace = workspace
        return workspace

    def agent_for_embed(self, workspace: Workspace, raw_agent_id: Any) -> Agent:
        """The agent the embed asked for (``agent``), else the workspace's first agent."""
        if raw_agent_id is None:
            agent = agent_default(workspace=workspace)
            if agent is None:
                raise ApiError(WidgetErrorCode.NO_AGENT, "This workspace has no AI agent.", status=404)
            return agent
        agent_id = agent_id_param(raw_agent_id)
        agent = agent_get(workspace=workspace, agent_id=agent_id) if agent_id is not None else None
        if agent is None:  # another workspace's agent reads as unknown: nothing tells them apart
            raise ApiError(WidgetErrorCode.UNKNOWN_AGENT, "This workspace has no agent with this id.", status=404)
        return agent

    def conversation_for_token(self, request: Request, conversation_id: int) -> Conversation:
        conversation = conversation_for_widget(conversation_id=conversation_id)
        if conversation is not None:
            self.cors_workspace = conversation.workspace
        caller = request.user
        if not isinstance(caller, WidgetCaller):
            raise ApiError(WidgetErrorCode.TOKEN_REQUIRED, "This conversation's token is required.", status=401)
        if conversation is None or not conversation_credential_valid(conversation=conversation, token=caller.token):
            raise ApiError(ErrorCode.NOT_FOUND, "Not found.", status=404)
        return conversation
