"""The URL map: admin, staff inbox, server API (``/api/v1/``), widget API (``/api/widget/v1/``), schema, health."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from halo.api.docs import ApiDocsView
from halo.forms import EmailAuthenticationForm
from halo.views import PasswordResetView, favicon, healthz

api_v1: list[Any] = [
    path("", include("halo.api.urls")),
    path("", include("segments.api.urls")),
    path("", include("agents.api.urls")),
    path("", include("escalation.api.urls")),
    path("", include("inbox.api.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/login/", LoginView.as_view(authentication_form=EmailAuthenticationForm), name="login"),
    path("accounts/password_reset/", PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/widget/v1/", include("escalation.api.widget.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    path("inbox/reports/", include("escalation.urls")),
    path("inbox/", include("inbox.urls")),
    path("", include("agents.urls")),
    path("", RedirectView.as_view(url="/inbox/", permanent=False)),
]

handler404 = "halo.views.not_found"
handler500 = "halo.views.server_error"
