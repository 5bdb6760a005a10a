"""Tickets server API: list with filters (keyset pagination), read one, change status, assignee or inbox.

Views parse input, call one selector or service, render; every lookup is scoped to the caller's workspace
(another workspace's ticket is a 404).
"""

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from halo.api.authentication import request_workspace
from halo.api.error_codes import ErrorCode
from halo.api.errors import ApiError
from halo.api.pagination import KeysetPagination
from halo.api.schema import error_responses
from halo.params import parse_id, parse_int
from halo.selectors import membership_get
from inbox.api.serializers import (
    CustomInboxPatchSerializer,
    CustomInboxSerializer,
    MemberPatchSerializer,
    MemberSerializer,
    TicketPatchSerializer,
    TicketSerializer,
)
from inbox.models import CustomInbox, Ticket
from inbox.selectors import (
    OUTCOMES,
    UNSET,
    InboxList,
    ListFilters,
    custom_inbox_get,
    ticket_get,
    ticket_list,
    ticket_search,
)
from inbox.services import custom_inbox_update, teammate_availability_set, ticket_update, ticket_verdict_set
from segments.api.views import checked_rule

SEARCH_MAX_CHARS = 200


class TicketCursorPagination(KeysetPagination):
    """Keyset pagination on the ticket id, newest first."""

    ordering = "-id"


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
        "outcome",
        str,
        OpenApiParameter.QUERY,
        enum=list(OUTCOMES),
        description="How the AI's handoff went: `delayed` (turns held back before the ticket opened), "
        "`immediate`, `reason-<reason>`, a verdict, or `unjudged`.",
    ),
    OpenApiParameter(
        "segment",
        str,
        OpenApiParameter.QUERY,
        description="A segment rule the ticket's contact must match; 400 `invalid_rule` (with its position) if it "
        "does not parse.",
    ),
]


SEARCH_PARAMETERS = [
    OpenApiParameter(
        "q",
        str,
        OpenApiParameter.QUERY,
        description="Search: tickets whose contact's name, email or company, or whose messages, contain every word; "
        "best first (then `offset` pages through the results, `next` links to the following page).",
    ),
    OpenApiParameter("offset", int, OpenApiParameter.QUERY, description="With `q`: results to skip."),
]
SEARCH_MAX_OFFSET = 10_000


class TicketListView(ListAPIView[Ticket]):
    serializer_class = TicketSerializer
    pagination_class = TicketCursorPagination

    def _statuses(self) -> list[str]:
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
        return statuses

    def _outcome(self) -> str | None:
        outcome = self.request.query_params.get("outcome") or None
        if outcome is not None and outcome not in OUTCOMES:
            raise ApiError(
                ErrorCode.INVALID,
                f"outcome: choose from {', '.join(OUTCOMES)}.",
                status=400,
                fields={"outcome": [f"Unknown outcome: {outcome[:50]}."]},
            )
        return outcome

    def get_queryset(self) -> QuerySet[Ticket]:
        request = self.request
        outcome = self._outcome()
        tickets = ticket_list(
            workspace=request_workspace(request),
            statuses=self._statuses(),
            assignee=_id_or_none(request, "assignee"),
            inbox=_id_or_none(request, "inbox"),
            segment=checked_rule(segment) if (segment := request.query_params.get("segment", "").strip()) else None,
        )
        return tickets.filter(OUTCOMES[outcome][1]) if outcome is not None else tickets

    @extend_schema(
        operation_id="ticket_list",
        summary="List or search tickets",
        description="Newest first, keyset-paginated (`next`/`previous` cursors; no total count). With `q`: the "
        "matching tickets, open and closed (unless `status` says otherwise), best first.",
        parameters=[*TICKET_FILTERS, *SEARCH_PARAMETERS],
        responses={200: TicketSerializer(many=True), **error_responses(400, 401, 429)},
        tags=["tickets"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        offset = self._offset(request)  # checked with or without q: a bad value is a 400 either way
        text = request.query_params.get("q", "").strip()
        if text:
            return self._search(request, text, offset)
        return super().get(request, *args, **kwargs)

    def _offset(self, request: Request) -> int:
        raw_offset = request.query_params.get("offset")
        offset = 0 if raw_offset is None else parse_int(raw_offset, maximum=SEARCH_MAX_OFFSET)
        if offset is None:
            raise ApiError(
                ErrorCode.INVALID,
                f"offset: an integer from 0 to {SEARCH_MAX_OFFSET}.",
                status=400,
                fields={"offset": ["Invalid offset."]},
            )
        return offset

    def _search(self, request: Request, text: str, offset: int) -> Response:
        if len(text) > SEARCH_MAX_CHARS:
            raise ApiError(ErrorCode.INVALID, f"q: at most {SEARCH_MAX_CHARS} characters.", status=400)
        limit = TicketCursorPagination().get_page_size(request)
        workspace = request_workspace(request)
        segment = request.query_params.get("segment", "").strip()
        if segment:
            checked_rule(segment)  # a 400 that says where the rule is wrong
        scope = InboxList(key="api", label="API", count=None, statuses=[], assignee=None, segment=segment)
        filters = ListFilters(
            statuses=tuple(self._statuses()),
            assignee=_id_or_none(request, "assignee"),
            inbox=_id_or_none(request, "inbox"),
            outcome=self._outcome(),
        )
        found = ticket_search(
            workspace=workspace, text=text, inbox_list=scope, filters=filters, offset=offset, limit=limit
        )
        ids = [ticket.pk for ticket in found.tickets]
        by_id = {ticket.pk: ticket for ticket in ticket_list(workspace=workspace).filter(pk__in=ids)}
        results = TicketSerializer([by_id[pk] for pk in ids if pk in by_id], many=True).data
        next_url = None
        if found.next_offset is not None:
            query = request.query_params.copy()
            query["offset"] = str(found.next_offset)
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response({"next": next_url, "previous": None, "results": results})


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
        summary="Change a ticket's status, assignee, inbox or verdict",
        description=(
            "Closing a ticket hands its conversations back to the AI. Re-opening a closed ticket is refused "
            "(400) while the contact has another ticket that is not closed, and counts in `reopened_count`. "
            "`verdict` judges the escalation for tuning (null clears it). The changes are applied together or "
            "not at all."
        ),
        request=TicketPatchSerializer,
        responses={200: TicketSerializer, **error_responses(400, 401, 404, 429)},
        tags=["tickets"],
    )
    def patch(self, request: Request, ticket_id: int) -> Response:
        ticket = self._ticket(request, ticket_id)
        data = TicketPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        with transaction.atomic():
            if "verdict" in changes:
                ticket_verdict_set(ticket=ticket, user=None, verdict=changes.pop("verdict") or "")
            if changes:
                ticket_update(ticket=ticket, data=changes)
        return Response(TicketSerializer(ticket_get(workspace=request_workspace(request), ticket_id=ticket_id)).data)


class CustomInboxView(APIView):
    def _inbox(self, request: Request, inbox_id: int) -> CustomInbox:
        inbox = None
        if parse_id(inbox_id) is not None:  # a 23-digit id is not found, never an integer overflow
            inbox = custom_inbox_get(workspace=request_workspace(request), inbox_id=inbox_id)
        if inbox is None:
            raise ApiError(ErrorCode.NOT_FOUND, "Not found.", status=404)
        return inbox

    @extend_schema(
        operation_id="inbox_get",
        summary="Read a team inbox",
        responses={200: CustomInboxSerializer, **error_responses(401, 404, 429)},
        tags=["inboxes"],
    )
    def get(self, request: Request, inbox_id: int) -> Response:
        return Response(CustomInboxSerializer(self._inbox(request, inbox_id)).data)

    @extend_schema(
        operation_id="inbox_update",
        summary="Change a team inbox's members or assignment policy",
        description="`members` replaces the inbox's teammates (each must be a member of the workspace: 400 "
        "otherwise). With `round_robin` or `balanced`, tickets waiting for an assignee are given out at once.",
        request=CustomInboxPatchSerializer,
        responses={200: CustomInboxSerializer, **error_responses(400, 401, 404, 429)},
        tags=["inboxes"],
    )
    def patch(self, request: Request, inbox_id: int) -> Response:
        inbox = self._inbox(request, inbox_id)
        data = CustomInboxPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        custom_inbox_update(inbox=inbox, data=dict(data.validated_data))
        return Response(CustomInboxSerializer(self._inbox(request, inbox_id)).data)


class MemberView(APIView):
    @extend_schema(
        operation_id="member_update",
        summary="Set a teammate's availability or capacity",
        description="An away teammate (`available: false`) or one at `capacity` is given no ticket "
        "automatically; tickets waiting for an assignee are given out as soon as one has room again.",
        request=MemberPatchSerializer,
        responses={200: MemberSerializer, **error_responses(400, 401, 404, 429)},
        tags=["inboxes"],
    )
    def patch(self, request: Request, user_id: int) -> Response:
        workspace = request_workspace(request)
        membership = None
        if parse_id(user_id) is not None:  # a 23-digit id is not found, never an integer overflow
            membership = membership_get(workspace=workspace, user_id=user_id)
        if membership is None:
            raise ApiError(ErrorCode.NOT_FOUND, "Not found.", status=404)
        data = MemberPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = teammate_availability_set(membership=membership, data=dict(data.validated_data))
        updated.user = membership.user
        return Response(MemberSerializer(updated).data)
