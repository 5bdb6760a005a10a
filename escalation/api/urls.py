"""Server API routes of the escalation app (mounted under ``/api/v1/``)."""

from django.urls import path

from escalation.api.reports import EscalationReportCsvView, EscalationReportView
from escalation.api.views import AiTurnView, EscalationSettingsView

urlpatterns = [
    path("agents/<int:agent_id>/escalation-settings", EscalationSettingsView.as_view(), name="escalation-settings"),
    path("reports/escalation", EscalationReportView.as_view(), name="report-escalation"),
    path("reports/escalation.csv", EscalationReportCsvView.as_view(), name="report-escalation-csv"),
    path("conversations/<int:conversation_id>/ai-turns", AiTurnView.as_view(), name="ai-turns"),
]
