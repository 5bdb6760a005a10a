"""Tickets server API: list with filters and a sort (keyset pagination), read one, change status, assignee or inbox.

Views parse input, call one selector or service, render; every lookup is scoped to the caller's workspace
(another workspace's ticket is a 404).
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.pagination import BasePagination, Cursor
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
    DuePosition,
    InboxList,
    ListFilters,
    Sort,
    custom_inbox_get,
    ticket_get,
    ticket_list,
    ticket_search,
    tickets_by_first_reply_due,
)
from inbox.services import custom_inbox_update, teammate_availability_set, ticket_update, ticket_verdict_set
from segments.api.views import checked_rule

SEARCH_MAX_CHARS = 200


class TicketCursorPagination(KeysetPagination):
    """Keyset pagination on the ticket id, newest first."""

    ordering = "-id"


class TicketOldestPagination(KeysetPagination):
    """Keyset pagination on the ticket id, oldest (waiting longest) first."""

    ordering = "id"


class TicketDuePagination(KeysetPagination):
    """``sort=due``: forward-only keyset pagination on (first-reply due time, id), the order of
    ``inbox.selectors.tickets_by_first_reply_due``. The cursor carries the last ticket's position itself, not
    its id, so the next page starts at the right place even if that ticket was answered, closed or deleted
    meanwhile; ``previous`` is always null (a client goes back with the links it followed)."""

    ordering = ("due_key", "id")  # a cursor's position is a due time and an id, never an id alone

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any]:
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        rows = list(tickets_by_first_reply_due(queryset, after=self._position(request))[: self.page_size + 1])
        last = rows[self.page_size - 1] if len(rows) > self.page_size else None
        due = last.due_key if last is not None else None  # type: ignore[attr-defined]  # the selector's annotation
        self.last_position = DuePosition(due=due, ticket_id=last.pk) if last is not None else None
        return rows[: self.page_size]

    def get_next_link(self) -> str | None:
        if self.last_position is None:
            return None
        due = self.last_position.due.isoformat() if self.last_position.due is not None else ""
        position = f"{due}|{self.last_position.ticket_id}"
        return self.encode_cursor(Cursor(offset=0, reverse=False, position=position))  # type: ignore[arg-type]

    def get_previous_link(self) -> str | None:
        return None

    def _position(self, request: Request) -> DuePosition | None:
        cursor = self.decode_cursor(request)  # not base64 of ours: a 400
        if cursor is None:
            return None
        due, _, raw_id = str(cursor.position or "").partition("|")
        ticket_id = parse_id(raw_id)
        try:
            due_at = datetime.fromisoformat(due) if due else None
        except ValueError:
            due_at = None
            ticket_id = None
        if ticket_id is None or cursor.reverse or (due_at is not None and due_at.tzinfo is None):
            raise ApiError(
                ErrorCode.INVALID,
                "cursor: not a cursor of this list; follow the `next` link.",
                status=400,
                fields={"cursor": ["Invalid cursor."]},
            )
        return DuePosition(due=due_at, ticket_id=ticket_id)


PAGINATION_BY_SORT: dict[Sort, type[BasePagination]] = {
    Sort.NEWEST: TicketCursorPagination,
    Sort.OLDEST: TicketOldestPagination,
    Sort.DUE: TicketDuePagination,
}


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


SORT_PARAMETER = OpenApiParameter(
    "sort",
    str,
    OpenApiParameter.QUERY,
    enum=[sort.value for sort in Sort],
    description="`newest` (the default) or `oldest` first, by id; or `due`: tickets not answered yet (whatever their "
    "status: add `status=open,priority` for the ones to work on) by `first_reply_due_at`, soonest (the overdue) "
    "first, ties by id, then every other ticket, oldest first. "
    "Each is keyset-paginated: follow `next` (with `due`, `previous` is always null). Not with `q` (search "
    "results are best first): 400.",
)


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
    pagination_class = TicketCursorPagination  # the default sort's; ``paginator`` picks the one of ``sort``

    @property
    def paginator(self) -> BasePagination | None:
        if not hasattr(self, "_paginator"):
            self._paginator = PAGINATION_BY_SORT[self._sort()]()
        return self._paginator

    def _sort(self) -> Sort:
        raw = self.request.query_params.get("sort")
        if raw is None:
            return Sort.NEWEST
        if raw not in Sort._value2member_map_:
            raise ApiError(
                ErrorCode.INVALID,
                f"sort: choose from {', '.join(Sort)}.",
                status=400,
                fields={"sort": [f"Unknown sort: {raw[:50]}."]},
            )
        return Sort(raw)

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
        description="Newest first unless `sort` says otherwise, keyset-paginated (`next`/`previous` cursors; no "
        "total count). With `q`: the matching tickets, open and closed (unless `status` says otherwise), best first.",
        parameters=[*TICKET_FILTERS, SORT_PARAMETER, *SEARCH_PARAMETERS],
        responses={200: TicketSerializer(many=True), **error_responses(400, 401, 429)},
        tags=["tickets"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        offset = self._offset(request)  # checked with or without q: a bad value is a 400 either way
        text = request.query_params.get("q", "").strip()
        if text:
            if "sort" in request.query_params:
                raise ApiError(
                    ErrorCode.INVALID,
                    "sort: search results are best first; leave `sort` out with `q`.",
                    status=400,
                    fields={"sort": ["Not with q."]},
                )
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
