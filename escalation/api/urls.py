"""Server API routes of the escalation app (mounted under ``/api/v1/``)."""

from django.urls import path

from escalation.api.views import AiTurnView, EscalationSettingsView

urlpatterns = [
    path("agents/<id:agent_id>/escalation-settings", EscalationSettingsView.as_view(), name="escalation-settings"),
    path("conversations/<id:conversation_id>/ai-turns", AiTurnView.as_view(), name="ai-turns"),
]
