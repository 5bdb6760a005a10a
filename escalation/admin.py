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
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from agents.models import Agent
from agents.selectors import knowledge_article_get, knowledge_article_list
from escalation.gaps import ANSWER_CHECK_LIMIT, knowledge_gaps
from escalation.gaps import DEFAULT_DAYS as GAP_DAYS
from escalation.models import EscalationSettings, EscalationSettingsVersion, KnowledgeGapLink
from escalation.replay import Preview, replay_preview
from escalation.selectors import escalation_settings_unsaved_copy
from escalation.services import (
    SETTINGS_FIELDS,
    escalation_settings_ensure,
    escalation_settings_update,
    escalation_shadow_delete,
    escalation_shadow_promote,
    escalation_shadow_save,
    knowledge_gap_link,
)
from escalation.tuning import shadow_summary_context, suggestions
from halo.admin import WorkspaceScopedAdmin, WorkspaceScopedTabularInline
from halo.forms import PhraseListField
from halo.models import Membership, Workspace
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
        js = ["escalation/rule-preview.js", "escalation/settings-preview.js"]

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
                "<id:settings_id>/preview",
                self.admin_site.admin_view(self.preview_view),
                name="escalation_escalationsettings_preview",
            ),
            path(
                "<id:settings_id>/shadow",
                self.admin_site.admin_view(self.shadow_view),
                name="escalation_escalationsettings_shadow",
            ),
            path(
                "<id:settings_id>/shadow/promote",
                self.admin_site.admin_view(self.shadow_promote_view),
                name="escalation_escalationsettings_shadow_promote",
            ),
            path(
                "<id:settings_id>/shadow/discard",
                self.admin_site.admin_view(self.shadow_discard_view),
                name="escalation_escalationsettings_shadow_discard",
            ),
            path(
                "<id:settings_id>/suggestions/apply",
                self.admin_site.admin_view(self.suggestion_apply_view),
                name="escalation_escalationsettings_suggestion_apply",
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

    # --- Tuning: preview, shadow, suggestions ---------------------------------------------------------

    def _settings_for_change(self, request: HttpRequest, settings_id: int) -> EscalationSettings:
        escalation_settings = get_object_or_404(
            EscalationSettings.objects.select_related("agent__workspace"), pk=settings_id
        )
        if not self.has_change_permission(request, escalation_settings):
            raise Http404("No such settings.")
        return escalation_settings

    def _back(self, escalation_settings: EscalationSettings) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:escalation_escalationsettings_change", args=[escalation_settings.pk])
        )

    def _draft_form(self, request: HttpRequest, escalation_settings: EscalationSettings) -> Any:
        """The change form bound to the posted values over an unsaved copy: validated as a save is."""
        form_class = self.get_form(request, escalation_settings)
        return form_class(request.POST, instance=escalation_settings_unsaved_copy(escalation_settings))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        escalation_settings = (
            EscalationSettings.objects.select_related("agent__workspace").filter(pk=object_id).first()
            if object_id.isdigit()
            else None
        )
        if escalation_settings is not None and self.has_view_permission(request, escalation_settings):
            extra.update(tuning_context(escalation_settings, now=timezone.now()))
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def preview_view(self, request: HttpRequest, settings_id: int) -> HttpResponse:
        """The form's "Preview these settings": the typed values replayed, unsaved, as an HTML fragment; an
        invalid draft gets the form's own errors (400) and nothing is replayed."""
        if request.method != "POST":
            return HttpResponse(status=405)
        escalation_settings = self._settings_for_change(request, settings_id)
        form = self._draft_form(request, escalation_settings)
        if not form.is_valid():
            errors = {
                form.fields[name].label or name if name in form.fields else name: e for name, e in form.errors.items()
            }
            return render(request, "escalation/_preview_errors.html", {"errors": errors}, status=400)
        days = request.POST.get("_preview_days", "30")
        days_value = int(days) if days.isdigit() and 1 <= int(days) <= 365 else 30
        preview = replay_preview(
            agent=escalation_settings.agent,
            live=escalation_settings,
            draft=form.instance,
            now=timezone.now(),
            days=days_value,
        )
        return render(request, "escalation/_preview.html", preview_context(preview))

    def shadow_view(self, request: HttpRequest, settings_id: int) -> HttpResponse:
        """ "Save as shadow": the typed values become the agent's shadow settings (the live ones are unchanged)."""
        if request.method != "POST":
            return HttpResponse(status=405)
        escalation_settings = self._settings_for_change(request, settings_id)
        form = self._draft_form(request, escalation_settings)
        if not form.is_valid():
            for name, errors in form.errors.items():
                messages.error(request, f"Not saved as shadow — {name.replace('_', ' ')}: {' '.join(errors)}")
            return self._back(escalation_settings)
        data = {name: form.cleaned_data[name] for name in SETTINGS_FIELDS if name in form.cleaned_data}
        user = request.user if isinstance(request.user, User) else None
        escalation_shadow_save(escalation_settings=escalation_settings, data=data, changed_by=user)
        messages.success(
            request, "Saved as the shadow settings: every new turn is judged under them too, without acting."
        )
        return self._back(escalation_settings)

    def shadow_promote_view(self, request: HttpRequest, settings_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405)
        escalation_settings = self._settings_for_change(request, settings_id)
        user = request.user if isinstance(request.user, User) else None
        promoted = escalation_shadow_promote(escalation_settings=escalation_settings, changed_by=user, via="admin")
        if promoted is None:
            messages.error(request, "This agent has no shadow settings.")
        else:
            messages.success(request, f"The shadow settings are live now (version {promoted.version}).")
        return self._back(escalation_settings)

    def shadow_discard_view(self, request: HttpRequest, settings_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405)
        escalation_settings = self._settings_for_change(request, settings_id)
        if escalation_shadow_delete(agent=escalation_settings.agent):
            messages.success(request, "The shadow settings were discarded.")
        return self._back(escalation_settings)

    def suggestion_apply_view(self, request: HttpRequest, settings_id: int) -> HttpResponse:
        """Apply a suggestion: the normal versioned save of one setting (validated as everywhere)."""
        if request.method != "POST":
            return HttpResponse(status=405)
        escalation_settings = self._settings_for_change(request, settings_id)
        field, value = request.POST.get("field", ""), request.POST.get("value", "")
        if field not in SUGGESTED_FIELDS or not value.isdigit():
            messages.error(request, "Not a suggestion that can be applied.")
            return self._back(escalation_settings)
        user = request.user if isinstance(request.user, User) else None
        try:
            escalation_settings_update(
                escalation_settings=escalation_settings, data={field: int(value)}, changed_by=user, via="admin"
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return self._back(escalation_settings)
        messages.success(request, f"{SUGGESTED_FIELDS[field]} is {value} now (version {escalation_settings.version}).")
        return self._back(escalation_settings)


RULE_PREVIEW_MAX_CHARS = 4096

SUGGESTED_FIELDS = {"confidence_threshold": "Confidence threshold", "max_attempts": "Max attempts"}
REASON_LABELS = {
    "escalate_tool": "The AI called the escalate tool",
    "phrase": "An escalation phrase in the reply",
    "low_confidence": "Low confidence",
    "manual": "The customer asked for a human",
}
EVIDENCE_LABELS = {
    "ai_could_have_answered": "marked “AI could have answered”",
    "right_to_escalate": "marked “right to escalate”",
    "asked_for_human": "held back, then asked for a human",
    "reopened": "re-opened after a teammate closed it",
    "held_back_then_reopened": "held back after the close, then re-opened",
}


def preview_context(preview: Preview) -> dict[str, Any]:
    """What ``escalation/_preview.html`` shows of a replay."""
    reasons = [
        {
            "label": label,
            "live": preview.by_reason_live.get(reason, 0),
            "draft": preview.by_reason.get(reason, 0),
            "delta": preview.by_reason.get(reason, 0) - preview.by_reason_live.get(reason, 0),
        }
        for reason, label in REASON_LABELS.items()
    ]
    return {"preview": preview, "reasons": reasons, "tickets_delta_abs": abs(preview.tickets_delta)}


def _labelled(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**proof, "kind_label": EVIDENCE_LABELS.get(proof["kind"], proof["kind"])} for proof in evidence]


def tuning_context(escalation_settings: EscalationSettings, *, now: Any) -> dict[str, Any]:
    """The Ticket Escalation page's tuning cards: the shadow's summary, the suggestions and their URLs."""
    urls = {
        name: reverse(f"admin:escalation_escalationsettings_{route}", args=[escalation_settings.pk])
        for name, route in (
            ("preview", "preview"),
            ("shadow", "shadow"),
            ("promote", "shadow_promote"),
            ("discard", "shadow_discard"),
            ("apply", "suggestion_apply"),
        )
    }
    context: dict[str, Any] = {"tuning_urls": urls, **shadow_summary_context(escalation_settings)}
    found = suggestions(agent=escalation_settings.agent, escalation_settings=escalation_settings, now=now)
    context["suggestions"] = [
        {
            **item.as_dict(),
            "label": SUGGESTED_FIELDS[item.field],
            "tickets_delta": item.tickets_delta,
            "tickets_delta_abs": abs(item.tickets_delta),
            "conversations": item.conversations,
            "evidence_detail": _labelled(item.evidence_detail),
            "evidence_against": _labelled(item.evidence_against),
        }
        for item in found
    ]
    return context


@admin.register(KnowledgeGapLink)
class KnowledgeGapAdmin(WorkspaceScopedAdmin):
    """*Knowledge gaps*: the backlog of topics the AI could not answer (``escalation.gaps``), most asked first,
    each with example questions and the articles that were tried; an admin links an article to mark a topic
    handled, and the topic's questions are then searched again to show whether the AI answers them now. The
    list is the backlog itself, not the link rows; an admin of several workspaces picks one."""

    workspace_path = "workspace"

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _workspaces(self, request: HttpRequest) -> list[Workspace]:
        workspaces = Workspace.objects.order_by("name", "id")
        if not request.user.is_superuser:
            workspaces = workspaces.filter(pk__in=self._allowed(request))
        return list(workspaces)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise Http404("No such page.")
        workspaces = self._workspaces(request)
        if not workspaces:
            raise Http404("No workspace.")
        chosen = request.GET.get("workspace") or request.POST.get("workspace") or ""
        workspace = next((w for w in workspaces if str(w.pk) == chosen), workspaces[0])
        if request.method == "POST":
            return self._link(request, workspace)
        now = timezone.now()
        topics = knowledge_gaps(workspace=workspace, now=now, limit=50)
        articles = list(knowledge_article_list(workspace=workspace).values_list("pk", "title"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Knowledge gaps",
            "opts": self.model._meta,
            "workspace": workspace,
            "workspaces": workspaces if len(workspaces) > 1 else [],
            "topics": [
                {
                    **topic.as_dict(),
                    "answered_percent": round(100 * topic.answered_now) if topic.answered_now is not None else None,
                    "checked": min(topic.count, ANSWER_CHECK_LIMIT),
                }
                for topic in topics
            ],
            "articles": articles,
            "days": GAP_DAYS,
            **(extra_context or {}),
        }
        return render(request, "admin/escalation/knowledgegaplink/backlog.html", context)

    def _link(self, request: HttpRequest, workspace: Workspace) -> HttpResponse:
        key = request.POST.get("topic", "")[:200]
        raw = request.POST.get("article", "")
        article = knowledge_article_get(workspace=workspace, article_id=int(raw)) if raw.isdigit() else None
        back = HttpResponseRedirect(f"{request.path}?workspace={workspace.pk}#gap-{key}")
        if raw and article is None:
            messages.error(request, "Choose an article of this workspace.")
            return back
        user = request.user if isinstance(request.user, User) else None
        knowledge_gap_link(workspace=workspace, key=key, article=article, linked_by=user)
        if article is None:
            messages.success(request, "The topic is back in the backlog.")
        else:
            messages.success(request, f"Linked “{article.title}”: the topic's questions were searched again below.")
        return back
