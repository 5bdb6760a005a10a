"""How the widget authenticates a conversation endpoint, and how it is rate-limited.

``WidgetTokenAuthentication`` reads the conversation token (``Authorization: Bearer <token>`` or
``?token=``) and never the session: a staff cookie in the same browser must not turn these into
CSRF-protected, session-authenticated calls. The view checks the token against the conversation in the
URL. Requests are throttled per client address (scope ``widget``).
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication
from rest_framework.request import Request

from halo.api.throttling import CacheRateThrottle


class WidgetCaller:
    """A widget request that carried a conversation token (checked against a conversation by the view)."""

    is_authenticated = True

    def __init__(self, token: str) -> None:
        self.token = token


class WidgetTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[WidgetCaller, None] | None:
        header = authentication.get_authorization_header(request).split()
        token: str | None = None
        if header and header[0].lower() == b"bearer" and len(header) == 2:
            token = header[1].decode("latin-1")
        elif isinstance(request.query_params.get("token"), str):
            token = request.query_params["token"]
        return (WidgetCaller(token), None) if token else None

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class WidgetTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "escalation.api.widget.auth.WidgetTokenAuthentication"
    name = "conversationToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return build_bearer_security_scheme_object(
            header_name="Authorization",
            token_prefix="Bearer",  # noqa: S106
            bearer_format="conversation token",
        )


class WidgetRateThrottle(CacheRateThrottle):
    scope = "widget"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
