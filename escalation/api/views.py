"""Escalation server API: an agent's escalation settings, and AI turns posted by an external bot.

``GET/PATCH agents/{id}/escalation-settings`` reads and changes the settings with the admin form's
validation (the model's ``clean``); every change is a new version. ``POST conversations/{id}/ai-turns``
records a turn of the workspace's own bot and judges it with the same engine as Halo's AI.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Agent, Conversation
from agents.selectors import knowledge_article_get
from agents.turns import KnowledgeSource, ToolCall
from escalation.api.serializers import (
    AiTurnInputSerializer,
    DecisionSerializer,
    EscalationSettingsPatchSerializer,
    EscalationSettingsSerializer,
    KnowledgeGapPatchSerializer,
    KnowledgeGapSerializer,
    PreviewInputSerializer,
    PreviewSerializer,
    ShadowSerializer,
    SuggestionSerializer,
)
from escalation.error_codes import EscalationErrorCode
from escalation.flow import ai_turn_submit
from escalation.gaps import (
    agent_thresholds,
    answered_now,
    knowledge_gap_get,
    knowledge_gaps,
    knowledge_index_version,
)
from escalation.models import EscalationSettings
from escalation.replay import replay_preview
from escalation.selectors import agent_escalation_shadow
from escalation.services import (
    ConversationHandedOff,
    escalation_settings_draft,
    escalation_settings_ensure,
    escalation_settings_update,
    escalation_shadow_delete,
    escalation_shadow_promote,
    escalation_shadow_save,
    knowledge_gap_link,
)
from escalation.tuning import shadow_summary, suggestions
from halo.api.authentication import request_workspace
from halo.api.error_codes import ErrorCode
from halo.api.errors import ApiError
from halo.api.schema import error_responses
from inbox.api.serializers import TicketSerializer
from inbox.selectors import ticket_get


def _agent_of(request: Request, agent_id: int) -> Agent:
    """The caller's workspace's agent ``agent_id`` (404 for another workspace's or none)."""
    agent = Agent.objects.filter(workspace=request_workspace(request), pk=agent_id).select_related("workspace").first()
    if agent is None:
        raise ApiError(ErrorCode.NOT_FOUND, "Not found.", status=404)
    return agent


def _settings_of(request: Request, agent_id: int) -> EscalationSettings:
    """The escalation settings of the caller's agent ``agent_id`` (created with the defaults the first time they
    are needed), with that agent attached: validation and the replay read it."""
    agent = _agent_of(request, agent_id)
    escalation_settings = escalation_settings_ensure(agent=agent)
    escalation_settings.agent = agent
    return escalation_settings


class EscalationSettingsView(APIView):
    @extend_schema(
        operation_id="escalation_settings_get",
        summary="Read an agent's escalation settings",
        responses={200: EscalationSettingsSerializer, **error_responses(401, 404, 429)},
        tags=["escalation"],
    )
    def get(self, request: Request, agent_id: int) -> Response:
        return Response(EscalationSettingsSerializer(_settings_of(request, agent_id)).data)

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
        escalation_settings = _settings_of(request, agent_id)
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
            Conversation.objects.select_related(
                "workspace", "agent__escalation_settings", "agent__escalation_shadow", "contact"
            )
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


def _draft_data(raw: object) -> dict[str, Any]:
    """Draft settings validated as a PATCH of the settings is (errors under the settings' own names)."""
    data = EscalationSettingsPatchSerializer(data=raw)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


class EscalationPreviewView(APIView):
    @extend_schema(
        operation_id="escalation_settings_preview",
        summary="Replay draft settings over the agent's recent turns (nothing is saved)",
        description=(
            "The agent's AI turns and manual handoffs (the customer asked for a human) of conversations started "
            "in the last `days` days (default 30) are judged again under the draft (`settings` over the live "
            "values) and under the live settings, by the same engine. An invalid draft is a 400 with the same "
            "field errors as a PATCH, and nothing is replayed."
        ),
        request=PreviewInputSerializer,
        responses={200: PreviewSerializer, **error_responses(400, 401, 404, 429)},
        examples=[
            OpenApiExample(
                "What if the threshold were 70?", request_only=True, value={"settings": {"confidence_threshold": 70}}
            )
        ],
        tags=["escalation"],
    )
    def post(self, request: Request, agent_id: int) -> Response:
        live = _settings_of(request, agent_id)
        body = PreviewInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        draft = escalation_settings_draft(escalation_settings=live, data=_draft_data(body.validated_data["settings"]))
        preview = replay_preview(
            agent=live.agent, live=live, draft=draft, now=timezone.now(), days=body.validated_data["days"]
        )
        return Response(PreviewSerializer(preview.as_dict()).data)


class EscalationShadowView(APIView):
    @extend_schema(
        operation_id="escalation_shadow_get",
        summary="The agent's shadow settings and how they compare with the live decisions",
        responses={200: ShadowSerializer, **error_responses(401, 404, 429)},
        tags=["escalation"],
    )
    def get(self, request: Request, agent_id: int) -> Response:
        shadow = agent_escalation_shadow(agent=_agent_of(request, agent_id))
        if shadow is None:
            raise ApiError(ErrorCode.NOT_FOUND, "This agent has no shadow settings.", status=404)
        return Response(ShadowSerializer(shadow_summary(shadow=shadow).as_dict()).data)

    @extend_schema(
        operation_id="escalation_shadow_put",
        summary="Save draft settings as the agent's shadow",
        description=(
            "Every live turn is also judged under the shadow, recorded beside the live decision and never acted "
            "on. Fields left out take the live values; validated like a PATCH of the settings. Each save "
            "restarts the comparison."
        ),
        request=EscalationSettingsPatchSerializer,
        responses={200: ShadowSerializer, **error_responses(400, 401, 404, 429)},
        tags=["escalation"],
    )
    def put(self, request: Request, agent_id: int) -> Response:
        shadow = escalation_shadow_save(
            escalation_settings=_settings_of(request, agent_id), data=_draft_data(request.data)
        )
        return Response(ShadowSerializer(shadow_summary(shadow=shadow).as_dict()).data)

    @extend_schema(
        operation_id="escalation_shadow_delete",
        summary="Remove the agent's shadow settings",
        responses={204: None, **error_responses(401, 404, 429)},
        tags=["escalation"],
    )
    def delete(self, request: Request, agent_id: int) -> Response:
        if not escalation_shadow_delete(agent=_agent_of(request, agent_id)):
            raise ApiError(ErrorCode.NOT_FOUND, "This agent has no shadow settings.", status=404)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EscalationShadowPromoteView(APIView):
    @extend_schema(
        operation_id="escalation_shadow_promote",
        summary="Make the shadow settings live (a new version), and remove the shadow",
        request=None,
        responses={200: EscalationSettingsSerializer, **error_responses(400, 401, 404, 429)},
        tags=["escalation"],
    )
    def post(self, request: Request, agent_id: int) -> Response:
        promoted = escalation_shadow_promote(escalation_settings=_settings_of(request, agent_id), via="api")
        if promoted is None:
            raise ApiError(ErrorCode.NOT_FOUND, "This agent has no shadow settings.", status=404)
        return Response(EscalationSettingsSerializer(promoted).data)


class EscalationSuggestionsView(APIView):
    @extend_schema(
        operation_id="escalation_settings_suggestions",
        summary="Suggested confidence threshold and max attempts, with their replayed effect and evidence",
        description=(
            "From teammates' verdicts on escalations, re-opened tickets and held-back conversations whose customer "
            "then asked for a human, over the last `days` days (default 30), each with the evidence for it and "
            "against it. Nothing is applied: apply one with a PATCH of the settings."
        ),
        parameters=[OpenApiParameter("days", int, required=False)],
        responses={200: SuggestionSerializer(many=True), **error_responses(400, 401, 404, 429)},
        tags=["escalation"],
    )
    def get(self, request: Request, agent_id: int) -> Response:
        escalation_settings = _settings_of(request, agent_id)
        days = _days(request, default=30)
        found = suggestions(
            agent=escalation_settings.agent, escalation_settings=escalation_settings, now=timezone.now(), days=days
        )
        return Response(SuggestionSerializer([item.as_dict() for item in found], many=True).data)


def _days(request: Request, *, default: int) -> int:
    raw = request.query_params.get("days")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 365:
        raise ApiError(ErrorCode.INVALID, "days: a whole number from 1 to 365.", status=400)
    return int(raw)


class KnowledgeGapListView(APIView):
    @extend_schema(
        operation_id="knowledge_gaps_list",
        summary="Topics of questions the AI could not answer, most asked first",
        description=(
            "Questions of the last `days` days (default 90) with low confidence or no answer, or whose "
            "escalation a teammate judged the AI could have answered, grouped by the knowledge search's terms. "
            "`answered_now` is computed for topics with a linked article (null otherwise). At most `limit` "
            "topics (default 50, at most 100)."
        ),
        parameters=[OpenApiParameter("days", int, required=False), OpenApiParameter("limit", int, required=False)],
        responses={200: KnowledgeGapSerializer(many=True), **error_responses(400, 401, 429)},
        tags=["knowledge"],
    )
    def get(self, request: Request) -> Response:
        workspace = request_workspace(request)
        days = _days(request, default=90)
        raw_limit = request.query_params.get("limit", "50")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise ApiError(ErrorCode.INVALID, "limit: a whole number from 1 to 100.", status=400)
        topics = knowledge_gaps(workspace=workspace, now=timezone.now(), days=days, limit=int(raw_limit))
        return Response(KnowledgeGapSerializer([topic.as_dict() for topic in topics], many=True).data)


class KnowledgeGapView(APIView):
    @extend_schema(
        operation_id="knowledge_gap_update",
        summary="Link an article to a knowledge-gap topic (handled), or unlink it",
        request=KnowledgeGapPatchSerializer,
        responses={200: KnowledgeGapSerializer, **error_responses(400, 401, 404, 429)},
        tags=["knowledge"],
    )
    def patch(self, request: Request, gap_id: str) -> Response:
        workspace = request_workspace(request)
        body = KnowledgeGapPatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        now = timezone.now()
        topic = knowledge_gap_get(workspace=workspace, key=gap_id, now=now)
        if topic is None:
            raise ApiError(ErrorCode.NOT_FOUND, "Not found.", status=404)
        article = None
        if body.validated_data["article"] is not None:
            article = knowledge_article_get(workspace=workspace, article_id=body.validated_data["article"])
            if article is None:
                raise ValidationError({"article": "Choose an article of this workspace."})
        link = knowledge_gap_link(workspace=workspace, key=topic.key, article=article)
        topic.article = article
        if link is not None:
            topic.answered_now = answered_now(
                workspace=workspace,
                topic=topic,
                link=link,
                thresholds=agent_thresholds(workspace),
                index_version=knowledge_index_version(workspace),
            )
        return Response(KnowledgeGapSerializer(topic.as_dict()).data)
