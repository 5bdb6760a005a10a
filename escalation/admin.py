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
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from agents.models import Agent
from escalation.models import EscalationSettings, EscalationSettingsVersion
from escalation.services import SETTINGS_FIELDS, escalation_settings_ensure, escalation_settings_update
from halo.admin import WorkspaceScopedAdmin, WorkspaceScopedTabularInline
from halo.forms import PhraseListField
from halo.models import Membership
from inbox.models import CustomInbox
from segments.lang import RuleError
from segments.selectors import contact_count_matching


def ticket_escalation_url(agent: Agent) -> str:
    """Where the agent's *Actions > Ticket Escalation* link points."""
    return reverse("admin:escalation_escalationsettings_for_agent", args=[agent.pk])


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


class EscalationSettingsVersionInline(WorkspaceScopedTabularInline):
    """The settings' version history, newest first, each change as old → new: shown to the workspace's admins
    (the page itself is scoped), never editable."""

    model = EscalationSettingsVersion
    fields = ("version", "changed_at", "changed_by", "changed_via", "changes_display")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "version"
    verbose_name_plural = "Version history"

    @admin.display(description="Changes (old → new)")
    def changes_display(self, version: EscalationSettingsVersion) -> str:
        changes = version.changes if isinstance(version.changes, dict) else {}
        items = []
        for name, pair in changes.items():
            old, new = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
            items.append(
                format_html(
                    "<li><strong>{}</strong>: <del>{}</del> → <ins>{}</ins></li>",
                    name.replace("_", " "),
                    _shown(old),
                    _shown(new),
                )
            )
        if not items:
            return "—"
        return format_html('<ul class="halo-changes">{}</ul>', format_html_join("", "{}", ((item,) for item in items)))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _shown(value: Any) -> str:
    """A setting's value in words, for the version history."""
    if value is None or value == "" or value == []:
        return "(none)"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)[:300]
    return str(value)[:300]


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

    def _matches(self, obj: EscalationSettings, rule: str, blank: str, field: str) -> str:
        if field in getattr(obj, "_halo_invalid_fields", ()):
            return "Fix the rule above to see how many contacts it matches."
        if not rule.strip():
            return blank
        try:
            count = contact_count_matching(workspace=obj.agent.workspace, rule=rule, now=timezone.now())
        except RuleError:
            return "The rule is not valid."
        return f"{count} contact{'s' if count != 1 else ''} match now."

    @admin.display(description="Contacts matching the escalation filter")
    def escalation_filter_matches(self, obj: EscalationSettings) -> str:
        return self._matches(
            obj, obj.escalation_filter, "No filter: every contact may be handed off.", "escalation_filter"
        )

    @admin.display(description="Contacts matching the priority filter")
    def priority_filter_matches(self, obj: EscalationSettings) -> str:
        return self._matches(obj, obj.priority_filter, "No filter: no ticket starts as priority.", "priority_filter")

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        # A count computed from the saved rule must not stand beside a rule the form just refused.
        adminform = context.get("adminform")
        form = adminform.form if adminform is not None else None
        if obj is not None and form is not None and form.errors:
            obj._halo_invalid_fields = set(form.errors)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    class Media:
        js = ["escalation/rule-preview.js"]

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
                "agent/<id:agent_id>/",
                self.admin_site.admin_view(self.for_agent_view),
                name="escalation_escalationsettings_for_agent",
            ),
            path(
                "<id:settings_id>/rule-preview",
                self.admin_site.admin_view(self.rule_preview_view),
                name="escalation_escalationsettings_rule_preview",
            ),
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

    def rule_preview_view(self, request: HttpRequest, settings_id: int) -> JsonResponse:
        """How many of the agent's workspace's contacts a rule typed in the form matches now (the form's live
        preview, as ``POST /api/v1/segments/preview`` answers it with an API key), or why the rule is invalid."""
        escalation_settings = get_object_or_404(
            EscalationSettings.objects.select_related("agent__workspace"), pk=settings_id
        )
        if not self.has_view_permission(request, escalation_settings):
            raise Http404("No such settings.")
        rule = request.GET.get("rule", "")[:RULE_PREVIEW_MAX_CHARS].strip()
        if not rule:
            return JsonResponse({"valid": True, "count": None})
        try:
            count = contact_count_matching(workspace=escalation_settings.agent.workspace, rule=rule, now=timezone.now())
        except RuleError as error:
            return JsonResponse({"valid": False, "message": str(error)})
        return JsonResponse({"valid": True, "count": count})


RULE_PREVIEW_MAX_CHARS = 4096
