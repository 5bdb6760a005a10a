"""Public pages of the agents app: the widget demo page (a pretend customer site with the widget embedded).

``/widget/demo/`` embeds the widget of the workspace given by ``?app_id=``, or of the seeded demo
workspace (slug ``acme``). The ``app_id`` is public by design (it is in every page that embeds the widget).
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static

from halo.models import Workspace
from halo.selectors import APP_ID_PATTERN

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
