"""Server API routes of the inbox app (mounted under ``/api/v1/``)."""

from django.urls import path

from inbox.api.views import TicketListView, TicketView

urlpatterns = [
    path("tickets", TicketListView.as_view(), name="ticket-list"),
    path("tickets/<id:ticket_id>", TicketView.as_view(), name="ticket"),
]
