"""The escalation report page (``/inbox/reports/escalation``), for a workspace's admins, in the staff inbox's
frame: pickers for agent, dates and settings version, the figures with their definitions, daily charts as
server-rendered SVG, and the CSV export (``.csv``, the same query string)."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from agents.selectors import agent_list
from escalation.api.reports import report_csv_response
from escalation.charts import report_charts
from escalation.reports import (
    AI_RESOLUTION_DEFINITION,
    REASONS,
    RULES,
    ReportQuery,
    escalation_report,
    report_query_parse,
    report_versions,
)
from escalation.selectors import agent_escalation_settings
from escalation.tuning import shadow_summary_context
from halo.models import Workspace
from inbox.models import REASON_LABELS
from inbox.views import staff_page_context

RULE_LABELS = {
    "mode_off": "Escalation mode is off",
    "filter": "Contact outside the escalation filter",
    "gate_knowledge": "Knowledge search required first",
    "gate_web": "Web search required first",
    "gate_attempts": "Max attempts not reached yet",
}
PAGE_KEY = "report-escalation"


def _admin_context(request: HttpRequest) -> tuple[Workspace, dict[str, Any]]:
    workspace, context = staff_page_context(request, PAGE_KEY)
    if not context["is_admin"]:
        raise PermissionDenied("The escalation report is for the workspace's admins.")
    return workspace, context


def _query(request: HttpRequest, workspace: Workspace) -> tuple[ReportQuery, dict[str, list[str]]]:
    """The page's query, or the default one with the errors to show (a bad value never breaks the page)."""
    try:
        return report_query_parse(workspace=workspace, params=request.GET.dict()), {}
    except ValidationError as error:
        return report_query_parse(workspace=workspace, params={}), error.message_dict


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


@login_required
@require_GET
def escalation_report_page(request: HttpRequest) -> HttpResponse:
    workspace, context = _admin_context(request)
    query, errors = _query(request, workspace)
    report = escalation_report(query)
    agents = list(agent_list(workspace=workspace).only("id", "name"))
    versions = report_versions(workspace=workspace, agent_id=query.agent_id) if query.agent_id else []
    counts = report["_counts"]
    reasons_total = sum(report["escalations_by_reason"].values()) or 1
    held_total = sum(report["held_back_by"].values()) or 1
    csat = report["csat"]
    tickets_url = reverse("inbox:list", args=["all"])  # every ticket, open or closed, filtered by outcome
    # The chosen agent's shadow settings, if it has some: how often they agree with the live decisions.
    shadow_context: dict[str, Any] = {"shadow": None, "shadow_changes": []}
    chosen = next((agent for agent in agents if agent.pk == query.agent_id), None)
    live_settings = agent_escalation_settings(agent=chosen) if chosen is not None else None
    if live_settings is not None:
        shadow_context = shadow_summary_context(live_settings)
    context.update(
        {
            "query": query,
            "errors": errors,
            "agents": agents,
            "versions": versions,
            "report": report,
            "definition": AI_RESOLUTION_DEFINITION,
            "cards": [
                ("Conversations", str(report["conversations"]), f"{counts['involved']} with an AI reply"),
                ("Involvement", _percent(report["involvement_rate"]), "conversations the AI replied in"),
                ("AI resolution rate", _percent(report["ai_resolution_rate"]), f"{counts['ai_resolved']} resolved"),
                ("Escalation rate", _percent(report["escalation_rate"]), f"{counts['escalated']} escalated"),
                ("Delayed escalations", str(report["delayed_escalations"]), "held back, then escalated"),
                ("Reopen rate", _percent(report["reopen_rate"]), f"of {counts['tickets']} tickets"),
                ("Median first reply", _duration(report["median_first_reply_seconds"]), "teammate, after handoff"),
                ("SLA met", _percent(report["sla_met_rate"]), f"of {counts['sla_due']} with a due time"),
                (
                    "CSAT · AI",
                    "—" if csat["ai"]["average"] is None else f"{csat['ai']['average']:.1f}",
                    f"{csat['ai']['count']} ratings",
                ),
                (
                    "CSAT · Human",
                    "—" if csat["human"]["average"] is None else f"{csat['human']['average']:.1f}",
                    f"{csat['human']['count']} ratings",
                ),
            ],
            "reasons": [
                (
                    REASON_LABELS[reason],
                    report["escalations_by_reason"][reason],
                    100 * report["escalations_by_reason"][reason] // reasons_total,
                    f"{tickets_url}?outcome=reason-{reason}",
                )
                for reason in REASONS
            ],
            "rules": [
                (RULE_LABELS[rule], report["held_back_by"][rule], 100 * report["held_back_by"][rule] // held_total)
                for rule in RULES
            ],
            "verdicts": [
                (
                    "AI could have answered",
                    report["verdicts"]["ai_could_have_answered"],
                    f"{tickets_url}?outcome=ai_could_have_answered",
                ),
                (
                    "Right to escalate",
                    report["verdicts"]["right_to_escalate"],
                    f"{tickets_url}?outcome=right_to_escalate",
                ),
            ],
            "delayed_url": f"{tickets_url}?outcome=delayed",
            "unjudged_url": f"{tickets_url}?outcome=unjudged",
            "charts": report_charts(report),
            "csv_query": request.GET.urlencode(),
            **shadow_context,
        }
    )
    return render(request, "escalation/report.html", context)


@login_required
@require_GET
def escalation_report_csv(request: HttpRequest) -> HttpResponse:
    workspace, _ = _admin_context(request)
    try:
        query = report_query_parse(workspace=workspace, params=request.GET.dict())
    except ValidationError as error:
        return HttpResponse("\n".join(error.messages), status=400, content_type="text/plain; charset=utf-8")
    return report_csv_response(escalation_report(query))
