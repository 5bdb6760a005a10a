"""Server API views for segments: audience preview and saved segments (CRUD), scoped to the caller's workspace.

A rule that does not parse or check is a 400 ``invalid_rule`` with the rule error's own code, its
``position`` (line, column, offset) and a ``hint``, for the preview and for saved segments alike.
"""

from typing import Any

from django.db.models import F
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from halo.api.authentication import request_workspace
from halo.api.error_codes import ErrorCode
from halo.api.errors import ApiError
from halo.api.schema import error_responses
from segments.api.serializers import (
    RuleErrorSerializer,
    SegmentInputSerializer,
    SegmentPatchSerializer,
    SegmentPreviewInputSerializer,
    SegmentPreviewSerializer,
    SegmentSerializer,
)
from segments.error_codes import SegmentErrorCode
from segments.lang import Node, RuleError, print_rule
from segments.models import Segment
from segments.rules import rule_parse
from segments.selectors import contact_count_matching, contacts_matching, segment_get, segment_list
from segments.services import segment_create, segment_delete, segment_update

SAMPLE_SIZE = 5
RULE_ERROR = OpenApiResponse(RuleErrorSerializer, description="The rule does not parse or check (`invalid_rule`).")


def checked_rule(text: str) -> Node:
    """The AST of ``text``, or a 400 ``invalid_rule`` that says where and why."""
    try:
        return rule_parse(text)
    except RuleError as error:
        position = error.position
        raise ApiError(
            SegmentErrorCode.INVALID_RULE,
            error.describe(),
            status=400,
            error=error.code,
            position={"line": position.line, "column": position.column, "offset": position.offset},
            hint=error.hint,
        ) from None


def _segment(request: Request, segment_id: int) -> Segment:
    try:
        return segment_get(workspace=request_workspace(request), segment_id=segment_id)
    except Segment.DoesNotExist:
        raise ApiError(ErrorCode.NOT_FOUND, "No segment with this id.", status=404) from None


class SegmentPreviewView(APIView):
    @extend_schema(
        operation_id="segment_preview",
        summary="Preview a rule: how many contacts match, and a few of them",
        request=SegmentPreviewInputSerializer,
        responses={200: SegmentPreviewSerializer, 400: RULE_ERROR, **error_responses(401, 429)},
        examples=[
            OpenApiExample(
                "Enterprise or VIP",
                request_only=True,
                value={"rule": "company.plan = enterprise OR user.custom_fields.is_vip = true"},
            ),
            OpenApiExample(
                "A typo",
                response_only=True,
                status_codes=["400"],
                value={
                    "code": SegmentErrorCode.INVALID_RULE.value,
                    "message": "line 1, column 1: unknown field `compnay.plan` (did you mean `company.plan`?)",
                    "error": "unknown_field",
                    "position": {"line": 1, "column": 1, "offset": 0},
                    "hint": "did you mean `company.plan`?",
                },
            ),
        ],
        tags=["segments"],
    )
    def post(self, request: Request) -> Response:
        serializer = SegmentPreviewInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        node = checked_rule(serializer.validated_data["rule"])
        workspace = request_workspace(request)
        now = timezone.now()
        sample = (
            contacts_matching(workspace=workspace, rule=node, now=now)
            .order_by(F("last_active_at").desc(nulls_last=True), "-pk")
            .values("id", "user_id", "email", "name")[:SAMPLE_SIZE]
        )
        count = contact_count_matching(workspace=workspace, rule=node, now=now)
        return Response(
            SegmentPreviewSerializer({"count": count, "sample": list(sample), "rule": print_rule(node)}).data
        )


class SegmentListView(APIView):
    @extend_schema(
        operation_id="segment_list",
        summary="List saved segments",
        responses={200: SegmentSerializer(many=True), **error_responses(401, 429)},
        tags=["segments"],
    )
    def get(self, request: Request) -> Response:
        return Response(SegmentSerializer(segment_list(workspace=request_workspace(request)), many=True).data)

    @extend_schema(
        operation_id="segment_create",
        summary="Save a segment",
        request=SegmentInputSerializer,
        responses={201: SegmentSerializer, 400: RULE_ERROR, **error_responses(401, 429)},
        tags=["segments"],
    )
    def post(self, request: Request) -> Response:
        serializer = SegmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        checked_rule(data["rule"])
        segment = segment_create(workspace=request_workspace(request), **data)
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)


class SegmentDetailView(APIView):
    @extend_schema(
        operation_id="segment_get",
        summary="Read a saved segment",
        responses={200: SegmentSerializer, **error_responses(401, 404, 429)},
        tags=["segments"],
    )
    def get(self, request: Request, segment_id: int) -> Response:
        return Response(SegmentSerializer(_segment(request, segment_id)).data)

    @extend_schema(
        operation_id="segment_update",
        summary="Change a saved segment's name, description or rule",
        request=SegmentPatchSerializer,
        responses={200: SegmentSerializer, 400: RULE_ERROR, **error_responses(401, 404, 429)},
        tags=["segments"],
    )
    def patch(self, request: Request, segment_id: int) -> Response:
        segment = _segment(request, segment_id)
        serializer = SegmentPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        if "rule" in data:
            checked_rule(data["rule"])
        return Response(SegmentSerializer(segment_update(segment=segment, data=data)).data)

    @extend_schema(
        operation_id="segment_delete",
        summary="Delete a saved segment",
        responses={204: None, **error_responses(401, 404, 429)},
        tags=["segments"],
    )
    def delete(self, request: Request, segment_id: int) -> Response:
        segment_delete(segment=_segment(request, segment_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
