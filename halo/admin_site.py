"""Halo's admin site: Django's admin with Halo's name and look (``templates/admin/``, ``halo/static/halo/admin.css``)
and its sections as the product names them.

The home page and the sidebar list the models in product sections rather than by Python package: the records
only engineers look at (the outbox, live inbox events, access attempts) sit under **System**, at the end.
Every model keeps its own admin class and permissions; only the grouping changes.
"""

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest

# (app label, model name) of the records only engineers look at.
SYSTEM_MODELS = {
    ("halo", "outboxmessage"),
    ("inbox", "inboxevent"),
    ("axes", "accessattempt"),
    ("axes", "accessfailurelog"),
    ("axes", "accesslog"),
    ("auth", "user"),
}
SECTION_ORDER = ["halo", "agents", "escalation", "inbox", "segments"]


class HaloAdminSite(admin.AdminSite):
    site_header = "Halo admin"
    site_title = "Halo admin"
    index_title = "Workspace settings"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = super().get_app_list(request, app_label)
        if app_label is not None:
            return apps
        system: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        for app in apps:
            models = [m for m in app["models"] if (app["app_label"], m["object_name"].lower()) not in SYSTEM_MODELS]
            system += [m for m in app["models"] if (app["app_label"], m["object_name"].lower()) in SYSTEM_MODELS]
            if models:
                kept.append({**app, "models": models})
        kept.sort(key=lambda app: SECTION_ORDER.index(app["app_label"]) if app["app_label"] in SECTION_ORDER else 99)
        if system:
            kept.append(
                {
                    "name": "System",
                    "app_label": "system",
                    "app_url": "",
                    "has_module_perms": True,
                    "models": sorted(system, key=lambda model: str(model["name"])),
                }
            )
        return kept


class HaloAdminConfig(AdminConfig):
    default_site = "halo.admin_site.HaloAdminSite"
