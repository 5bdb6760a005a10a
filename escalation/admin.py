"""The *AI Agents > [agent] > Actions > Ticket Escalation* page.

Every agent has one settings page: ``/admin/escalation/escalationsettings/agent/<agent id>/`` creates the
agent's settings with the defaults on first visit and opens their change form (the agent's admin page
links there, see ``ticket_escalation_url``). The form groups the settings as the product describes them,
with help texts; phrases are edited one per line; each filter shows how many contacts it matches now.
Saving goes through ``escalation.services.escalation_settings_update``, so the admin validates exactly
like the API and every change becomes a version (who, when, what), listed on the same page. A workspace
admin sees only their workspaces' agents, teammates and inboxes (``WorkspaceScopedAdmin``).
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from agents.models import Agent
from escalation.models import EscalationSettings, EscalationSettingsVersion
from escalation.services import SETTINGS_FIELDS, escalation_settings_ensure, escalation_settings_update
from halo.admin import WorkspaceScopedAdmin
from halo.models import Membership
from inbox.models import CustomInbox
from segments.lang import RuleError
from segments.selectors import contact_count_matching


def ticket_escalation_url(agent: Agent) -> str:
    """Where the agent's *Actions > Ticket Escalation* link points."""
    return reverse("admin:escalation_escalationsettings_for_agent", args=[agent.pk])


class PhraseListField(forms.CharField):
    """A list of phrases edited as text, one phrase per line (blank lines are ignored)."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 60})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return [str(item).strip() for item in value if str(item).strip()]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class EscalationSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    escalation_phrases = PhraseListField(
        required=False,
        help_text="One per line. The AI's reply containing one of these hands off (case and spacing ignored).",
    )
    handoff_phrases = PhraseListField(
        required=False,
        help_text=(
            "One per line. A user message containing one of these, as whole words, asks for a human (not when "
            'negated). Requests in other words ("agent please", "can I speak to someone?") are recognised '
            "without a phrase."
        ),
    )

    class Meta:
        model = EscalationSettings
        fields = list(SETTINGS_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        workspace_id = self.instance.agent.workspace_id if self.instance.agent_id else 0
        members = Membership.objects.filter(workspace_id=workspace_id).values("user_id")
        assignee = self.fields.get("default_assignee")
        if isinstance(assignee, forms.ModelChoiceField):
            assignee.queryset = assignee.queryset.filter(pk__in=members)  # type: ignore[union-attr]
        inbox = self.fields.get("default_inbox")
        if isinstance(inbox, forms.ModelChoiceField):
            inbox.queryset = CustomInbox.objects.filter(workspace_id=workspace_id)


class EscalationSettingsVersionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = EscalationSettingsVersion
    fields = ("version", "changed_at", "changed_by", "changed_via", "changes")
    readonly_fields = ("version", "changed_at", "changed_by", "changed_via", "changes")
    extra = 0
    can_delete = False
    verbose_name = "change"
    verbose_name_plural = "Change history"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(EscalationSettings)
class EscalationSettingsAdmin(WorkspaceScopedAdmin):
    workspace_path = "agent__workspace"
    form = EscalationSettingsForm
    list_display = ["agent", "workspace", "mode", "confidence_threshold", "max_attempts", "routing_type", "version"]
    list_filter = ["mode", "routing_type"]
    search_fields = ["agent__name", "agent__workspace__name"]
    list_select_related = ["agent__workspace"]
    readonly_fields = ["agent", "version", "updated_at", "escalation_filter_matches", "priority_filter_matches"]
    inlines = [EscalationSettingsVersionInline]
    fieldsets = [
        (None, {"fields": ["agent", "version", "updated_at"]}),
        (
            "When to escalate",
            {
                "fields": ["mode", "confidence_threshold", "max_attempts"],
                "description": "The AI hands off on a signal: it calls the escalate tool, says an escalation "
                "phrase, or its confidence is below the threshold. A higher threshold escalates more.",
            },
        ),
        (
            "Conditions (conditional mode)",
            {"fields": ["require_knowledge_search", "require_web_search"]},
        ),
        (
            "Who",
            {
                "fields": [
                    "escalation_filter",
                    "escalation_filter_matches",
                    "priority_filter",
                    "priority_filter_matches",
                ]
            },
        ),
        ("Routing", {"fields": ["routing_type", "default_assignee", "default_inbox"]}),
        ("Phrases and messages", {"fields": ["escalation_phrases", "handoff_phrases", "expected_reply_time"]}),
    ]

    @admin.display(description="Workspace")
    def workspace(self, obj: EscalationSettings) -> str:
        return str(obj.agent.workspace)

    def _matches(self, obj: EscalationSettings, rule: str, blank: str) -> str:
        if not rule.strip():
            return blank
        try:
            count = contact_count_matching(workspace=obj.agent.workspace, rule=rule, now=timezone.now())
        except RuleError:
            return "The rule is not valid."
        return f"{count} contact{'s' if count != 1 else ''} match now."

    @admin.display(description="Contacts matching the escalation filter")
    def escalation_filter_matches(self, obj: EscalationSettings) -> str:
        return self._matches(obj, obj.escalation_filter, "No filter: every contact may be handed off.")

    @admin.display(description="Contacts matching the priority filter")
    def priority_filter_matches(self, obj: EscalationSettings) -> str:
        return self._matches(obj, obj.priority_filter, "No filter: no ticket starts as priority.")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # one per agent, created from the agent's page

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: EscalationSettings, form: Any, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in SETTINGS_FIELDS}
        user = request.user if isinstance(request.user, User) else None
        escalation_settings_update(escalation_settings=obj, data=data, changed_by=user, via="admin")

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "agent/<int:agent_id>/",
                self.admin_site.admin_view(self.for_agent_view),
                name="escalation_escalationsettings_for_agent",
            )
        ]
        return extra + super().get_urls()

    def for_agent_view(self, request: HttpRequest, agent_id: int) -> HttpResponse:
        """*Actions > Ticket Escalation* of an agent: its settings' change form (created on first visit)."""
        agent = get_object_or_404(Agent.objects.select_related("workspace"), pk=agent_id)
        if not request.user.is_superuser and agent.workspace_id not in self._allowed(request):
            raise Http404("No such agent.")  # as for any object of another workspace
        escalation_settings = escalation_settings_ensure(agent=agent)
        return HttpResponseRedirect(
            reverse("admin:escalation_escalationsettings_change", args=[escalation_settings.pk])
        )
