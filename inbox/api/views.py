"""Tickets server API: list with filters (keyset pagination), read one, change status, assignee or inbox.

Views parse input, call one selector or service, render; every lookup is scoped to the caller's workspace
(another workspace's ticket is a 404).
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from halo.api.authentication import request_workspace
from halo.api.error_codes import ErrorCode
from halo.api.errors import ApiError
from halo.api.schema import error_responses
from halo.params import parse_id, parse_int
from inbox.api.serializers import TicketPatchSerializer, TicketSerializer
from inbox.models import Ticket
from inbox.selectors import UNSET, ticket_get, ticket_list
from inbox.services import ticket_update
from segments.api.views import checked_rule


class TicketCursorPagination(CursorPagination):
    """Keyset pagination on the ticket id: constant cost per page, no ``COUNT(*)``."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        # DRF would silently fall back to the default on a bad ``limit``; the schema promises an integer.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        limit = parse_int(raw, minimum=1, maximum=self.max_page_size)
        if limit is None:
            raise ApiError(
                ErrorCode.INVALID,
                f"limit: an integer from 1 to {self.max_page_size}.",
                status=400,
                fields={"limit": [f"An integer from 1 to {self.max_page_size}."]},
            )
        return limit

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters


def _id_or_none(request: Request, name: str) -> int | str | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    if value == UNSET:
        return UNSET
    parsed = parse_id(value)
    if parsed is None:
        raise ApiError(
            ErrorCode.INVALID, f"{name}: a numeric id or `none`.", status=400, fields={name: ["Invalid id."]}
        )
    return parsed


TICKET_FILTERS = [
    OpenApiParameter(
        "status", str, OpenApiParameter.QUERY, description="Comma-separated: open, priority, snoozed, closed."
    ),
    OpenApiParameter("assignee", str, OpenApiParameter.QUERY, description="A user id, or `none` for unassigned."),
    OpenApiParameter("inbox", str, OpenApiParameter.QUERY, description="A custom inbox id, or `none`."),
    OpenApiParameter(
        "segment",
        str,
        OpenApiParameter.QUERY,
        description="A segment rule the ticket's contact must match; 400 `invalid_rule` (with its position) if it "
        "does not parse.",
    ),
]


class TicketListView(ListAPIView[Ticket]):
    serializer_class = TicketSerializer
    pagination_class = TicketCursorPagination

    def get_queryset(self) -> QuerySet[Ticket]:
        request = self.request
        statuses = [s for s in request.query_params.get("status", "").split(",") if s]
        unknown = set(statuses) - set(Ticket.Status.values)
        if unknown:
            raise ApiError(
                ErrorCode.INVALID,
                f"status: choose from {', '.join(Ticket.Status.values)}.",
                status=400,
                fields={"status": [f"Unknown status: {', '.join(sorted(unknown))}."]},
            )
        return ticket_list(
            workspace=request_workspace(request),
            statuses=statuses,
            assignee=_id_or_none(request, "assignee"),
            inbox=_id_or_none(request, "inbox"),
            segment=checked_rule(segment) if (segment := request.query_params.get("segment", "").strip()) else None,
        )

    @extend_schema(
        operation_id="ticket_list",
        summary="List tickets",
        description="Newest first, keyset-paginated (`next`/`previous` cursors; no total count).",
        parameters=TICKET_FILTERS,
        responses={200: TicketSerializer(many=True), **error_responses(400, 401, 429)},
        tags=["tickets"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class TicketView(APIView):
    def _ticket(self, request: Request, ticket_id: int) -> Ticket:
        ticket = ticket_get(workspace=request_workspace(request), ticket_id=ticket_id)
        if ticket is None:
            raise ApiError(ErrorCode.NOT_FOUND, "Not found.", status=404)
        return ticket

    @extend_schema(
        operation_id="ticket_get",
        summary="Read a ticket",
        responses={200: TicketSerializer, **error_responses(401, 404, 429)},
        tags=["tickets"],
    )
    def get(self, request: Request, ticket_id: int) -> Response:
        return Response(TicketSerializer(self._ticket(request, ticket_id)).data)

    @extend_schema(
        operation_id="ticket_update",
        summary="Change a ticket's status, assignee or inbox",
        description=(
            "Closing a ticket hands its conversations back to the AI. Re-opening a closed ticket is refused "
            "(400) while the contact has another ticket that is not closed."
        ),
        request=TicketPatchSerializer,
        responses={200: TicketSerializer, **error_responses(400, 401, 404, 429)},
        tags=["tickets"],
    )
    def patch(self, request: Request, ticket_id: int) -> Response:
        ticket = self._ticket(request, ticket_id)
        data = TicketPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket_update(ticket=ticket, data=dict(data.validated_data))
        return Response(TicketSerializer(ticket_get(workspace=request_workspace(request), ticket_id=ticket_id)).data)
