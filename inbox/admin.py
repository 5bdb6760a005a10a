"""Admin for custom inboxes and tickets (the staff web inbox is the place to work tickets; this is for
admins: set up inboxes, look a ticket up, fix its status, assignee or inbox). Ticket changes go through
``inbox.services.ticket_update``, so closing from the admin hands the conversation back to the AI as
everywhere else. A workspace admin sees only their workspaces' rows (``WorkspaceScopedAdmin``).
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from halo.admin import WorkspaceScopedAdmin
from halo.models import Membership
from inbox.models import CustomInbox, Ticket
from inbox.services import TICKET_EDITABLE_FIELDS, ticket_update


@admin.register(CustomInbox)
class CustomInboxAdmin(WorkspaceScopedAdmin):
    # Listed explicitly: a secret added to the model (a webhook URL) must never be displayed by default.
    fields = ["workspace", "name"]
    list_display = ["name", "workspace", "created_at"]
    search_fields = ["name", "workspace__name"]
    list_select_related = ["workspace"]


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
        "updated_at",
    ]
    list_filter = ["status", "reason", "summary_state"]
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
        ("Dates", {"fields": ["created_at", "updated_at", "closed_at"]}),
    ]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # tickets come from escalations

    def save_model(self, request: HttpRequest, obj: Ticket, form: Any, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in TICKET_EDITABLE_FIELDS}
        if data:
            ticket_update(ticket=obj, data=data)
