"""Public pages of the agents app: the widget demo page and the pages Halo's customer emails link to (the
widget script itself is a static file)."""

from django.urls import path

from agents.views import conversation_link, email_confirm, widget_demo

urlpatterns = [
    path("widget/demo/", widget_demo, name="widget-demo"),
    path("chat/confirm/<str:token>/", email_confirm, name="email-confirm"),
    path("chat/<str:token>/", conversation_link, name="conversation-link"),
]
