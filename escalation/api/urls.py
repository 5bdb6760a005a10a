"""Server API routes of the escalation app (mounted under ``/api/v1/``)."""

from django.urls import path

from escalation.api.reports import EscalationReportCsvView, EscalationReportView
from escalation.api.views import (
    AiTurnView,
    EscalationPreviewView,
    EscalationSettingsView,
    EscalationShadowPromoteView,
    EscalationShadowView,
    EscalationSuggestionsView,
    KnowledgeGapListView,
    KnowledgeGapView,
)

urlpatterns = [
    path("agents/<int:agent_id>/escalation-settings", EscalationSettingsView.as_view(), name="escalation-settings"),
    path(
        "agents/<int:agent_id>/escalation-settings/preview",
        EscalationPreviewView.as_view(),
        name="escalation-settings-preview",
    ),
    path("agents/<int:agent_id>/escalation-settings/shadow", EscalationShadowView.as_view(), name="escalation-shadow"),
    path(
        "agents/<int:agent_id>/escalation-settings/shadow/promote",
        EscalationShadowPromoteView.as_view(),
        name="escalation-shadow-promote",
    ),
    path(
        "agents/<int:agent_id>/escalation-settings/suggestions",
        EscalationSuggestionsView.as_view(),
        name="escalation-suggestions",
    ),
    path("reports/escalation", EscalationReportView.as_view(), name="report-escalation"),
    path("reports/escalation.csv", EscalationReportCsvView.as_view(), name="report-escalation-csv"),
    path("knowledge/gaps", KnowledgeGapListView.as_view(), name="knowledge-gaps"),
    path("knowledge/gaps/<str:gap_id>", KnowledgeGapView.as_view(), name="knowledge-gap"),
    path("conversations/<int:conversation_id>/ai-turns", AiTurnView.as_view(), name="ai-turns"),
]
