"""Server API routes of the halo app (mounted under ``/api/v1/``)."""

from django.urls import path

from halo.api.views import BusinessHoursView, ContactEventsView, ContactView
from halo.api.webhooks import WebhookEndpointListView, WebhookEndpointView

urlpatterns = [
    path("contacts/<str:user_id>", ContactView.as_view(), name="contact"),
    path("contacts/<str:user_id>/events", ContactEventsView.as_view(), name="contact-events"),
    path("business-hours", BusinessHoursView.as_view(), name="business-hours"),
    path("webhooks", WebhookEndpointListView.as_view(), name="webhook-list"),
    path("webhooks/<id:endpoint_id>", WebhookEndpointView.as_view(), name="webhook"),
]
