"""Writes of the segments app: create, update and delete saved segments.

Each service validates the whole row (``full_clean``: the rule is parsed and checked, the name is unique
in the workspace) inside its own transaction; a name taken by a concurrent request surfaces as the same
``ValidationError`` as a name taken before, never as a 500.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from halo.models import Workspace
from segments.models import Segment


def _name_taken() -> ValidationError:
    return ValidationError({"name": ["A segment with this name already exists in the workspace."]})


def segment_create(*, workspace: Workspace, name: str, rule: str, description: str = "") -> Segment:
    segment = Segment(workspace=workspace, name=name, rule=rule, description=description)
    return _save(segment)


def segment_update(*, segment: Segment, data: dict[str, Any]) -> Segment:
    """Change ``name``, ``description`` and/or ``rule`` (keys absent from ``data`` are left as they are)."""
    for field in ("name", "description", "rule"):
        if field in data:
            setattr(segment, field, data[field])
    return _save(segment)


def segment_delete(*, segment: Segment) -> None:
    segment.delete()


def _save(segment: Segment) -> Segment:
    segment.rule = segment.rule.strip()
    segment.full_clean(validate_constraints=False)
    # Checked here to name the field; the unique constraint still decides under concurrency.
    if Segment.objects.filter(workspace=segment.workspace, name=segment.name).exclude(pk=segment.pk).exists():
        raise _name_taken()
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError:
        raise _name_taken() from None
    return segment
