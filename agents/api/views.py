"""Server API views of the agents app: agents, knowledge articles and conversation records.

Thin: parse the input, call one service or selector scoped to the caller's workspace, render. Another
workspace's id is a 404, exactly like an id that does not exist.
"""

from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.api.serializers import (
    AgentPatchSerializer,
    AgentSerializer,
    ConversationDetailSerializer,
    ConversationSummarySerializer,
    KnowledgeArticleInputSerializer,
    KnowledgeArticlePageSerializer,
    KnowledgeArticleSerializer,
)
from agents.models import Agent, Conversation, KnowledgeArticle
from agents.selectors import (
    agent_get,
    agent_list,
    conversation_detail,
    conversation_feed,
    conversations_last_messages,
    knowledge_article_get,
    knowledge_article_list,
)
from agents.services import (
    agent_update,
    knowledge_article_create,
    knowledge_article_delete,
    knowledge_article_update,
)
from halo.api.authentication import request_workspace
from halo.api.error_codes import ErrorCode
from halo.api.errors import ApiError
from halo.api.pagination import KeysetPagination
from halo.api.schema import error_responses
from halo.params import after_id_param, parse_id

PAGE_SIZE = 100


def _not_found(what: str) -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, f"No {what} with this id in this workspace.", status=404)


class AgentListView(APIView):
    @extend_schema(
        operation_id="agent_list",
        summary="List the workspace's agents",
        responses={200: AgentSerializer(many=True), **error_responses(401, 429)},
        tags=["agents"],
    )
    def get(self, request: Request) -> Response:
        return Response(AgentSerializer(agent_list(workspace=request_workspace(request)), many=True).data)


class AgentView(APIView):
    def _agent(self, request: Request, agent_id: int) -> Agent:
        agent = agent_get(workspace=request_workspace(request), agent_id=agent_id)
        if agent is None:
            raise _not_found("agent")
        return agent

    @extend_schema(
        operation_id="agent_get",
        summary="Read an agent",
        responses={200: AgentSerializer, **error_responses(401, 404, 429)},
        tags=["agents"],
    )
    def get(self, request: Request, agent_id: int) -> Response:
        return Response(AgentSerializer(self._agent(request, agent_id)).data)

    @extend_schema(
        operation_id="agent_update",
        summary="Change an agent",
        description="Name, greeting, skills and responder. `openai_api_key` is write-only.",
        request=AgentPatchSerializer,
        responses={200: AgentSerializer, **error_responses(400, 401, 404, 429)},
        tags=["agents"],
    )
    def patch(self, request: Request, agent_id: int) -> Response:
        agent = self._agent(request, agent_id)
        serializer = AgentPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agent = agent_update(agent=agent, data=dict(serializer.validated_data))
        return Response(AgentSerializer(agent).data)


class KnowledgeArticleListView(APIView):
    @extend_schema(
        operation_id="knowledge_article_list",
        summary="List knowledge articles",
        description=f"Keyset pages of {PAGE_SIZE} articles in id order; pass `next_after` as `after`.",
        parameters=[OpenApiParameter("after", int, OpenApiParameter.QUERY, required=False)],
        responses={200: KnowledgeArticlePageSerializer, **error_responses(400, 401, 429)},
        tags=["knowledge"],
    )
    def get(self, request: Request) -> Response:
        after_id = after_id_param(request.query_params.get("after"))
        articles = list(
            knowledge_article_list(workspace=request_workspace(request)).filter(pk__gt=after_id)[: PAGE_SIZE + 1]
        )
        next_after = articles[PAGE_SIZE - 1].pk if len(articles) > PAGE_SIZE else None
        return Response(
            {
                "results": KnowledgeArticleSerializer(articles[:PAGE_SIZE], many=True).data,
                "next_after": next_after,
            }
        )

    @extend_schema(
        operation_id="knowledge_article_create",
        summary="Add a knowledge article",
        request=KnowledgeArticleInputSerializer,
        responses={201: KnowledgeArticleSerializer, **error_responses(400, 401, 429)},
        tags=["knowledge"],
    )
    def post(self, request: Request) -> Response:
        serializer = KnowledgeArticleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        article = knowledge_article_create(workspace=request_workspace(request), **serializer.validated_data)
        return Response(KnowledgeArticleSerializer(article).data, status=status.HTTP_201_CREATED)


class KnowledgeArticleView(APIView):
    def _article(self, request: Request, article_id: int) -> KnowledgeArticle:
        article = knowledge_article_get(workspace=request_workspace(request), article_id=article_id)
        if article is None:
            raise _not_found("article")
        return article

    @extend_schema(
        operation_id="knowledge_article_get",
        summary="Read a knowledge article",
        responses={200: KnowledgeArticleSerializer, **error_responses(401, 404, 429)},
        tags=["knowledge"],
    )
    def get(self, request: Request, article_id: int) -> Response:
        return Response(KnowledgeArticleSerializer(self._article(request, article_id)).data)

    @extend_schema(
        operation_id="knowledge_article_replace",
        summary="Replace a knowledge article",
        description="`title` and `body` are required; `url` defaults to empty and `published` to true.",
        request=KnowledgeArticleInputSerializer,
        responses={200: KnowledgeArticleSerializer, **error_responses(400, 401, 404, 429)},
        tags=["knowledge"],
    )
    def put(self, request: Request, article_id: int) -> Response:
        article = self._article(request, article_id)
        serializer = KnowledgeArticleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        article = knowledge_article_update(article=article, data=dict(serializer.validated_data))
        return Response(KnowledgeArticleSerializer(article).data)

    @extend_schema(
        operation_id="knowledge_article_delete",
        summary="Delete a knowledge article",
        responses={204: None, **error_responses(401, 404, 429)},
        tags=["knowledge"],
    )
    def delete(self, request: Request, article_id: int) -> Response:
        knowledge_article_delete(article=self._article(request, article_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ConversationView(APIView):
    @extend_schema(
        operation_id="conversation_get",
        summary="Read a conversation and the record of every AI turn",
        description=(
            "The transcript and, per AI turn, its confidence, tools, knowledge sources and the escalation "
            "decision (signals, escalated, reason, suppressed_by): why the AI did or did not hand off."
        ),
        responses={200: ConversationDetailSerializer, **error_responses(401, 404, 429)},
        tags=["conversations"],
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = conversation_detail(workspace=request_workspace(request), conversation_id=conversation_id)
        if conversation is None:
            raise _not_found("conversation")
        return Response(ConversationDetailSerializer(conversation).data)


class ConversationFeedPagination(KeysetPagination):
    """Oldest change first: the page after the last one a bot read holds what changed since."""

    ordering = ("updated_at", "id")


def _invalid(name: str, message: str) -> ApiError:
    return ApiError(ErrorCode.INVALID, f"{name}: {message}", status=400, fields={name: [message]})


def _updated_after(raw: str | None) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        moment = parse_datetime(raw.strip())
    except ValueError:
        moment = None
    if moment is None:
        raise _invalid("updated_after", "An ISO 8601 date and time, e.g. 2026-12-05T18:00:00Z.")
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


class ConversationListView(ListAPIView[Conversation]):
    serializer_class = ConversationSummarySerializer
    pagination_class = ConversationFeedPagination

    def get_queryset(self) -> QuerySet[Conversation]:
        params = self.request.query_params
        statuses = [value for value in params.get("status", "").split(",") if value]
        unknown = sorted(set(statuses) - set(Conversation.Status.values))
        if unknown:
            raise _invalid(
                "status", f"Unknown status {', '.join(unknown)[:100]}; choose from open, handed_off, closed."
            )
        agent_id = None
        if params.get("agent"):
            agent_id = parse_id(params["agent"])
            if agent_id is None:
                raise _invalid("agent", "An agent id.")
        return conversation_feed(
            workspace=request_workspace(self.request),
            statuses=statuses,
            agent_id=agent_id,
            updated_after=_updated_after(params.get("updated_after")),
        )

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)
        if page is not None:
            conversations_last_messages(conversations=page)
        return page

    @extend_schema(
        operation_id="conversation_list",
        summary="The conversation feed: what changed, oldest change first",
        description=(
            "The workspace's conversations ordered by their last change (`updated_at`), oldest first, each with "
            "its newest message; cursor-paged (`next` links to the following page; no total count). A bot "
            "that was down catches up from `updated_after` = the last change it handled."
        ),
        parameters=[
            OpenApiParameter(
                "status", str, OpenApiParameter.QUERY, description="Comma-separated: open, handed_off, closed."
            ),
            OpenApiParameter("agent", int, OpenApiParameter.QUERY, description="Only this agent's conversations."),
            OpenApiParameter(
                "updated_after",
                str,
                OpenApiParameter.QUERY,
                description="ISO 8601 date-time: only conversations changed after it (UTC if no offset).",
            ),
        ],
        responses={200: ConversationSummarySerializer(many=True), **error_responses(400, 401, 429)},
        tags=["conversations"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
