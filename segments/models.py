"""Models of the segments app: saved segments, a named rule per workspace (used by inbox views and previews)."""

from django.db import models
from django.utils import timezone

from halo.models import Workspace
from segments.fields import SegmentRuleField


class Segment(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    rule = SegmentRuleField(help_text="Which contacts belong to the segment, e.g. company.plan = enterprise.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="segment_unique_name"),
            models.CheckConstraint(condition=~models.Q(rule=""), name="segment_rule_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name
