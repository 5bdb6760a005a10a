"""Admin of the agents app: AI agents (with their *Actions > Ticket Escalation* link), knowledge articles,
and conversations with their transcript and AI-turn records (read-only).

Every page is limited to the workspaces the user administers (``WorkspaceScopedAdmin``). The OpenAI API
key is write-only: the form never shows it, and leaving the field blank keeps the stored key. Articles are
saved and deleted through ``agents.services`` so the search index stays current.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from agents.knowledge import knowledge_settings_save
from agents.models import Agent, AgentTurn, Conversation, KnowledgeArticle, KnowledgeSettings, Message
from agents.services import (
    AGENT_EDITABLE_FIELDS,
    AGENT_OUTBOUND_URL_FIELDS,
    knowledge_article_create,
    knowledge_article_delete,
    knowledge_article_update,
)
from halo.admin import WorkspaceScopedAdmin
from halo.forms import PhraseListField
from halo.outbound import outbound_url_validator


class AgentForm(forms.ModelForm):  # type: ignore[type-arg]
    human_only_topics = PhraseListField(
        required=False,
        help_text="One per line. A request on one of these topics goes to a human at once (the AI calls its "
        "escalate tool), e.g. refund, delete my account.",
    )
    openai_api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: leave blank to keep the stored key.",
    )

    class Meta:
        model = Agent
        fields = ["workspace", *AGENT_EDITABLE_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in AGENT_OUTBOUND_URL_FIELDS:  # a field error, as the API's 400 names the field
            self.fields[name].validators.append(outbound_url_validator)

    def clean_openai_api_key(self) -> str:
        value: str = self.cleaned_data.get("openai_api_key") or ""
        return value or (self.instance.openai_api_key if self.instance.pk else "")


@admin.register(Agent)
class AgentAdmin(WorkspaceScopedAdmin):
    form = AgentForm
    list_display = ["name", "workspace", "responder", "knowledge_search_enabled", "web_search_enabled"]
    list_filter = ["responder"]
    # The agent's *Actions > Ticket Escalation* stand at the top of its page (templates/admin/agents/agent/).
    change_form_template = "admin/agents/agent/change_form.html"
    fieldsets = [
        (None, {"fields": ["workspace", "name", "greeting"]}),
        ("Skills", {"fields": ["knowledge_search_enabled", "web_search_enabled", "human_only_topics"]}),
        ("Responder", {"fields": ["responder", "openai_base_url", "openai_model", "openai_api_key"]}),
        ("Web search", {"fields": ["web_search_provider", "web_search_url"]}),
    ]

    def save_model(self, request: HttpRequest, obj: Agent, form: Any, change: bool) -> None:
        obj.full_clean()
        super().save_model(request, obj, form, change)


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(WorkspaceScopedAdmin):
    list_display = ["title", "workspace", "published", "updated_at"]
    list_filter = ["published"]
    search_fields = ["title"]
    fields = ["workspace", "title", "body", "url", "published"]

    def save_model(self, request: HttpRequest, obj: KnowledgeArticle, form: Any, change: bool) -> None:
        if change:
            values = {"title": obj.title, "body": obj.body, "url": obj.url, "published": obj.published}
            knowledge_article_update(article=obj, data=values)
        else:
            saved = knowledge_article_create(
                workspace=obj.workspace, title=obj.title, body=obj.body, url=obj.url, published=obj.published
            )
            obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: KnowledgeArticle) -> None:
        knowledge_article_delete(article=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[KnowledgeArticle]) -> None:
        for article in queryset:
            knowledge_article_delete(article=article)


class MessageInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Message
    fields = readonly_fields = ("author", "body", "sources", "teammate", "created_at")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # shown only inside a conversation page, which ConversationAdmin already scopes

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AgentTurnInline(admin.TabularInline):  # type: ignore[type-arg]
    model = AgentTurn
    fields = readonly_fields = (
        "message",
        "confidence",
        "tools",
        "knowledge_sources",
        "escalate_reason",
        "signals",
        "escalated",
        "reason",
        "suppressed_by",
        "latency_ms",
    )
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True  # shown only inside a conversation page, which ConversationAdmin already scopes

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(WorkspaceScopedAdmin):
    list_display = ["id", "contact", "agent", "status", "updated_at"]
    list_filter = ["status"]
    list_select_related = ["contact", "agent"]
    fields = readonly_fields = ("workspace", "contact", "agent", "status", "created_at", "updated_at")
    inlines = [MessageInline, AgentTurnInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class KnowledgeSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    embeddings_api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: leave blank to keep the stored key.",
    )

    class Meta:
        model = KnowledgeSettings
        fields = ["workspace", "embeddings", "embeddings_base_url", "embeddings_model", "embeddings_api_key"]

    def clean_embeddings_api_key(self) -> str:
        value: str = self.cleaned_data.get("embeddings_api_key") or ""
        return value or (self.instance.embeddings_api_key if self.instance.pk else "")


@admin.register(KnowledgeSettings)
class KnowledgeSettingsAdmin(WorkspaceScopedAdmin):
    """How the workspace's knowledge is searched by meaning; saving a new choice re-embeds every article."""

    form = KnowledgeSettingsForm
    list_display = ["__str__", "embeddings", "embeddings_model"]

    def save_model(self, request: HttpRequest, obj: KnowledgeSettings, form: Any, change: bool) -> None:
        knowledge_settings_save(settings=obj)
