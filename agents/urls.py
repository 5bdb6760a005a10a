"""Public pages of the agents app: the widget demo page (the widget script itself is a static file)."""

from django.urls import path

from agents.views import widget_demo

urlpatterns = [
    path("widget/demo/", widget_demo, name="widget-demo"),
]
