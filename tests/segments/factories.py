"""Factories of the segments app."""

import factory

from segments.models import Segment
from tests.halo.factories import WorkspaceFactory


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Segment {n}")
    rule = "company.plan = enterprise"
