"""The staff web inbox (mounted under ``/inbox/``; namespace ``inbox``)."""

from django.urls import path

from inbox import views

app_name = "inbox"

urlpatterns = [
    path("", views.inbox_home, name="home"),
    path("workspace", views.workspace_switch, name="workspace-switch"),
    path("availability", views.availability_set, name="availability"),
    path("bulk", views.bulk_action, name="bulk"),
    path("views/new", views.saved_view_new, name="view-new"),
    path("views/<int:view_id>/delete", views.saved_view_remove, name="view-delete"),
    path("tickets/<int:ticket_id>/", views.ticket_view, name="ticket"),
    path("tickets/<int:ticket_id>/<str:action>", views.ticket_action, name="ticket-action"),
    path("<str:key>/", views.list_view, name="list"),
]
