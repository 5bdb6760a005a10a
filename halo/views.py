"""Project-level views: the load balancer's health check, the error pages (JSON under ``/api/``), the page a
locked-out login gets (django-axes) and the password reset with its mails throttled."""

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views import defaults
from django.views.decorators.cache import never_cache
from rest_framework.request import Request

from halo.api.errors import json_bad_request, json_not_found, json_server_error
from halo.api.throttling import PasswordResetAccountThrottle, PasswordResetAddressThrottle
from halo.forms import normalise_email

TOO_MANY_RESET_REQUESTS = (
    "Too many password reset requests from here or for this email. Use the link already sent, or try again later."
)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # the database is down: tell the load balancer, do not raise
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for on pages that name no icon (JSON, error pages): Halo's SVG icon."""
    return HttpResponsePermanentRedirect(static("halo/favicon.svg"))


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_bad_request(request, exception)
    return defaults.bad_request(request, exception)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_server_error(request)
    return defaults.server_error(request)


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """What django-axes answers a login attempt for a locked account or from a locked address (both login
    pages): a 429 that says why, for how long, and how to get back in."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=429)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, sending at most ``password_reset_address`` mails per client address and
    ``password_reset_account`` per email asked for (rates in ``REST_FRAMEWORK``; counted in the cache, shared by
    every process). Counting per email typed, whether or not an account has it, tells nothing about accounts."""

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        email = normalise_email(form.cleaned_data["email"])
        request = Request(self.request)  # DRF's throttles read the client address from it
        allowed = PasswordResetAddressThrottle().allow_request(request, self) and PasswordResetAccountThrottle(
            email=email
        ).allow_request(request, self)
        if not allowed:
            form.add_error("email", TOO_MANY_RESET_REQUESTS)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)
