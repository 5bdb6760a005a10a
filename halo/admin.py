"""Admin for tenancy and people, and ``WorkspaceScopedAdmin``, the base every app's admin uses for tenant data.

A superuser sees everything. A workspace admin (staff, with an ``admin`` membership) sees and edits only
rows of the workspaces they administer: the list, the change pages, the choices of every foreign key and
what they may add. Secrets are write-only: the identity secret and the Slack webhook URL are never
displayed back, an API key's hash is never shown and a new key — like a webhook endpoint's signing secret —
is shown once, in the confirmation message. Webhook endpoints are added and deleted through
``halo.webhooks.services``; their delivery log shows each event's last response code and can redeliver it.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.auth.models import Group
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from halo.forms import SurrogateFreeForm, SurrogateFreeJSONField
from halo.models import (
    ApiKey,
    BusinessHours,
    Company,
    Contact,
    Membership,
    OutboxMessage,
    PageView,
    WebhookDelivery,
    WebhookEndpoint,
    Workspace,
    new_identity_secret,
)
from halo.outbound import slack_webhook_url_validator
from halo.outbox import outbox_retry
from halo.selectors import workspace_ids_administered
from halo.services import (
    DAY_NAMES,
    api_key_create,
    api_key_revoke,
    business_hours_check,
    business_hours_set,
    business_hours_weekly_default,
    workspace_timezone_changed,
)
from halo.webhooks.events import WebhookEvent
from halo.webhooks.services import (
    URL_MAX_LENGTH,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_resume,
    webhook_events_check,
    webhook_redeliver,
    webhook_url_refusal,
)


def _workspaces_administered(request: HttpRequest) -> set[int]:
    """The ids of the workspaces the requesting user administers, computed once per request."""
    cached: set[int] | None = getattr(request, "_halo_admin_workspaces", None)
    if cached is None:
        cached = workspace_ids_administered(user=request.user)
        request._halo_admin_workspaces = cached  # type: ignore[attr-defined]
    return cached


def _scoped_choices(related: type[models.Model], allowed: set[int]) -> QuerySet[Any] | None:
    """The rows of ``related`` a workspace admin may pick, or None if ``related`` is not tenant data."""
    if related is Workspace:
        return Workspace.objects.filter(pk__in=allowed)
    if any(field.name == "workspace" for field in related._meta.get_fields()):
        return related._default_manager.filter(workspace__in=allowed)
    if related._meta.label == settings.AUTH_USER_MODEL:
        return related._default_manager.filter(memberships__workspace__in=allowed).distinct()
    related_admin = admin.site._registry.get(related)
    if isinstance(related_admin, WorkspaceScopedAdmin):
        return related._default_manager.filter(**{related_admin.workspace_lookup(): allowed})
    return None


class _ScopedFormFields:
    """Foreign-key and many-to-many choices limited to the user's workspaces (superusers see all)."""

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if not request.user.is_superuser:
            choices = _scoped_choices(db_field.related_model, _workspaces_administered(request))
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if not request.user.is_superuser:
            choices = _scoped_choices(db_field.related_model, _workspaces_administered(request))
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]


class WorkspaceScopedAdmin(_ScopedFormFields, admin.ModelAdmin):  # type: ignore[type-arg]
    """Limits a model admin to the workspaces the user administers (superusers are not limited).

    ``workspace_path`` is the lookup from the model to its ``Workspace`` (``"workspace"``,
    ``"contact__workspace"``, or ``""`` for the Workspace model itself). Lists, change pages, foreign-key
    and many-to-many choices, and the choices of related list filters are all limited.
    """

    workspace_path = "workspace"
    formfield_overrides = {models.JSONField: {"form_class": SurrogateFreeJSONField}}

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if issubclass(form, SurrogateFreeForm):
            return form
        return type(form.__name__, (SurrogateFreeForm, form), {})

    def workspace_lookup(self) -> str:
        return f"{self.workspace_path}__in" if self.workspace_path else "pk__in"

    def _allowed(self, request: HttpRequest) -> set[int]:
        return _workspaces_administered(request)

    def _workspace_id_of(self, obj: models.Model) -> int | None:
        target: Any = obj
        for part in self.workspace_path.split("__") if self.workspace_path else []:
            target = getattr(target, part, None)
            if target is None:
                return None
        return target.pk if isinstance(target, Workspace) else None

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{self.workspace_lookup(): self._allowed(request)})

    def get_list_filter(self, request: HttpRequest) -> Any:
        """A filter on a relation lists only the related rows present in the (scoped) list, so it never
        shows the names of another workspace's agents, inboxes or teammates."""
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        scoped: list[Any] = []
        for item in filters:
            if isinstance(item, str):
                try:
                    field = get_fields_from_path(self.model, item)[-1]
                except (FieldDoesNotExist, NotRelationField):
                    field = None
                if field is not None and field.is_relation:
                    item = (item, admin.RelatedOnlyFieldListFilter)
            scoped.append(item)
        return scoped

    def _may(self, request: HttpRequest, obj: models.Model | None) -> bool:
        allowed = self._allowed(request)
        if not allowed:
            return False
        return obj is None or self._workspace_id_of(obj) in allowed

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(request.user.is_staff and self._allowed(request))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or self._may(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or self._may(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_superuser or bool(self._allowed(request))

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser or self._may(request, obj)


class WorkspaceScopedReadOnlyAdmin(WorkspaceScopedAdmin):
    """A record the app writes and admins only look up: no add or change; delete only if ``deletable``."""

    deletable = False

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.deletable and super().has_delete_permission(request, obj)


class _ScopedInline(_ScopedFormFields):
    """An inline of a ``WorkspaceScopedAdmin``: the parent admin already checked the parent object, so a
    workspace admin may use the inline; its foreign-key choices are limited like the parent's."""

    def _allowed(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or bool(request.user.is_staff and _workspaces_administered(request))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)


class WorkspaceScopedTabularInline(_ScopedInline, admin.TabularInline):  # type: ignore[type-arg]
    pass


class WorkspaceScopedStackedInline(_ScopedInline, admin.StackedInline):  # type: ignore[type-arg]
    pass


class WorkspaceForm(forms.ModelForm):  # type: ignore[type-arg]
    new_slack_webhook_url = forms.URLField(
        label="Slack webhook URL",
        required=False,
        assume_scheme="https",
        validators=[slack_webhook_url_validator],
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only: leave blank to keep the current URL.",
    )
    clear_slack_webhook_url = forms.BooleanField(label="Remove the Slack webhook", required=False)
    rotate_identity_secret = forms.BooleanField(
        required=False,
        help_text="Issue a new identity secret. Every user_hash signed with the old one stops working.",
    )

    class Meta:
        model = Workspace
        fields = ["name", "slug", "timezone", "allowed_origins"]

    def save(self, commit: bool = True) -> Workspace:
        workspace: Workspace = super().save(commit=False)
        if self.cleaned_data.get("clear_slack_webhook_url"):
            workspace.slack_webhook_url = ""
        elif self.cleaned_data.get("new_slack_webhook_url"):
            workspace.slack_webhook_url = self.cleaned_data["new_slack_webhook_url"]
        if self.cleaned_data.get("rotate_identity_secret"):
            workspace.identity_secret = new_identity_secret()
        if commit:
            workspace.save()
        return workspace


@admin.register(Workspace)
class WorkspaceAdmin(WorkspaceScopedAdmin):
    workspace_path = ""
    form = WorkspaceForm
    list_display = ["name", "slug", "app_id", "timezone", "slack_configured", "created_at"]
    search_fields = ["name", "slug", "app_id"]
    readonly_fields = ["app_id", "slack_configured", "created_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "app_id", "timezone", "created_at"]}),
        ("Widget", {"fields": ["allowed_origins", "rotate_identity_secret"]}),
        ("Slack", {"fields": ["slack_configured", "new_slack_webhook_url", "clear_slack_webhook_url"]}),
    ]

    @admin.display(boolean=True, description="Slack webhook")
    def slack_configured(self, obj: Workspace) -> bool:
        return bool(obj.slack_webhook_url)

    def save_model(self, request: HttpRequest, obj: Workspace, form: Any, change: bool) -> None:
        if not change:
            obj.save()
            return
        # Only what the form edits: the webhook routes are rebuilt by halo.webhooks while the form is open.
        obj.save(update_fields=[*WorkspaceForm.Meta.fields, "slack_webhook_url", "identity_secret"])
        if "timezone" in form.changed_data:  # the admin's save is one transaction: recorded with the change
            workspace_timezone_changed(workspace=obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_superuser  # new workspaces come from create_workspace (admin + API key)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser


class ApiKeyAddForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ApiKey
        fields = ["workspace", "name"]


@admin.register(ApiKey)
class ApiKeyAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "masked", "workspace", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "workspace__name"]
    readonly_fields = ["masked", "workspace", "name", "created_at", "last_used_at", "revoked_at"]
    fields = ["masked", "workspace", "name", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    @admin.display(description="Key")
    def masked(self, obj: ApiKey) -> str:
        return f"halo_{obj.prefix}_…" if obj.prefix else "—"

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
            kwargs["fields"] = ["workspace", "name"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields if obj is not None else ["workspace", "name"]

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            return  # nothing of a key is editable; revoking is an action
        api_key, raw_key = api_key_create(workspace=obj.workspace, name=obj.name)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = (
            api_key.pk,
            api_key.prefix,
            api_key.key_hash,
            api_key.created_at,
        )
        obj._state.adding = False
        messages.warning(request, f"Copy the new API key now, it will not be shown again: {raw_key}")

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        messages.success(request, f"Revoked {queryset.count()} key(s).")


@admin.register(Membership)
class MembershipAdmin(WorkspaceScopedAdmin):
    list_display = ["user", "workspace", "role", "available", "capacity", "created_at"]
    list_filter = ["role", "available"]
    search_fields = ["user__username", "user__email", "workspace__name"]
    list_select_related = ["user", "workspace"]


@admin.register(Company)
class CompanyAdmin(WorkspaceScopedAdmin):
    list_display = ["__str__", "company_id", "workspace", "plan", "employee_count", "mrr", "industry"]
    list_filter = ["plan", "industry"]
    search_fields = ["name", "company_id"]
    list_select_related = ["workspace"]
    readonly_fields = ["created_at"]


class PageViewInline(WorkspaceScopedTabularInline):
    model = PageView
    fields = ["url", "occurred_at"]
    readonly_fields = ["url", "occurred_at"]
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-occurred_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PageView]:
        return super().get_queryset(request).order_by("-occurred_at")


@admin.register(Contact)
class ContactAdmin(WorkspaceScopedAdmin):
    list_display = ["__str__", "user_id", "email", "plan", "company", "subscription_status", "last_active_at"]
    list_filter = ["plan", "subscription_status", "company"]
    search_fields = ["user_id", "email", "name", "company__name"]
    list_select_related = ["company", "workspace"]
    # ``unverified_email`` is what a visitor wrote in the chat: shown, never edited into ``email`` here.
    readonly_fields = ["visitor_id", "unverified_email", "last_active_at", "created_at"]
    inlines = [PageViewInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "workspace",
                    "user_id",
                    "visitor_id",
                    "email",
                    "unverified_email",
                    "name",
                    "role",
                    "plan",
                    "company",
                ]
            },
        ),
        ("Custom fields", {"fields": ["custom_fields"]}),
        ("Stripe", {"fields": ["subscription_status", "stripe_mrr", "lifetime_value"]}),
        ("Activity", {"fields": ["last_active_at", "created_at"]}),
    ]


@admin.register(PageView)
class PageViewAdmin(WorkspaceScopedReadOnlyAdmin):
    deletable = True
    workspace_path = "contact__workspace"
    list_display = ["url", "contact", "occurred_at"]
    search_fields = ["url", "contact__user_id", "contact__email"]
    list_select_related = ["contact"]
    readonly_fields = ["contact", "url", "occurred_at"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(WorkspaceScopedReadOnlyAdmin):
    """Read-only: admins see what is queued, what was delivered and what failed (with the last error)."""

    list_display = ["task", "state", "attempts", "next_attempt_at", "short_error", "workspace", "created_at"]
    list_filter = ["state", "task"]
    search_fields = ["task", "last_error"]
    list_select_related = ["workspace"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "workspace",
        "task",
        "payload",
        "state",
        "attempts",
        "next_attempt_at",
        "lease_expires_at",
        "last_error",
        "created_at",
        "done_at",
    ]
    actions = ["retry_now"]

    @admin.display(description="Last error")
    def short_error(self, obj: OutboxMessage) -> str:
        return obj.last_error[:120]

    @admin.action(description="Retry the selected failed or pending messages now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        count = outbox_retry(messages=queryset)
        messages.success(request, f"Queued {count} message(s) for another attempt.")


# --- Webhooks: endpoints (the secret shown once, when added), the delivery log, "Redeliver", "Resume" ---


class WebhookEndpointAddForm(forms.ModelForm):  # type: ignore[type-arg]
    url = forms.CharField(label="URL", max_length=URL_MAX_LENGTH, help_text="Where Halo POSTs the events (https://).")
    events = forms.MultipleChoiceField(
        choices=[(event.value, event.value) for event in WebhookEvent], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["workspace", "url", "events"]

    def clean_url(self) -> str:
        url = str(self.cleaned_data["url"]).strip()
        refusal = webhook_url_refusal(url)
        if refusal is not None:
            raise ValidationError(refusal)
        return url

    def clean_events(self) -> list[str]:
        try:
            return webhook_events_check(list(self.cleaned_data["events"]))
        except ValidationError as error:
            raise ValidationError(error.message_dict["events"]) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(WorkspaceScopedAdmin):
    list_display = ["url", "workspace", "subscribed", "status", "last_response", "failing_since", "created_at"]
    list_select_related = ["workspace"]
    search_fields = ["url"]
    readonly_fields = ["workspace", "url", "subscribed", "status", "failing_since", "created_at", "delivery_log"]
    fields = ["workspace", "url", "subscribed", "status", "failing_since", "created_at", "delivery_log"]
    actions = ["resume"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        last = WebhookDelivery.objects.filter(endpoint=OuterRef("pk"), last_status_code__isnull=False).order_by("-id")
        endpoints: QuerySet[WebhookEndpoint] = super().get_queryset(request)
        return endpoints.annotate(last_code=Subquery(last.values("last_status_code")[:1]))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = WebhookEndpointAddForm
            kwargs["fields"] = ["workspace", "url", "events"]
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields if obj is not None else ["workspace", "url", "events"]

    @admin.display(description="Events")
    def subscribed(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.events)

    @admin.display(description="Status")
    def status(self, obj: WebhookEndpoint) -> str:
        if obj.paused_at is not None:
            return f"Paused since {obj.paused_at:%Y-%m-%d %H:%M} UTC"
        return "Active"

    @admin.display(description="Last response")
    def last_response(self, obj: WebhookEndpoint) -> str:
        code = getattr(obj, "last_code", None)
        return str(code) if code is not None else "—"

    @admin.display(description="Delivery log")
    def delivery_log(self, obj: WebhookEndpoint) -> str:
        url = f"{reverse('admin:halo_webhookdelivery_changelist')}?endpoint__id__exact={obj.pk}"
        return format_html('<a href="{}">Every event sent to this endpoint, with its last response code</a>', url)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if change:
            return  # nothing of an endpoint is edited in place: delete it and add another
        endpoint = webhook_endpoint_create(
            workspace=obj.workspace, url=form.cleaned_data["url"], events=form.cleaned_data["events"]
        )
        obj.pk, obj.secret, obj.created_at, obj.events = (
            endpoint.pk,
            endpoint.secret,
            endpoint.created_at,
            endpoint.events,
        )
        obj._state.adding = False
        messages.warning(request, f"Copy the signing secret now, it will not be shown again: {endpoint.secret}")

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        webhook_endpoint_delete(endpoint=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            webhook_endpoint_delete(endpoint=endpoint)

    @admin.action(description="Resume the selected paused endpoints")
    def resume(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        paused = [endpoint for endpoint in queryset if endpoint.paused]
        for endpoint in paused:
            webhook_endpoint_resume(endpoint=endpoint)
        messages.success(request, f"Resumed {len(paused)} endpoint(s); new events are sent to them again.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(WorkspaceScopedReadOnlyAdmin):
    """The delivery log: one row per event and endpoint, with its last response code; "Redeliver" sends the
    same event (same id, same body) again."""

    list_display = ["event_type", "state", "last_response", "attempts", "last_attempt_at", "event_id", "endpoint"]
    list_filter = ["state", "event_type", "endpoint"]
    search_fields = ["event_id"]
    list_select_related = ["endpoint"]
    readonly_fields = [
        "endpoint",
        "event_id",
        "event_type",
        "state",
        "attempts",
        "last_status_code",
        "last_error",
        "last_attempt_at",
        "delivered_at",
        "created_at",
        "event",
    ]
    actions = ["redeliver"]

    @admin.display(description="Last response", ordering="last_status_code")
    def last_response(self, obj: WebhookDelivery) -> str:
        return str(obj.last_status_code) if obj.last_status_code is not None else "—"

    @admin.action(description="Redeliver the selected events")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        chosen = list(queryset.select_related("endpoint"))
        paused = [delivery for delivery in chosen if delivery.endpoint.paused]
        count = webhook_redeliver(deliveries=[delivery for delivery in chosen if not delivery.endpoint.paused])
        messages.success(request, f"Queued {count} event(s) for delivery again.")
        if paused:
            messages.warning(request, f"{len(paused)} event(s) of paused endpoints were skipped: resume them first.")


# Halo grants access through workspace memberships, not Django's groups: their admin (not scoped by
# workspace, and on SQLite a 500 for an out-of-range permission id posted into its form) is not offered.
admin.site.unregister(Group)


class BusinessHoursForm(forms.ModelForm):  # type: ignore[type-arg]
    """Business hours as a person writes them: one line per weekday ("09:00-12:00, 13:00-17:30", empty for
    closed), closed dates one per line. Checked by the same service as the API, each problem on its field."""

    timezone = forms.CharField(max_length=64, help_text="The team's time zone, e.g. Europe/Berlin.")
    holidays_text = forms.CharField(
        label="Other closed dates",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One date per line, YYYY-MM-DD (e.g. 2026-12-24).",
    )

    day_0 = forms.CharField(label="Monday", required=False, help_text="e.g. 09:00-12:00, 13:00-17:30")
    day_1 = forms.CharField(label="Tuesday", required=False)
    day_2 = forms.CharField(label="Wednesday", required=False)
    day_3 = forms.CharField(label="Thursday", required=False)
    day_4 = forms.CharField(label="Friday", required=False)
    day_5 = forms.CharField(label="Saturday", required=False)
    day_6 = forms.CharField(label="Sunday", required=False, help_text="Empty: closed all day.")

    class Meta:
        model = BusinessHours
        fields = ["workspace", "holidays_country", "first_reply_target_minutes", "priority_first_reply_target_minutes"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        weekly = self.instance.weekly if self.instance.pk else business_hours_weekly_default()
        for day in range(7):
            periods = [f"{item['open']}-{item['close']}" for item in weekly if item.get("day") == day]
            self.fields[_day_field(day)].initial = ", ".join(periods)
        if self.instance.pk:
            self.fields["timezone"].initial = self.instance.workspace.timezone
            self.fields["holidays_text"].initial = "\n".join(self.instance.holidays)
            self.fields["workspace"].disabled = True

    def _weekly(self) -> list[dict[str, Any]] | None:
        weekly: list[dict[str, Any]] = []
        for day in range(7):
            for part in filter(None, (p.strip() for p in self.cleaned_data.get(_day_field(day), "").split(","))):
                opens, dash, closes = part.replace("\u2013", "-").partition("-")
                if not dash:
                    self.add_error(_day_field(day), f"{part!r}: write a period as 09:00-17:30.")
                    return None
                weekly.append({"day": day, "open": opens.strip(), "close": closes.strip()})
        return weekly

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        workspace = cleaned.get("workspace") or (self.instance.workspace if self.instance.pk else None)
        weekly = self._weekly()
        if workspace is None or weekly is None:
            return cleaned
        self.business_hours_data = {
            "timezone": cleaned.get("timezone", ""),
            "weekly": weekly,
            "holidays_country": cleaned.get("holidays_country") or None,
            "holidays": [line.strip() for line in cleaned.get("holidays_text", "").splitlines() if line.strip()],
            "first_reply_target_minutes": cleaned.get("first_reply_target_minutes"),
            "priority_first_reply_target_minutes": cleaned.get("priority_first_reply_target_minutes"),
        }
        try:
            business_hours_check(workspace=workspace, data=self.business_hours_data)
        except ValidationError as error:
            for field, messages_ in error.message_dict.items():
                for message in messages_:
                    self.add_error(_admin_field(field, message), message)
        return cleaned


def _day_field(day: int) -> str:
    return f"day_{day}"


def _admin_field(field: str, message: str) -> str | None:
    """The admin form's field for a service error: a weekly problem goes to the day it names."""
    if field == "weekly":
        return next((_day_field(day) for day, name in enumerate(DAY_NAMES) if message.startswith(name)), None)
    return {"holidays": "holidays_text"}.get(field, field)


@admin.register(BusinessHours)
class BusinessHoursAdmin(WorkspaceScopedAdmin):
    form = BusinessHoursForm
    list_display = ["workspace", "holidays_country", "first_reply_target_minutes", "updated_at"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return [
            (None, {"fields": ["workspace", "timezone"]}),
            ("Weekly opening hours", {"fields": [_day_field(day) for day in range(7)]}),
            ("Holidays", {"fields": ["holidays_country", "holidays_text"]}),
            (
                "First-reply targets (business minutes)",
                {"fields": ["first_reply_target_minutes", "priority_first_reply_target_minutes"]},
            ),
        ]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        saved = business_hours_set(workspace=obj.workspace, data=form.business_hours_data)
        obj.pk = saved.pk
