"""Escalation server API: an agent's escalation settings, and AI turns posted by an external bot.

``GET/PATCH agents/{id}/escalation-settings`` reads and changes the settings with the admin form's
validation (the model's ``clean``); every change is a new version. ``POST conversations/{id}/ai-turns``
records a turn of the workspace's own bot and judges it with the same engine as Halo's AI.
"""

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Agent, Conversation
from agents.turns import KnowledgeSource, ToolCall
from escalation.api.serializers import (
    AiTurnInputSerializer,
    DecisionSerializer,
    EscalationSettingsPatchSerializer,
    EscalationSettingsSerializer,
)
from escalation.error_codes import EscalationErrorCode
from escalation.flow import ai_turn_submit
from escalation.services import ConversationHandedOff, escalation_settings_ensure, escalation_settings_update
from halo.api.authentication import request_workspace
from halo.api.error_codes import ErrorCode
from halo.api.errors import ApiError
from halo.api.schema import error_responses
from inbox.api.serializers import TicketSerializer
from inbox.selectors import ticket_get


class EscalationSettingsView(APIView):
    def _agent(self, request: Request, agent_id: int) -> Agent:
        agent = Agent.objects.filter(workspace=request_workspace(request), pk=agent_id).first()
        if agent is None:
            raise ApiError(ErrorCode.NOT_FOUND, "Not found.", status=404)
        return agent

    @extend_schema(
        operation_id="escalation_settings_get",
        summary="Read an agent's escalation settings",
        responses={200: EscalationSettingsSerializer, **error_responses(401, 404, 429)},
        tags=["escalation"],
    )
    def get(self, request: Request, agent_id: int) -> Response:
        escalation_settings = escalation_settings_ensure(agent=self._agent(request, agent_id))
        return Response(EscalationSettingsSerializer(escalation_settings).data)

    @extend_schema(
        operation_id="escalation_settings_update",
        summary="Change an agent's escalation settings",
        description=(
            "Fields left out are unchanged. Validated like the admin form: ranges, segment rules, the assignee "
            "must be a member of the workspace, the inbox must belong to it, routing `inbox` needs a default "
            "inbox, and `require_web_search` needs the agent's web-search skill. Each change is a new `version`."
        ),
        request=EscalationSettingsPatchSerializer,
        responses={200: EscalationSettingsSerializer, **error_responses(400, 401, 404, 429)},
        examples=[
            OpenApiExample(
                "Escalate paying customers sooner",
                request_only=True,
                value={"confidence_threshold": 70, "priority_filter": "company.plan = enterprise"},
            )
        ],
        tags=["escalation"],
    )
    def patch(self, request: Request, agent_id: int) -> Response:
        escalation_settings = escalation_settings_ensure(agent=self._agent(request, agent_id))
        data = EscalationSettingsPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        escalation_settings = escalation_settings_update(
            escalation_settings=escalation_settings, data=dict(data.validated_data), via="api"
        )
        return Response(EscalationSettingsSerializer(escalation_settings).data)


class AiTurnView(APIView):
    @extend_schema(
        operation_id="ai_turn_create",
        summary="Post a turn of your own AI and get the escalation decision",
        description=(
            "For agents whose responder is `external` (bring your own bot): the reply is posted to the "
            "conversation and judged by Halo's escalation engine. 409 `conversation_handed_off` while a human "
            "owns the conversation (the AI stays silent)."
        ),
        request=AiTurnInputSerializer,
        responses={201: DecisionSerializer, **error_responses(400, 401, 404, 409, 429)},
        examples=[
            OpenApiExample(
                "A turn that calls the escalate tool",
                request_only=True,
                value={
                    "reply": "Let me get a teammate involved.",
                    "confidence": 35,
                    "tools": [
                        {"name": "knowledge_search", "query": "refund"},
                        {"name": "escalate", "reason": "refund"},
                    ],
                },
            )
        ],
        tags=["escalation"],
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        workspace = request_workspace(request)
        conversation = (
            Conversation.objects.select_related("workspace", "agent", "contact")
            .filter(workspace=workspace, pk=conversation_id)
            .first()
        )
        if conversation is None:
            raise ApiError(ErrorCode.NOT_FOUND, "Not found.", status=404)
        data = AiTurnInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values: dict[str, Any] = dict(data.validated_data)
        tools = [
            ToolCall(name=tool["name"], arguments={key: value for key, value in tool.items() if key != "name"})
            for tool in values["tools"]
        ]
        sources = [KnowledgeSource(**source) for source in values["knowledge_sources"]]
        try:
            judged = ai_turn_submit(
                conversation=conversation,
                reply=values["reply"],
                confidence=values["confidence"],
                tools=tools,
                knowledge_sources=sources,
            )
        except ConversationHandedOff as error:
            raise ApiError(EscalationErrorCode.CONVERSATION_HANDED_OFF, str(error), status=409) from None
        ticket = None
        if judged.handoff is not None:
            ticket = TicketSerializer(ticket_get(workspace=workspace, ticket_id=judged.handoff.ticket.pk)).data
        body = {
            "turn": judged.turn.pk,
            "message": judged.turn.message_id,
            **judged.decision.as_dict(),
            "ticket": ticket,
        }
        return Response(body, status=status.HTTP_201_CREATED)
