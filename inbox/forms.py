"""Forms of the staff web inbox: each action's input, validated before a service is called.

Choices that name other rows (an assignee, an inbox, a conversation) are limited to the ticket's own
workspace, so a forged POST cannot reach another workspace's data.
"""

from datetime import datetime, timedelta
from typing import Any

from django import forms

from agents.services import MAX_MESSAGE_CHARS
from halo.params import parse_id
from inbox.models import CustomInbox, SavedView, Ticket
from inbox.services import NOTE_MAX_CHARS
from segments.fields import SegmentRuleFormField


class AssignForm(forms.Form):
    """``assignee``: a teammate's id, or empty to unassign."""

    assignee = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)

    def __init__(self, *args: Any, teammates: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", "Unassigned"), *((user.pk, str(user)) for user in teammates)]  # type: ignore[attr-defined]


class StatusForm(forms.Form):
    """``status``; with Snoozed, ``snooze_for`` says until when (empty: until the customer writes)."""

    SNOOZE_PERIODS = {
        "1h": ("for 1 hour", timedelta(hours=1)),
        "4h": ("for 4 hours", timedelta(hours=4)),
        "1d": ("for 1 day", timedelta(days=1)),
        "7d": ("for 1 week", timedelta(days=7)),
    }
    SNOOZE_CHOICES = [("", "until the customer writes"), *((key, label) for key, (label, _) in SNOOZE_PERIODS.items())]

    status = forms.ChoiceField(choices=Ticket.Status.choices)
    snooze_for = forms.ChoiceField(choices=SNOOZE_CHOICES, required=False)
    # How many escalations the page showed: a close is refused if the customer escalated again since.
    seen_escalations = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def changes(self, *, now: datetime) -> dict[str, Any]:
        """What ``ticket_update`` is given: the status and, for Snoozed, the wake-up time."""
        changes: dict[str, Any] = {"status": self.cleaned_data["status"]}
        if changes["status"] == Ticket.Status.SNOOZED:
            period = self.SNOOZE_PERIODS.get(self.cleaned_data.get("snooze_for") or "")
            changes["snoozed_until"] = now + period[1] if period else None
        return changes


class InboxMoveForm(forms.Form):
    inbox = forms.ModelChoiceField(queryset=CustomInbox.objects.none(), required=False, empty_label="No inbox")

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["inbox"].queryset = CustomInbox.objects.filter(workspace_id=workspace_id)  # type: ignore[attr-defined]


class ReplyForm(forms.Form):
    body = forms.CharField(max_length=MAX_MESSAGE_CHARS, widget=forms.Textarea(attrs={"rows": 3}))
    conversation = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)

    def __init__(self, *args: Any, conversation_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["conversation"].choices = [("", "Latest"), *((pk, f"#{pk}") for pk in conversation_ids)]  # type: ignore[attr-defined]


class NoteForm(forms.Form):
    body = forms.CharField(max_length=NOTE_MAX_CHARS, widget=forms.Textarea(attrs={"rows": 2}))


class VerdictForm(forms.Form):
    verdict = forms.ChoiceField(choices=[("", "Clear"), *Ticket.Verdict.choices], required=False)


class SavedViewForm(forms.Form):
    name = forms.CharField(max_length=100)
    rule = SegmentRuleFormField(label="Segment rule")
    statuses = forms.MultipleChoiceField(
        choices=Ticket.Status.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    assignee = forms.ChoiceField(choices=SavedView.Assignee.choices, initial=SavedView.Assignee.ANY, required=False)
    inbox = forms.ModelChoiceField(queryset=CustomInbox.objects.none(), required=False, empty_label="Any inbox")

    def __init__(self, *args: Any, workspace_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["inbox"].queryset = CustomInbox.objects.filter(workspace_id=workspace_id)  # type: ignore[attr-defined]
        self.fields["rule"].widget.attrs.update({"rows": 2, "placeholder": "company.plan = enterprise"})


class TicketIdsField(forms.Field):
    """Several ticket ids (``ticket=1&ticket=2``). Any id parses: ``tickets_bulk_update`` refuses one that is
    not the workspace's."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        ids = [parse_id(item) for item in value or []]
        if any(ticket_id is None for ticket_id in ids):
            raise forms.ValidationError("Not a ticket id.")
        return [ticket_id for ticket_id in ids if ticket_id is not None]


class BulkForm(forms.Form):
    """A change for several tickets: ``ticket`` (their ids), ``action`` and the action's value (``assignee``:
    a teammate's id, ``me`` or empty; ``inbox``: an id or empty; ``snooze_for``). Choices are limited to the
    current workspace."""

    ACTIONS = {
        "assign": "Assigned",
        "move": "Moved",
        "snooze": "Snoozed",
        "close": "Closed",
        "reopen": "Re-opened",
    }
    MAX_TICKETS = 200

    ticket = TicketIdsField(error_messages={"required": "Select at least one ticket."})
    action = forms.ChoiceField(choices=[(key, key) for key in ACTIONS])
    assignee = forms.CharField(required=False)
    inbox = forms.ModelChoiceField(queryset=CustomInbox.objects.none(), required=False)
    snooze_for = forms.ChoiceField(choices=StatusForm.SNOOZE_CHOICES, required=False)

    def __init__(self, *args: Any, workspace_id: int, user_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace_id, self.user_id = workspace_id, user_id
        self.fields["inbox"].queryset = CustomInbox.objects.filter(workspace_id=workspace_id)  # type: ignore[attr-defined]

    def clean_ticket(self) -> list[int]:
        tickets: list[int] = self.cleaned_data["ticket"]
        if len(tickets) > self.MAX_TICKETS:
            raise forms.ValidationError(f"At most {self.MAX_TICKETS} tickets at once.")
        return tickets

    def clean_assignee(self) -> int | None:
        raw = (self.cleaned_data.get("assignee") or "").strip()
        if raw == "me":
            return self.user_id
        if not raw:
            return None
        assignee = parse_id(raw)
        if assignee is None:
            raise forms.ValidationError("Choose a teammate.")
        return assignee

    def changes(self, *, now: datetime) -> dict[str, Any]:
        action = self.cleaned_data["action"]
        if action == "assign":
            return {"assignee": self.cleaned_data["assignee"]}
        if action == "move":
            return {"inbox": self.cleaned_data["inbox"]}
        if action == "snooze":
            period = StatusForm.SNOOZE_PERIODS.get(self.cleaned_data.get("snooze_for") or "")
            return {"status": Ticket.Status.SNOOZED, "snoozed_until": now + period[1] if period else None}
        if action == "close":
            return {"status": Ticket.Status.CLOSED}
        return {"status": Ticket.Status.OPEN}

    def done_label(self) -> str:
        return self.ACTIONS[self.cleaned_data["action"]]
