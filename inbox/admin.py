"""Admin for custom inboxes and tickets (the staff web inbox is the place to work tickets; this is for
admins: set up inboxes, look a ticket up, fix its status, assignee or inbox). Ticket changes go through
``inbox.services.ticket_update``, so closing from the admin hands the conversation back to the AI as
everywhere else. A workspace admin sees only their workspaces' rows (``WorkspaceScopedAdmin``).

Also: every escalation (read-only, for watching how escalation performs), saved inbox views, internal notes
and live inbox events (read-only), and each custom inbox's write-only Slack webhook. Teammates' verdicts on
tickets are listed and filterable for tuning.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from halo.admin import WorkspaceScopedAdmin, WorkspaceScopedReadOnlyAdmin
from halo.models import Membership
from halo.outbound import slack_webhook_url_validator
from halo.params import parse_id
from inbox.macros import PLACEHOLDERS, macro_unknown_placeholders
from inbox.models import CustomInbox, EscalationEvent, InboxEvent, Macro, SavedView, Ticket, TicketNote
from inbox.services import (
    TICKET_EDITABLE_FIELDS,
    custom_inbox_update,
    macro_create,
    macro_delete,
    macro_update,
    ticket_update,
)


class UsersField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    """Users by id: a value that is no id (a 20-digit number, text) is refused before it reaches a query."""

    def clean(self, value: Any) -> Any:
        for item in value or []:
            if parse_id(str(item)) is None:
                raise ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice", params={"value": str(item)[:20]}
                )
        return super().clean(value)


class CustomInboxForm(forms.ModelForm):  # type: ignore[type-arg]
    """The inbox's Slack webhook is write-only, like the workspace's (``halo.admin.WorkspaceForm``)."""

    new_slack_webhook_url = forms.URLField(
        label="Slack webhook URL",
        required=False,
        assume_scheme="https",
        validators=[slack_webhook_url_validator],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only: new tickets of this inbox are announced here instead of the workspace's webhook. "
        "Leave blank to keep the current URL.",
    )
    clear_slack_webhook_url = forms.BooleanField(label="Remove the Slack webhook", required=False)
    assignment = forms.ChoiceField(
        choices=CustomInbox.Assignment.choices,
        required=False,
        help_text="How new tickets get an assignee among the inbox's available members (members are set through "
        "PATCH /api/v1/inboxes/{id}). Waiting tickets are given out within a minute of a change here.",
    )

    team_members = UsersField(
        queryset=User.objects.none(),  # the admin gives the users of the workspaces the viewer administers
        required=False,
        label="Members",
        widget=forms.CheckboxSelectMultiple,
        help_text="The teammates this inbox assigns its tickets to, by its policy.",
    )

    class Meta:
        model = CustomInbox
        fields = ["workspace", "name", "assignment"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["team_members"].initial = list(self.instance.memberships.values_list("user_id", flat=True))

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        workspace, team = cleaned.get("workspace"), cleaned.get("team_members") or []
        if workspace is not None and team:
            members = set(
                Membership.objects.filter(workspace=workspace, user__in=team).values_list("user_id", flat=True)
            )
            strangers = [user.get_username() for user in team if user.pk not in members]
            if strangers:
                self.add_error("team_members", f"Not a member of this workspace: {', '.join(strangers)}.")
        return cleaned

    def clean_assignment(self) -> str:
        # Left out of a post, the policy stays as it is.
        return str(self.cleaned_data.get("assignment") or self.instance.assignment or CustomInbox.Assignment.MANUAL)

    def save(self, commit: bool = True) -> CustomInbox:
        inbox: CustomInbox = super().save(commit=False)
        if self.cleaned_data.get("clear_slack_webhook_url"):
            inbox.slack_webhook_url = ""
        elif self.cleaned_data.get("new_slack_webhook_url"):
            inbox.slack_webhook_url = self.cleaned_data["new_slack_webhook_url"]
        if commit:
            inbox.save()
        return inbox


@admin.register(CustomInbox)
class CustomInboxAdmin(WorkspaceScopedAdmin):
    # Listed explicitly: a secret added to the model (a webhook URL) must never be displayed by default.
    form = CustomInboxForm
    fields = [
        "workspace",
        "name",
        "assignment",
        "team_members",
        "slack_configured",
        "new_slack_webhook_url",
        "clear_slack_webhook_url",
    ]
    readonly_fields = ["slack_configured"]
    list_display = ["name", "workspace", "assignment", "slack_configured", "created_at"]
    search_fields = ["name", "workspace__name"]
    list_select_related = ["workspace"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        users = User.objects.filter(memberships__isnull=False)
        if not request.user.is_superuser:
            users = users.filter(memberships__workspace__in=self._allowed(request))
        team_members = form.base_fields["team_members"]
        assert isinstance(team_members, forms.ModelMultipleChoiceField)
        team_members.queryset = users.distinct().order_by("username")
        return form

    def save_model(self, request: HttpRequest, obj: CustomInbox, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Through the service: members kept keep their turn, and waiting tickets are given out after commit.
        custom_inbox_update(
            inbox=obj, data={"members": [user.pk for user in form.cleaned_data.get("team_members") or []]}
        )

    @admin.display(boolean=True, description="Own Slack webhook")
    def slack_configured(self, obj: CustomInbox) -> bool:
        return bool(obj.slack_webhook_url)


@admin.register(SavedView)
class SavedViewAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "rule", "assignee", "inbox", "created_by", "created_at"]
    search_fields = ["name", "rule", "workspace__name"]
    list_select_related = ["workspace", "inbox", "created_by"]
    fields = ["workspace", "name", "rule", "statuses", "assignee", "inbox"]


@admin.register(TicketNote)
class TicketNoteAdmin(WorkspaceScopedReadOnlyAdmin):
    """Read-only: notes are written in the staff inbox; admins can look them up (and delete one)."""

    deletable = True
    workspace_path = "ticket__workspace"
    list_display = ["ticket", "author", "created_at"]
    search_fields = ["body"]
    list_select_related = ["ticket", "author"]
    readonly_fields = ["ticket", "author", "body", "created_at"]


@admin.register(InboxEvent)
class InboxEventAdmin(WorkspaceScopedReadOnlyAdmin):
    """Read-only: the live events sent to inbox sockets, by workspace and number (for support and debugging)."""

    list_display = ["seq", "type", "ticket", "workspace", "created_at"]
    list_filter = ["type"]
    list_select_related = ["workspace", "ticket"]
    readonly_fields = ["workspace", "seq", "type", "ticket", "payload", "created_at"]


class TicketForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Ticket
        fields = list(TICKET_EDITABLE_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        workspace_id = self.instance.workspace_id
        assignee = self.fields["assignee"]
        if isinstance(assignee, forms.ModelChoiceField):
            members = Membership.objects.filter(workspace_id=workspace_id).values("user_id")
            assignee.queryset = assignee.queryset.filter(pk__in=members)  # type: ignore[union-attr]
        inbox = self.fields["inbox"]
        if isinstance(inbox, forms.ModelChoiceField):
            inbox.queryset = CustomInbox.objects.filter(workspace_id=workspace_id)


@admin.register(Ticket)
class TicketAdmin(WorkspaceScopedAdmin):
    form = TicketForm
    list_display = [
        "id",
        "contact",
        "status",
        "assignee",
        "inbox",
        "reason",
        "confidence",
        "escalation_count",
        "verdict",
        "updated_at",
    ]
    list_filter = ["status", "reason", "summary_state", "verdict"]
    search_fields = ["contact__email", "contact__name", "contact__user_id"]
    list_select_related = ["contact", "assignee", "inbox"]
    readonly_fields = [
        "workspace",
        "contact",
        "agent",
        "reason",
        "confidence",
        "summary",
        "summary_state",
        "knowledge_sources",
        "tools_tried",
        "settings_version",
        "escalation_count",
        "created_at",
        "updated_at",
        "closed_at",
        "verdict",
        "verdict_by",
        "verdict_at",
    ]
    fieldsets = [
        (None, {"fields": ["workspace", "contact", "agent", *TICKET_EDITABLE_FIELDS]}),
        (
            "AI conversation context",
            {
                "fields": [
                    "reason",
                    "confidence",
                    "summary",
                    "summary_state",
                    "knowledge_sources",
                    "tools_tried",
                    "settings_version",
                    "escalation_count",
                ]
            },
        ),
        ("Teammate verdict", {"fields": ["verdict", "verdict_by", "verdict_at"]}),
        ("Dates", {"fields": ["created_at", "updated_at", "closed_at"]}),
    ]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # tickets come from escalations

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in TICKET_EDITABLE_FIELDS}
        if data:
            ticket_update(ticket=obj, data=data)


@admin.register(EscalationEvent)
class EscalationEventAdmin(WorkspaceScopedReadOnlyAdmin):
    """Every escalation, for watching how escalation performs (read-only)."""

    list_display = [
        "created_at",
        "workspace",
        "ticket_link",
        "conversation",
        "reason",
        "confidence",
        "mode",
        "priority_matched",
        "outcome",
        "settings_version",
    ]
    list_filter = ["reason", "mode", "outcome", "priority_matched"]
    list_select_related = ["workspace", "ticket", "conversation"]
    date_hierarchy = "created_at"

    @admin.display(description="Ticket")
    def ticket_link(self, obj: EscalationEvent) -> str:
        url = reverse("admin:inbox_ticket_change", args=[obj.ticket_id])
        return format_html('<a href="{}">#{}</a>', url, obj.ticket_id)


class MacroForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Macro
        fields = ["workspace", "name", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 6, "cols": 80})}

    def clean_body(self) -> str:
        body: str = self.cleaned_data.get("body") or ""
        unknown = macro_unknown_placeholders(body)
        if unknown:
            raise forms.ValidationError(
                f"Unknown placeholder: {', '.join(unknown)}. Use one of: {', '.join(PLACEHOLDERS)}."
            )
        return body


@admin.register(Macro)
class MacroAdmin(WorkspaceScopedAdmin):
    """Saved replies of the inbox; saved through ``inbox.services`` (placeholders checked)."""

    form = MacroForm
    list_display = ["name", "workspace", "updated_at"]
    search_fields = ["name", "body"]
    list_select_related = ["workspace"]

    def save_model(self, request: HttpRequest, obj: Macro, form: Any, change: bool) -> None:
        if change:
            macro_update(macro=obj, name=obj.name, body=obj.body)
        else:
            user = request.user if isinstance(request.user, User) else None
            saved = macro_create(workspace=obj.workspace, name=obj.name, body=obj.body, created_by=user)
            obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Macro) -> None:
        macro_delete(macro=obj)
