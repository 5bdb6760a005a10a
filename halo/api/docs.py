"""The interactive API documentation page (Swagger UI at ``/api/docs/``), served from the sidecar's local
files under the site's Content-Security-Policy (``halo.csp``): drf-spectacular's split view, whose start-up
script is a separate request rather than inline, and a template that keeps its styles in a static file.

There is no Redoc page: Redoc builds its styles as inline ``<style>`` elements, runs its search in a
``blob:`` worker, loads web fonts from Google and its logo from Redocly's CDN, none of which the policy
allows (nor should the docs call third parties); Swagger UI serves the same schema.
"""

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
