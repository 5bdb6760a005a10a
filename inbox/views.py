"""The staff web inbox (server-rendered, under ``/inbox/``): lists, the ticket page and its actions.

Login required. A user may belong to several workspaces: the current one is kept in the session
(``inbox_workspace_id``) and changed with the switcher; every read and write is scoped to the user's
memberships (another workspace's ticket, inbox or view is a 404). Opening a ticket of another workspace
the user belongs to (a link from Slack or email) switches to it.

Views stay thin: they read through ``inbox.selectors``, validate with ``inbox.forms``, write through
``inbox.services`` and redirect (post/redirect/get), reporting the outcome with Django messages. A page
renders the workspace's latest event number *before* its data, so its socket (``/ws/inbox/``) replays
anything that happened since; on an event the page fetches its live region again (``?partial=1``), so all
HTML — customer text included — is rendered and escaped by templates, never built from event data.
"""

import re
import unicodedata
from typing import Any, TypedDict
from urllib.parse import quote, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.formats import get_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator, capfirst
from django.utils.timesince import timesince
from django.utils.timezone import localtime
from django.views.decorators.http import require_GET, require_POST

from halo.models import Membership, Workspace
from inbox.events import inbox_last_seq
from inbox.forms import AssignForm, InboxMoveForm, NoteForm, ReplyForm, SavedViewForm, StatusForm, VerdictForm
from inbox.models import SavedView, Ticket, reason_label
from inbox.selectors import (
    TicketDetail,
    inbox_list_get,
    inbox_lists,
    inbox_page,
    ticket_detail_get,
)
from inbox.services import (
    saved_view_create,
    saved_view_delete,
    ticket_note_add,
    ticket_reply,
    ticket_update,
    ticket_verdict_set,
)

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
    memberships = list(
        Membership.objects.filter(user_id=_user_id(request)).select_related("workspace").order_by("workspace__name")
    )
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
        "seq": seq,
        "lists": inbox_lists(workspace=workspace, user_id=_user_id(request)),
        "current_key": current_key,
        "socket_path": "/ws/inbox/",
    }


def _safe_url(url: Any) -> str:
    """Only http(s) links are rendered as links (a source URL comes from a bot: no ``javascript:``)."""
    text = str(url or "")
    return text if urlsplit(text).scheme in ("http", "https") else ""


def _partial(request: HttpRequest) -> bool:
    return request.GET.get("partial") == "1"


class TicketRow(TypedDict):
    """One ticket of a list page with every value already formatted as its template filters would: the
    template only places and escapes them: fifty rows of variable lookups, ``{% url %}`` and date filters
    cost far more in the template engine than the same work in Python. A dict, because a template
    looks a name up in a dict first (an object costs a failed ``[]`` and a ``getattr``). ``None`` for a
    part the row does not show."""

    id: str
    url: str
    status: str
    status_label: str
    contact: str
    company: str | None
    updated_iso: str  # the ``date:"c"`` filter
    updated_title: str  # ``date:"DATETIME_FORMAT"``
    updated_ago: str  # ``timesince``
    preview: str
    reason: str
    confidence: str | None
    escalations: str | None  # shown from the second escalation on
    assignee: str
    inbox: str | None


PREVIEW_CHARS = 140
URL_ID_MARKER = "9" * 18  # a ticket id no workspace reaches, replaced by each row's id


def _preview(text: str | None) -> str:
    """``default:"(no message)"|truncatechars:140``. A text that fits comes back as that filter returns it
    (NFC-normalized) without ``Truncator``, which looks up the translated ellipsis for every row."""
    text = unicodedata.normalize("NFC", text or "(no message)")
    return text if len(text) <= PREVIEW_CHARS else Truncator(text).chars(PREVIEW_CHARS)


def _ticket_rows(tickets: list[Ticket], *, list_key: str) -> list[TicketRow]:
    """The rows of a list page; the ticket links carry the list (``?list=``) so the ticket page highlights it."""
    # One reverse() per page: the URL around the id is the same for every row.
    url_start, _, url_end = reverse("inbox:ticket", args=[URL_ID_MARKER]).rpartition(URL_ID_MARKER)
    url_end += f"?list={quote(list_key)}"  # what the ``urlencode`` filter does
    title_format = get_format("DATETIME_FORMAT")  # what ``date:"DATETIME_FORMAT"`` looks up for every row
    rows = []
    for ticket in tickets:
        contact, assignee = ticket.contact, ticket.assignee
        company, custom_inbox = contact.company, ticket.inbox
        updated = localtime(ticket.updated_at)  # as templates show datetimes (USE_TZ)
        assignee_name = (assignee.get_full_name() or assignee.get_username()) if assignee is not None else "Unassigned"
        rows.append(
            TicketRow(
                id=str(ticket.pk),
                url=f"{url_start}{ticket.pk}{url_end}",
                status=ticket.status,
                status_label=ticket.get_status_display(),
                contact=str(contact),
                company=str(company) if company is not None else None,
                updated_iso=updated.isoformat(),
                updated_title=dateformat.format(updated, title_format),
                updated_ago=timesince(updated),
                preview=_preview(getattr(ticket, "preview", None)),
                reason=capfirst(reason_label(ticket.reason)),
                confidence=str(ticket.confidence) if ticket.confidence is not None else None,
                escalations=str(ticket.escalation_count) if ticket.escalation_count > 1 else None,
                assignee=assignee_name,
                inbox=custom_inbox.name if custom_inbox is not None else None,
            )
        )
    return rows


@login_required
@require_GET
def inbox_home(request: HttpRequest) -> HttpResponse:
    return redirect("inbox:list", key="open")


@login_required
@require_GET
def list_view(request: HttpRequest, key: str) -> HttpResponse:
    memberships = _memberships(request)
    workspace = _current(request, memberships)
    inbox_list = inbox_list_get(workspace=workspace, user_id=_user_id(request), key=key)
    if inbox_list is None:
        raise Http404("No such list.")
    raw_before = request.GET.get("before", "")
    before = int(raw_before) if raw_before.isdigit() else None
    context = _base_context(request, memberships, workspace, key)
    tickets, next_before = inbox_page(workspace=workspace, inbox_list=inbox_list, before=before)
    rows = _ticket_rows(tickets, list_key=key)
    context.update({"list": inbox_list, "rows": rows, "next_before": next_before, "before": before})
    template = "inbox/_list_live.html" if _partial(request) else "inbox/list.html"
    return render(request, template, context)


def _ticket_context(detail: TicketDetail) -> dict[str, Any]:
    ticket = detail.ticket
    sources = [
        {
            "title": str(source.get("title") or source.get("url") or "Untitled"),
            "url": _safe_url(source.get("url")),
            "score": source.get("score"),
        }
        for source in ticket.knowledge_sources
        if isinstance(source, dict)
    ]
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
    return {
        "ticket": ticket,
        "detail": detail,
        "reason_label": reason_label(ticket.reason),
        "sources": sources,
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
    context.update(_ticket_context(detail))
    template = "inbox/_ticket_live.html" if _partial(request) else "inbox/ticket.html"
    return render(request, template, context)


def _redirect_back(request: HttpRequest, ticket: Ticket) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("inbox:ticket", ticket_id=ticket.pk)


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
    raw = request.POST.get("workspace", "")
    if not raw.isdigit() or int(raw) not in {m.workspace_id for m in memberships}:
        raise Http404("No such workspace.")
    request.session[SESSION_WORKSPACE] = int(raw)
    return redirect("inbox:home")


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
