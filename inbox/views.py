"""The staff web inbox (server-rendered, under ``/inbox/``): lists, the ticket page and its actions.

Login required. A user may belong to several workspaces: the current one is kept in the session
(``inbox_workspace_id``) and changed with the switcher; every read and write is scoped to the user's
memberships (another workspace's ticket, inbox or view is a 404). Opening a ticket of another workspace
the user belongs to (a link from Slack or email) switches to it.

Views stay thin: they read through ``inbox.selectors``, validate with ``inbox.forms``, write through
``inbox.services`` and redirect (post/redirect/get), reporting the outcome with Django messages. A page
renders the workspace's latest event number *before* its data, so its socket (``/ws/inbox/``) replays
anything that happened since; on an event the page fetches its live region again (``?partial=1``), so all
HTML — customer text included — is rendered and escaped on the server (templates; list rows by
``_row_html``), never built from event data.
"""

import re
import unicodedata
from datetime import datetime, timedelta
from html import escape as escape_html
from typing import Any, TypedDict
from urllib.parse import quote, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.text import Truncator, capfirst
from django.utils.timesince import TIME_STRINGS, timesince
from django.utils.timezone import get_current_timezone, localtime
from django.views.decorators.http import require_GET, require_POST

from halo import clock
from halo.dateformats import ParsedDateFormat
from halo.models import Membership, Workspace
from halo.params import parse_id, parse_int
from halo.search import highlight
from inbox.events import inbox_last_seq
from inbox.forms import (
    AssignForm,
    BulkForm,
    InboxMoveForm,
    NoteForm,
    ReplyForm,
    SavedViewForm,
    StatusForm,
    VerdictForm,
)
from inbox.macros import MacroContext, macro_render
from inbox.models import SavedView, Ticket, reason_label
from inbox.selectors import (
    OUTCOMES,
    UNSET,
    InboxList,
    ListFilters,
    SearchPage,
    Sort,
    TicketDetail,
    customer_context_get,
    escalation_focus_get,
    inbox_list_get,
    inbox_lists,
    inbox_next_ticket_id,
    inbox_page,
    macro_list,
    membership_list,
    teammate_choices,
    ticket_detail_get,
    ticket_reply_suggestion,
    ticket_search,
)
from inbox.services import (
    saved_view_create,
    saved_view_delete,
    teammate_availability_set,
    ticket_note_add,
    ticket_reply,
    ticket_update,
    ticket_verdict_set,
    tickets_bulk_update,
)
from inbox.sla import SlaState, sla_state

SESSION_WORKSPACE = "inbox_workspace_id"
ACTIONS = ("assign", "status", "inbox", "reply", "note", "verdict")
LIST_KEY = re.compile(r"[a-z]+(-[0-9]+)?")


def _user_id(request: HttpRequest) -> int:
    return int(request.user.pk or 0)  # views are login_required: the user has an id


def _teammate(request: HttpRequest) -> User:
    """The signed-in teammate (every view here is ``login_required``)."""
    assert isinstance(request.user, User)
    return request.user


def _memberships(request: HttpRequest) -> list[Membership]:
    memberships = membership_list(user_id=_user_id(request))
    if not memberships:
        raise PermissionDenied("You are not a member of any workspace.")
    return memberships


def _current(request: HttpRequest, memberships: list[Membership]) -> Workspace:
    wanted = request.session.get(SESSION_WORKSPACE)
    membership = next((m for m in memberships if m.workspace_id == wanted), memberships[0])
    return membership.workspace


def _base_context(
    request: HttpRequest, memberships: list[Membership], workspace: Workspace, current_key: str
) -> dict[str, Any]:
    seq = inbox_last_seq(workspace_id=workspace.pk)  # first: the socket replays whatever comes after
    return {
        "workspace": workspace,
        "memberships": memberships,
        "membership": next(m for m in memberships if m.workspace_id == workspace.pk),
        "seq": seq,
        "lists": inbox_lists(workspace=workspace, user_id=_user_id(request)),
        "current_key": current_key,
        "socket_path": "/ws/inbox/",
        "is_admin": any(m.workspace_id == workspace.pk and m.role == Membership.Role.ADMIN for m in memberships),
    }


def staff_page_context(request: HttpRequest, current_key: str) -> tuple[Workspace, dict[str, Any]]:
    """The current workspace and the context every page of the staff UI extends (nav lists, switcher, live
    sequence): for pages of the layers above that live in the inbox's frame (the escalation report)."""
    memberships = _memberships(request)
    workspace = _current(request, memberships)
    return workspace, _base_context(request, memberships, workspace, current_key)


def _safe_url(url: Any) -> str:
    """Only http(s) links are rendered as links (a source URL comes from a bot: no ``javascript:``)."""
    text = str(url or "")
    return text if urlsplit(text).scheme in ("http", "https") else ""


def _partial(request: HttpRequest) -> bool:
    return request.GET.get("partial") == "1"


class BadParameter(ValueError):
    """A query parameter of a list page that is not what the page offers: the page answers 400 saying which."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _id_param(request: HttpRequest, name: str) -> int | None:
    """An id in the query string (``halo.params``), None when absent; ``BadParameter`` when malformed."""
    raw = request.GET.get(name, "")
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        raise BadParameter(name)
    return value


def _list_filters(request: HttpRequest) -> ListFilters:
    """The filters and sort of a list page from its query string. An unknown status or sort is ignored (the
    links of older pages may name one); an id that does not parse is a ``BadParameter``."""
    statuses = tuple(status for status in request.GET.getlist("status") if status in Ticket.Status.values)
    assignee: int | str | None = None
    raw_assignee = request.GET.get("assignee", "")
    if raw_assignee == "me":
        assignee = _user_id(request)
    elif raw_assignee == UNSET:
        assignee = UNSET
    else:
        assignee = _id_param(request, "assignee")
    inbox: int | str | None = UNSET if request.GET.get("inbox") == UNSET else _id_param(request, "inbox")
    sort = Sort(request.GET["sort"]) if request.GET.get("sort") in Sort._value2member_map_ else Sort.NEWEST
    outcome = request.GET.get("outcome") if request.GET.get("outcome") in OUTCOMES else None
    return ListFilters(statuses=statuses, assignee=assignee, inbox=inbox, sort=sort, outcome=outcome)


def _filter_query(request: HttpRequest, **changes: str | None) -> str:
    """The page's query string with ``changes`` applied (None drops a key), without pagination."""
    query = request.GET.copy()
    for key in ("before", "offset", "partial"):
        query.pop(key, None)
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


class TicketRow(TypedDict):
    """One ticket of a list page with every value already formatted as text (as Django's template filters
    would format it); ``_row_html`` places and escapes them. ``None`` for a part the row does not show."""

    id: str
    url: str
    status: str
    status_label: str
    contact: str
    company: str | None
    updated_iso: str  # the ``date:"c"`` filter
    updated_title: str  # ``date:"DATETIME_FORMAT"``
    updated_ago: str  # "just now", or ``timesince`` + " ago"
    preview: str
    reason: str
    confidence: str | None
    escalations: str | None  # shown from the second escalation on
    escalation_count: str  # what the row showed, sent back by a bulk close
    assignee: str
    inbox: str | None
    rating: str | None  # the customer's score, 1-5
    contact_html: str | None  # with the search's matches highlighted (escaped), on a search page
    match_html: str | None  # the best matching message, highlighted
    sla: str | None  # ``inbox.sla.SlaState`` of a ticket waiting for (or late with) its first reply
    sla_label: str | None


PREVIEW_CHARS = 140
STATUS_LABELS = dict(Ticket.Status.choices)  # ``get_status_display`` builds this dict for every call
URL_ID_MARKER = "9" * 18  # a ticket id no workspace reaches, replaced by each row's id


def _preview(text: str | None) -> str:
    """``default:"(no message)"|truncatechars:140``. A text that fits comes back as that filter returns it
    (NFC-normalized) without ``Truncator``, which looks up the translated ellipsis for every row."""
    text = unicodedata.normalize("NFC", text or "(no message)")
    return text if len(text) <= PREVIEW_CHARS else Truncator(text).chars(PREVIEW_CHARS)


class _UnitText:
    """One of ``timesince``'s unit texts ("%(num)d hours"), each count's translation looked up once: a list page
    asks for the same few counts row after row, and a translation lookup costs more than the rest of a row's
    "ago" text. One per page (the page's language)."""

    def __init__(self, text: Any) -> None:
        self.text = text
        self.by_count: dict[int, str] = {}

    def __mod__(self, values: dict[str, int]) -> str:
        count = values["num"]
        if count not in self.by_count:
            self.by_count[count] = str(self.text % values)
        return self.by_count[count]


def _ago(at: datetime, *, now: datetime, units: dict[str, Any] | None = None) -> str:
    """ "just now" under a minute ("0 minutes ago" reads as a glitch), else Django's "5 minutes ago" (``units``:
    ``timesince``'s unit texts, ``_UnitText``s for a page of rows)."""
    return "just now" if now - at < timedelta(minutes=1) else f"{timesince(at, now, time_strings=units)} ago"


def _ticket_rows(tickets: list[Ticket], *, list_key: str, search: SearchPage | None = None) -> list[TicketRow]:
    """The rows of a list page; the ticket links carry the list (``?list=``) so the ticket page highlights it."""
    # One reverse() per page: the URL around the id is the same for every row.
    url_start, _, url_end = reverse("inbox:ticket", args=[URL_ID_MARKER]).rpartition(URL_ID_MARKER)
    url_end += f"?list={quote(list_key)}"  # what the ``urlencode`` filter does
    title_format = ParsedDateFormat(get_format("DATETIME_FORMAT"))  # ``date:"DATETIME_FORMAT"``, parsed once
    zone = get_current_timezone()  # what ``localtime`` looks up for every row
    units = {unit: _UnitText(text) for unit, text in TIME_STRINGS.items()}
    rows = []
    now = clock.now()
    for ticket in tickets:
        contact, assignee = ticket.contact, ticket.assignee
        company, custom_inbox = contact.company, ticket.inbox
        updated = localtime(ticket.updated_at, zone)  # as templates show datetimes (USE_TZ)
        assignee_name = (assignee.get_full_name() or assignee.get_username()) if assignee is not None else "Unassigned"
        contact_html = match_html = None
        if search is not None:
            hit = search.hits[ticket.pk]
            contact_html = highlight(
                " · ".join(part for part in (str(contact), contact.email, str(company) if company else None) if part),
                search.terms,
            )
            body = search.messages.get(hit.message_id) if hit.message_id is not None else None
            match_html = highlight(" ".join(body.split()), search.terms, max_chars=PREVIEW_CHARS) if body else None
        sla, sla_label = _sla_badge(ticket, now=now)
        rows.append(
            TicketRow(
                id=str(ticket.pk),
                url=f"{url_start}{ticket.pk}{url_end}",
                status=ticket.status,
                status_label=STATUS_LABELS.get(ticket.status, ticket.status),
                contact=str(contact),
                company=str(company) if company is not None else None,
                updated_iso=updated.isoformat(),
                updated_title=title_format.format(updated),
                updated_ago=_ago(updated, now=now, units=units),
                preview=_preview(getattr(ticket, "preview", None)),
                reason=capfirst(reason_label(ticket.reason)),
                confidence=str(ticket.confidence) if ticket.confidence is not None else None,
                escalations=str(ticket.escalation_count) if ticket.escalation_count > 1 else None,
                escalation_count=str(ticket.escalation_count),
                assignee=assignee_name,
                inbox=custom_inbox.name if custom_inbox is not None else None,
                rating=str(ticket.rating_score) if ticket.rating_score is not None else None,
                contact_html=contact_html,
                match_html=match_html,
                sla=sla,
                sla_label=sla_label,
            )
        )
    return rows


def _duration_text(delta: timedelta) -> str:
    """``1 h 20 min``, ``35 min``, ``2 d 3 h``: short enough for a badge."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, hours, minutes = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def _sla_badge(ticket: Ticket, *, now: datetime) -> tuple[str | None, str | None]:
    """The first-reply badge of a ticket: shown while it waits (due in…, overdue by…) and when it was late."""
    state = sla_state(ticket, now=now)
    due = ticket.first_reply_due_at
    if due is None or state in (SlaState.NONE, SlaState.MET):
        return None, None
    if state == SlaState.BREACHED:
        if ticket.first_replied_at is not None:
            return state.value, "First reply was late"
        return state.value, f"Reply overdue by {_duration_text(now - due)}"
    return state.value, f"Reply due in {_duration_text(due - now)}"


# One row of a list, placed by ``_list.html`` inside its ``<ol>``. Python rather than a template: fifty rows of
# the template engine's variable lookups and autoescaping cost more than the rest of the page's rendering.
# Invariant: the markup places only the values of ``_escaped`` and text escaped where it is placed (escaped as
# Django's ``escape`` does, ``html.escape`` with quotes; the search's highlights are ``SafeString``s of escaped
# text already). The page and its live region (``?partial=1``) both render rows through here.
ROW_HTML = (
    '\n  <li class="ticket-item">'
    '\n    <input type="checkbox" class="ticket-select" name="ticket" value="{id}" form="bulk-form"'
    ' aria-label="Select #{id} from {contact}">'
    '\n    <input type="hidden" name="seen_{id}" value="{escalation_count}" form="bulk-form">'
    '\n    <a class="ticket-row status-{status}" href="{url}" data-ticket-id="{id}">'
    '\n      <span class="ticket-row-top">'
    '\n        <span class="avatar" aria-hidden="true">{initial}</span>'
    "\n        {who}"
    '\n        <time class="ticket-time" datetime="{updated_iso}" title="{updated_title}">{updated_ago}</time>'
    "\n      </span>"
    '\n      <span class="ticket-preview">{preview}</span>'
    '\n      <span class="ticket-meta">'
    '\n        <span class="pill pill-{status}">{status_label}</span>{sla}'
    "\n        <span>#{id}</span>"
    "\n        <span>{reason}</span>{confidence}{escalations}"
    '\n        <span class="ticket-assignee">{assignee}</span>{inbox}{rating}'
    "\n      </span>"
    "\n    </a>"
    "\n  </li>"
)
ROW_META = "\n        "  # before each optional part of the meta line


def _escaped(row: TicketRow) -> dict[str, str]:
    """The row's values as HTML: text escaped, the search's highlights as they are; a part the row does not
    show (``None``) is left out."""
    return {
        name: value if isinstance(value, SafeData) else escape_html(value)
        for name, value in row.items()
        if isinstance(value, str)
    }


def _row_html(row: TicketRow) -> str:
    html = _escaped(row)
    if "contact_html" in html:
        who = f'<span class="ticket-contact">{html["contact_html"]}</span>'
    else:
        who = f'<span class="ticket-contact">{html["contact"]}</span>'
        if "company" in html:
            who += f'<span class="ticket-company">{html["company"]}</span>'
    sla = f'{ROW_META}<span class="sla-badge sla-{html["sla"]}">{html["sla_label"]}</span>' if "sla" in html else ""
    confidence = f"{ROW_META}<span>{html['confidence']}% confident</span>" if "confidence" in html else ""
    escalations = f"{ROW_META}<span>{html['escalations']} escalations</span>" if "escalations" in html else ""
    inbox = f'{ROW_META}<span class="ticket-inbox">{html["inbox"]}</span>' if "inbox" in html else ""
    rating = html.get("rating")
    stars = (
        f'{ROW_META}<span class="ticket-rating rating-{rating}" title="Customer rating: {rating} out of 5">'
        f"★ {rating}/5</span>"
        if rating is not None
        else ""
    )
    return ROW_HTML.format_map(
        html
        | {
            "initial": escape_html(row["contact"][:1].upper()),  # the template's ``slice:":1"|upper``
            "who": who,
            "preview": html.get("match_html", html["preview"]),
            "sla": sla,
            "confidence": confidence,
            "escalations": escalations,
            "inbox": inbox,
            "rating": stars,
        }
    )


def _rows_html(rows: list[TicketRow]) -> SafeString:
    # Safe by ROW_HTML's invariant: every value a row places comes from ``_escaped``.
    return mark_safe("".join(_row_html(row) for row in rows))  # noqa: S308  # nosec B308 B703


@login_required
@require_GET
def inbox_home(request: HttpRequest) -> HttpResponse:
    return redirect("inbox:list", key="open")


@login_required
@require_GET
def list_view(request: HttpRequest, key: str) -> HttpResponse:
    memberships = _memberships(request)
    workspace = _current(request, memberships)
    context = _base_context(request, memberships, workspace, key)
    # The sidebar holds every list of the workspace under its own key: the page's list is taken from it
    # rather than read again (a saved view or a team inbox); a key spelled otherwise is looked up.
    inbox_list = next((item for item in context["lists"] if item.key == key), None) or inbox_list_get(
        workspace=workspace, user_id=_user_id(request), key=key
    )
    if inbox_list is None:
        raise Http404("No such list.")
    try:
        before = _id_param(request, "before")
        filters = _list_filters(request)
    except BadParameter as error:
        return HttpResponseBadRequest(
            f"The {error.name} parameter must be an id (ASCII digits).", content_type="text/plain"
        )
    text = request.GET.get("q", "").strip()[:200]
    search: SearchPage | None = None
    next_offset: int | None = None
    if text:
        offset = parse_int(request.GET.get("offset", "0"), minimum=0, maximum=10_000) or 0
        search = ticket_search(workspace=workspace, text=text, inbox_list=inbox_list, filters=filters, offset=offset)
        tickets, next_before, next_offset = search.tickets, None, search.next_offset
    else:
        tickets, next_before = inbox_page(workspace=workspace, inbox_list=inbox_list, before=before, filters=filters)
    rows = _ticket_rows(tickets, list_key=key, search=search)
    context.update(
        {
            "list": inbox_list,
            "rows": rows,
            "rows_html": _rows_html(rows),
            "next_before": next_before,
            "next_offset": next_offset,
            "before": before,
            "q": text,
            "filters": filters,
            "filter_options": _filter_options(
                request, workspace=workspace, inbox_list=inbox_list, filters=filters, lists=context["lists"]
            ),
            "next_query": _filter_query(request),
            "older_url": _filter_query(request, before=str(next_before)) if next_before else None,
            "more_url": _filter_query(request, offset=str(next_offset)) if next_offset else None,
            "snooze_choices": StatusForm.SNOOZE_CHOICES,
        }
    )
    template = "inbox/_list_live.html" if _partial(request) else "inbox/list.html"
    return render(request, template, context)


def _filter_options(
    request: HttpRequest, *, workspace: Workspace, inbox_list: InboxList, filters: ListFilters, lists: list[InboxList]
) -> dict[str, Any]:
    """The choices of the list's filter bar and bulk actions: teammates (one query) and team inboxes (from the
    sidebar's lists)."""
    teammates = teammate_choices(workspace_id=workspace.pk)
    inboxes = [(item.inbox, item.label) for item in lists if item.kind == "inbox"]
    return {
        "statuses": [
            (value, label, value in filters.statuses)
            for value, label in Ticket.Status.choices
            if not inbox_list.statuses or value in inbox_list.statuses
        ],
        "assignee": "me" if filters.assignee == _user_id(request) else str(filters.assignee or ""),
        "inbox": str(filters.inbox or ""),
        "sort": filters.sort.value,
        "teammates": [(user.pk, user.get_full_name() or user.get_username()) for user in teammates],
        "inboxes": inboxes,
        "outcome": filters.outcome or "",
        "outcomes": [(key, label) for key, (label, _) in OUTCOMES.items()],
        "active": filters.active,
        "clear_url": _filter_query(request, status=None, assignee=None, inbox=None, outcome=None),
    }


def _source_rows(sources: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "title": str(source.get("title") or source.get("url") or "Untitled"),
            "url": _safe_url(source.get("url")),
            "score": source.get("score"),
        }
        for source in sources
        if isinstance(source, dict)
    ]


def _ticket_context(detail: TicketDetail, *, teammate: User) -> dict[str, Any]:
    ticket = detail.ticket
    focus = escalation_focus_get(detail=detail)
    escalating = _source_rows([source.to_json() for source in focus.sources])
    escalating_keys = {(row["title"], row["url"]) for row in escalating}
    other_sources = [
        row for row in _source_rows(ticket.knowledge_sources) if (row["title"], row["url"]) not in escalating_keys
    ]
    contact, company = ticket.contact, ticket.contact.company
    macro_context = MacroContext(
        customer_name=contact.name or "",
        customer_email=contact.email or "",
        company_name=(company.name or "") if company is not None else "",
        teammate_name=teammate.get_full_name() or teammate.get_username(),
        teammate_first_name=teammate.first_name,
        ticket_id=str(ticket.pk),
    )
    macros = [
        {"id": macro.pk, "name": macro.name, "text": macro_render(macro.body, macro_context)}
        for macro in macro_list(workspace_id=ticket.workspace_id)
    ]
    suggestion = ticket_reply_suggestion(workspace=ticket.workspace, focus=focus)
    tools = []
    for tool in ticket.tools_tried:
        if isinstance(tool, dict):
            arguments = tool.get("arguments") if isinstance(tool.get("arguments"), dict) else {}
            detail_text = ", ".join(f"{k}: {v}" for k, v in (arguments or {}).items() if v not in (None, ""))
            tools.append({"name": str(tool.get("name", "")), "detail": detail_text})
    history = []
    for event in detail.escalations:
        label = reason_label(event.reason)
        verb = "Created" if event.outcome == "created" else "Merged"
        history.append(
            {
                "text": f"{verb} because {label}",
                "conversation_id": event.conversation_id,
                "confidence": event.confidence,
                "priority_matched": event.priority_matched,
                "settings_version": event.settings_version,
                "created_at": event.created_at,
            }
        )
    sla, sla_label = _sla_badge(ticket, now=clock.now())
    if sla is None and sla_state(ticket, now=clock.now()) == SlaState.MET:
        sla, sla_label = SlaState.MET.value, "First reply in time"
    return {
        "ticket": ticket,
        "detail": detail,
        "sla": sla,
        "sla_label": sla_label,
        "reason_label": reason_label(ticket.reason),
        "needed": focus.needed,
        "sources": escalating or other_sources[:1],
        "other_sources": other_sources if escalating else other_sources[1:],
        "customer": customer_context_get(ticket=ticket),
        "macros": macros,
        "suggestion": macro_render(suggestion, macro_context) if suggestion else None,
        "tools": tools,
        "history": history,
        "statuses": Ticket.Status.choices,
        "snooze_choices": StatusForm.SNOOZE_CHOICES,
        "verdicts": Ticket.Verdict.choices,
    }


@login_required
@require_GET
def ticket_view(request: HttpRequest, ticket_id: int) -> HttpResponse:
    memberships = _memberships(request)
    detail = ticket_detail_get(workspace_ids=[m.workspace_id for m in memberships], ticket_id=ticket_id)
    if detail is None:
        raise Http404("No such ticket.")
    if request.session.get(SESSION_WORKSPACE) != detail.ticket.workspace_id:
        request.session[SESSION_WORKSPACE] = detail.ticket.workspace_id
    workspace = detail.ticket.workspace
    list_key = request.GET.get("list", "")
    context = _base_context(request, memberships, workspace, list_key if LIST_KEY.fullmatch(list_key) else "")
    context.update(_ticket_context(detail, teammate=_teammate(request)))
    template = "inbox/_ticket_live.html" if _partial(request) else "inbox/ticket.html"
    return render(request, template, context)


def _redirect_back(request: HttpRequest, ticket: Ticket) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("inbox:ticket", ticket_id=ticket.pk)


def _redirect_next(request: HttpRequest, ticket: Ticket) -> HttpResponse:
    """After "Close and next": the next ticket of the list the teammate came from, else that list."""
    key = request.POST.get("list", "")
    key = key if LIST_KEY.fullmatch(key) else "open"
    inbox_list = inbox_list_get(workspace=ticket.workspace, user_id=_user_id(request), key=key)
    if inbox_list is None:
        key, inbox_list = "open", inbox_list_get(workspace=ticket.workspace, user_id=_user_id(request), key="open")
    assert inbox_list is not None  # "open" always exists
    next_id = inbox_next_ticket_id(workspace=ticket.workspace, inbox_list=inbox_list, after_id=ticket.pk)
    if next_id is None:
        messages.info(request, "That was the last ticket of this list.")
        return redirect("inbox:list", key=key)
    return redirect(f"{reverse('inbox:ticket', args=[next_id])}?list={quote(key)}")


def _form_errors(form: Any) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _validation_errors(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return " ".join(str(message) for messages_ in error.message_dict.values() for message in messages_)
    return " ".join(str(message) for message in error.messages)


@login_required
@require_POST
def ticket_action(request: HttpRequest, ticket_id: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404("No such action.")
    memberships = _memberships(request)
    detail = ticket_detail_get(workspace_ids=[m.workspace_id for m in memberships], ticket_id=ticket_id)
    if detail is None:
        raise Http404("No such ticket.")
    ticket, user = detail.ticket, _teammate(request)
    form: Any
    try:
        if action == "assign":
            if request.POST.get("assignee") == "me":
                data = request.POST.copy()
                data["assignee"] = str(user.pk)
                form = AssignForm(data, teammates=detail.teammates)
            else:
                form = AssignForm(request.POST, teammates=detail.teammates)
            if form.is_valid():
                ticket_update(ticket=ticket, data={"assignee": form.cleaned_data["assignee"]}, actor=user)
                messages.success(request, "Assignee updated.")
        elif action == "status":
            form = StatusForm(request.POST)
            if form.is_valid():
                ticket_update(
                    ticket=ticket,
                    data=form.changes(now=timezone.now()),
                    actor=user,
                    seen_escalation_count=form.cleaned_data["seen_escalations"],
                )
                messages.success(request, f"Status set to {dict(Ticket.Status.choices)[form.cleaned_data['status']]}.")
                if request.POST.get("and_next") == "1":
                    return _redirect_next(request, ticket)
        elif action == "inbox":
            form = InboxMoveForm(request.POST, workspace_id=ticket.workspace_id)
            if form.is_valid():
                ticket_update(ticket=ticket, data={"inbox": form.cleaned_data["inbox"]}, actor=user)
                messages.success(request, "Moved.")
        elif action == "reply":
            form = ReplyForm(request.POST, conversation_ids=[c.pk for c in detail.conversations])
            if form.is_valid():
                ticket_reply(
                    ticket=ticket,
                    teammate=user,
                    body=form.cleaned_data["body"],
                    conversation_id=form.cleaned_data["conversation"],
                )
                messages.success(request, "Reply sent to the customer.")
        elif action == "note":
            form = NoteForm(request.POST)
            if form.is_valid():
                ticket_note_add(ticket=ticket, author=user, body=form.cleaned_data["body"])
                messages.success(request, "Note added.")
        else:
            form = VerdictForm(request.POST)
            if form.is_valid():
                ticket_verdict_set(ticket=ticket, user=user, verdict=form.cleaned_data["verdict"])
                messages.success(request, "Thanks: verdict recorded.")
        if not form.is_valid():
            messages.error(request, _form_errors(form))
    except ValidationError as error:
        messages.error(request, _validation_errors(error))
    return _redirect_back(request, ticket)


@login_required
@require_POST
def workspace_switch(request: HttpRequest) -> HttpResponse:
    memberships = _memberships(request)
    workspace_id = parse_id(request.POST.get("workspace", ""))
    if workspace_id is None or workspace_id not in {m.workspace_id for m in memberships}:
        raise Http404("No such workspace.")
    request.session[SESSION_WORKSPACE] = workspace_id
    return redirect("inbox:home")


@login_required
@require_POST
def availability_set(request: HttpRequest) -> HttpResponse:
    """The teammate's own availability in the current workspace (the header's Available / Away toggle)."""
    memberships = _memberships(request)
    workspace = _current(request, memberships)
    membership = next(m for m in memberships if m.workspace_id == workspace.pk)
    value = request.POST.get("available", "")
    if value not in ("true", "false"):
        messages.error(request, "Choose available or away.")
    else:
        available = value == "true"
        teammate_availability_set(membership=membership, data={"available": available})
        messages.success(
            request,
            "You're available: team inboxes assign you new tickets."
            if available
            else "You're away: team inboxes assign you no new tickets.",
        )
    target = request.POST.get("next", "")
    back = target if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else None
    return redirect(back or "inbox:home")


@login_required
def saved_view_new(request: HttpRequest) -> HttpResponse:
    memberships = _memberships(request)
    workspace = _current(request, memberships)
    form = SavedViewForm(request.POST or None, workspace_id=workspace.pk)
    if request.method == "POST" and form.is_valid():
        try:
            view = saved_view_create(
                workspace=workspace,
                name=form.cleaned_data["name"],
                rule=form.cleaned_data["rule"] or "",
                statuses=form.cleaned_data["statuses"],
                assignee=form.cleaned_data["assignee"] or SavedView.Assignee.ANY,
                inbox=form.cleaned_data["inbox"],
                created_by=_teammate(request),
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"View “{view.name}” saved.")
            return redirect("inbox:list", key=f"view-{view.pk}")
    context = _base_context(request, memberships, workspace, "")
    context["form"] = form
    return render(request, "inbox/saved_view_form.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def saved_view_remove(request: HttpRequest, view_id: int) -> HttpResponse:
    memberships = _memberships(request)
    view = SavedView.objects.filter(pk=view_id, workspace_id__in=[m.workspace_id for m in memberships]).first()
    if view is None:
        raise Http404("No such view.")
    saved_view_delete(view=view)
    messages.success(request, f"View “{view.name}” deleted.")
    return redirect(reverse("inbox:home"))


@login_required
@require_POST
def bulk_action(request: HttpRequest) -> HttpResponse:
    """One change for the selected tickets (assign, move, snooze, close, re-open), each validated and written
    as one by ``inbox.services.tickets_bulk_update``; the message says how many changed and why others did not."""
    memberships = _memberships(request)
    workspace = _current(request, memberships)
    form = BulkForm(request.POST, workspace_id=workspace.pk, user_id=_user_id(request))
    target = request.POST.get("next", "")
    back = target if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else None
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(back or "inbox:home")
    seen = {
        ticket_id: count
        for ticket_id in form.cleaned_data["ticket"]
        if (count := parse_int(request.POST.get(f"seen_{ticket_id}", ""), minimum=1)) is not None
    }
    outcome = tickets_bulk_update(
        workspace=workspace,
        ticket_ids=form.cleaned_data["ticket"],
        data=form.changes(now=timezone.now()),
        actor=_teammate(request),
        seen_escalation_counts=seen,
    )
    if outcome.changed:
        count = len(outcome.changed)
        messages.success(request, f"{form.done_label()} {count} ticket{'s' if count != 1 else ''}.")
    for ticket_id, why in outcome.refused.items():
        messages.error(request, f"#{ticket_id}: {why}")
    return redirect(back or "inbox:home")
