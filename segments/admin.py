"""Admin for saved segments: the rule is checked as it is typed in (errors with line, column and a hint),
and the change page shows how many of the workspace's contacts match it right now, with a few of them.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from halo.admin import WorkspaceScopedAdmin
from segments.lang import RuleError
from segments.models import Segment
from segments.selectors import contact_count_matching, contacts_matching

SAMPLE_SIZE = 5


@admin.register(Segment)
class SegmentAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "rule", "updated_at"]
    list_filter = ["workspace"]
    search_fields = ["name", "rule", "description"]
    readonly_fields = ["matching_contacts", "created_at", "updated_at"]
    fields = ["workspace", "name", "description", "rule", "matching_contacts", "created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The workspace of a saved segment does not change (its rule was previewed against that workspace).
        return [*self.readonly_fields, "workspace"] if obj is not None else self.readonly_fields

    @admin.display(description="Matching contacts")
    def matching_contacts(self, obj: Segment) -> str:
        if obj.pk is None:
            return "Save the segment to see how many contacts match."
        now = timezone.now()
        try:
            count = contact_count_matching(workspace=obj.workspace, rule=obj.rule, now=now)
            sample = contacts_matching(workspace=obj.workspace, rule=obj.rule, now=now).order_by("-pk")[:SAMPLE_SIZE]
        except RuleError as error:
            return f"The rule is not valid: {error.describe()}"
        names = format_html_join(", ", "{}", ((str(contact),) for contact in sample))
        return format_html("{} now (e.g. {})", count, names) if count else "0 now"
