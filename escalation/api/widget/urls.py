"""Widget API routes (mounted under ``/api/widget/v1/``)."""

from django.urls import path

from escalation.api.widget.views import (
    WidgetConfigView,
    WidgetConversationsView,
    WidgetHandoffView,
    WidgetMessagesView,
    WidgetPageViewsView,
    WidgetRatingView,
    WidgetSeenView,
)

urlpatterns = [
    path("config", WidgetConfigView.as_view(), name="widget-config"),
    path("conversations", WidgetConversationsView.as_view(), name="widget-conversations"),
    path("page-views", WidgetPageViewsView.as_view(), name="widget-page-views"),
    path("conversations/<int:conversation_id>/messages", WidgetMessagesView.as_view(), name="widget-messages"),
    path("conversations/<int:conversation_id>/handoff", WidgetHandoffView.as_view(), name="widget-handoff"),
    path("conversations/<int:conversation_id>/seen", WidgetSeenView.as_view(), name="widget-seen"),
    path("conversations/<int:conversation_id>/rating", WidgetRatingView.as_view(), name="widget-rating"),
]
