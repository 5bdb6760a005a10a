"""Staff pages of the escalation app, in the inbox's frame (mounted under ``/inbox/reports/``)."""

from django.urls import path

from escalation import views

urlpatterns = [
    path("escalation", views.escalation_report_page, name="escalation-report"),
    path("escalation.csv", views.escalation_report_csv, name="escalation-report-csv"),
]
