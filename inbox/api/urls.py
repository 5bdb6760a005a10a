"""Server API routes of the inbox app (mounted under ``/api/v1/``)."""

from django.urls import path

from inbox.api.views import CustomInboxView, MemberView, TicketListView, TicketView

urlpatterns = [
    path("tickets", TicketListView.as_view(), name="ticket-list"),
    path("tickets/<int:ticket_id>", TicketView.as_view(), name="ticket"),
    path("inboxes/<int:inbox_id>", CustomInboxView.as_view(), name="inbox"),
    path("members/<int:user_id>", MemberView.as_view(), name="member"),
]
