"""The Content-Security-Policy of every response (django-csp; policy in ``settings.CONTENT_SECURITY_POLICY``).

Pages (inbox, admin, login, API docs, the widget demo page) may load scripts, styles, images, fonts and
connections (HTTP and WebSocket) from Halo's own origin only: no inline script or style, no plugin, no
``<base>``, no framing by another site, forms posting only to Halo. The pages keep every script and style in
static files, so no nonce is needed. Anything that is not an HTML page (the APIs' and the widget's JSON, error
bodies) gets ``default-src 'none'``: if a browser were ever made to render one, nothing in it could run or
load. A view that needs more (the Redoc page's generated styles) widens its own policy with django-csp's
``csp_update``, never the site's.
"""

from typing import Any

from csp.constants import NONE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

NOT_A_PAGE_POLICY: dict[str, Any] = {
    "default-src": [NONE],
    "base-uri": [NONE],
    "form-action": [NONE],
    "frame-ancestors": [NONE],
}


def _is_html(response: HttpResponseBase) -> bool:
    return str(response.get("Content-Type", "")).split(";", 1)[0].strip().lower() == "text/html"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with ``NOT_A_PAGE_POLICY`` for every response that is not HTML."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and not _is_html(response):
            parts.config, parts.update, parts.replace = NOT_A_PAGE_POLICY, None, None
        return parts
