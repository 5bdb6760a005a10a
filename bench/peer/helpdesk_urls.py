"""URLs of the peer project: django-helpdesk at the root (as its guide mounts it), the admin (its ticket page
links a submitter's profile there) and the static files (for the one browser visit that records what the
ticket list's script requests)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^static/(?P<path>.*)$", serve, {"document_root": settings.STATIC_ROOT}),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
