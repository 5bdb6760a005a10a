"""Public pages of the agents app: the widget demo page, and the pages a customer reaches from Halo's emails.

``/widget/demo/`` embeds the widget of the workspace given by ``?app_id=``, or of the seeded demo
workspace (slug ``acme``). The ``app_id`` is public by design (it is in every page that embeds the widget).

``/chat/<link token>/`` is the hosted conversation page a reply email links to: the widget, open, on that
conversation, authenticated by the signed link token (``agents.links``) instead of the token the customer's
browser may no longer have. ``/chat/confirm/<token>/`` shows the address a visitor typed and confirms it on a
button press (a POST: mail scanners that open links must not confirm an address for its owner). An expired or
forged link gets a page that says so (410 or 404), never an error.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_http_methods

from agents.links import LinkProblem, LinkRefused, conversation_link_token_read
from agents.models import Conversation, Message
from agents.services import message_post
from halo.email_confirmation import ConfirmProblem, ConfirmRefused, email_confirmation_read
from halo.models import Workspace
from halo.selectors import APP_ID_PATTERN
from halo.services import EmailNotConfirmed, contact_email_verify

DEMO_WORKSPACE_SLUG = "acme"


def widget_demo(request: HttpRequest) -> HttpResponse:
    app_id = request.GET.get("app_id")
    workspaces = Workspace.objects.filter(agents__isnull=False).distinct()
    if app_id:
        workspace = workspaces.filter(app_id=app_id).first() if APP_ID_PATTERN.fullmatch(app_id) else None
    else:
        workspace = workspaces.filter(slug=DEMO_WORKSPACE_SLUG).first()
    if workspace is None:
        raise Http404("No workspace with an AI agent: run `manage.py seed_demo` first.")
    script_url = request.build_absolute_uri(static("agents/widget.js"))
    return render(
        request,
        "agents/demo.html",
        {"workspace": workspace, "script_url": script_url, "open": request.GET.get("open") == "1"},
    )


def _link_problem(request: HttpRequest, *, expired: bool, what: str) -> HttpResponse:
    return render(
        request,
        "agents/link_problem.html",
        {"expired": expired, "what": what},
        status=410 if expired else 404,
    )


def conversation_link(request: HttpRequest, token: str) -> HttpResponse:
    """The hosted conversation page of a reply email's link."""
    try:
        conversation_id = conversation_link_token_read(token)
    except LinkRefused as refused:
        return _link_problem(request, expired=refused.problem == LinkProblem.EXPIRED, what="conversation")
    conversation = Conversation.objects.select_related("workspace").filter(pk=conversation_id).first()
    if conversation is None:
        return _link_problem(request, expired=False, what="conversation")
    return render(
        request,
        "agents/conversation.html",
        {
            "workspace": conversation.workspace,
            "conversation": conversation,
            "token": token,
            "script_url": request.build_absolute_uri(static("agents/widget.js")),
        },
    )


@require_http_methods(["GET", "POST"])
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the address and a "Confirm" button; POST makes it the contact's verified email."""
    try:
        claim = email_confirmation_read(token)
    except ConfirmRefused as refused:
        return _link_problem(request, expired=refused.problem == ConfirmProblem.EXPIRED, what="confirmation")
    if request.method == "GET":
        return render(request, "agents/email_confirm.html", {"email": claim.email, "confirmed": False})
    try:
        contact, newly = contact_email_verify(claim=claim)
    except EmailNotConfirmed:
        return _link_problem(request, expired=False, what="confirmation")
    conversation = Conversation.objects.filter(contact=contact).order_by("-updated_at", "-id").first()
    if conversation is not None and newly:
        message_post(
            conversation=conversation,
            author=Message.Author.SYSTEM,
            body=f"Thanks for confirming. We'll email you at {claim.email} when our team replies while you're away.",
        )
    return render(request, "agents/email_confirm.html", {"email": claim.email, "confirmed": True})
