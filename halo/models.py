"""Tenancy and people: workspaces, their API keys and members, and the contacts and companies they serve.

Every row that belongs to a customer of Halo hangs off a ``Workspace``; nothing is shared across
workspaces. Optional text fields store "no value" as NULL, never as an empty string (a check constraint
holds the database to it), so "unknown" means one thing to the segment language.
"""

import hashlib
import math
import re
import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone as django_timezone


def new_app_id() -> str:
    return secrets.token_hex(8)


def new_identity_secret() -> str:
    return secrets.token_hex(32)


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError("%(value)s is not a known time zone (e.g. Europe/Paris).", params={"value": value})


# Custom field keys must be usable as ``user.custom_fields.<key>`` in the segment language.
CUSTOM_FIELD_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
CUSTOM_FIELD_KEY_MAX_LENGTH = 64
CUSTOM_FIELDS_MAX_COUNT = 100
CUSTOM_FIELD_TEXT_MAX_LENGTH = 1000
# Beyond 2**53 a JSON number loses precision in browsers and JavaScript clients.
CUSTOM_FIELD_NUMBER_MAX = 2**53


def validate_custom_fields(value: object) -> None:
    """Custom fields are a flat JSON object of scalars (text, number, boolean, null) under segment-safe keys."""
    if not isinstance(value, dict):
        raise ValidationError("Custom fields must be a JSON object.", code="invalid_custom_fields")
    if len(value) > CUSTOM_FIELDS_MAX_COUNT:
        raise ValidationError(
            "At most %(max)d custom fields are allowed.", params={"max": CUSTOM_FIELDS_MAX_COUNT}, code="too_many"
        )
    errors: list[ValidationError] = []
    for key, item in value.items():
        if not isinstance(key, str) or len(key) > CUSTOM_FIELD_KEY_MAX_LENGTH or not CUSTOM_FIELD_KEY.match(key):
            errors.append(
                ValidationError(
                    "%(key)s is not a valid custom field name: use letters, digits and underscores, starting with "
                    "a letter or underscore, at most %(max)d characters.",
                    params={"key": repr(key)[:80], "max": CUSTOM_FIELD_KEY_MAX_LENGTH},
                    code="invalid_key",
                )
            )
        elif item is None or isinstance(item, bool):
            continue
        elif isinstance(item, str):
            if "\x00" in item:
                errors.append(
                    ValidationError("%(key)s: text may not contain NUL characters.", params={"key": key}, code="null")
                )
            elif len(item) > CUSTOM_FIELD_TEXT_MAX_LENGTH:
                errors.append(
                    ValidationError(
                        "%(key)s: text values are limited to %(max)d characters.",
                        params={"key": key, "max": CUSTOM_FIELD_TEXT_MAX_LENGTH},
                        code="too_long",
                    )
                )
        elif isinstance(item, int | float):
            if not math.isfinite(item) or abs(item) > CUSTOM_FIELD_NUMBER_MAX:
                errors.append(
                    ValidationError("%(key)s: the number is out of range.", params={"key": key}, code="out_of_range")
                )
        else:
            errors.append(
                ValidationError(
                    "%(key)s: values must be text, a number, true/false or null (no lists or objects).",
                    params={"key": key},
                    code="not_scalar",
                )
            )
    if errors:
        raise ValidationError(errors)


def _not_empty(*fields: str, model: str) -> list[models.BaseConstraint]:
    return [models.CheckConstraint(condition=~Q(**{field: ""}), name=f"{model}_{field}_not_empty") for field in fields]


class Workspace(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    app_id = models.CharField(
        max_length=32, unique=True, default=new_app_id, editable=False, help_text="Public id used by the widget."
    )
    identity_secret = models.CharField(
        max_length=128,
        default=new_identity_secret,
        help_text="Signs user ids for the widget (user_hash = HMAC-SHA256(user_id)). Never shown after creation.",
    )
    allowed_origins = models.JSONField(
        default=list, blank=True, help_text="Origins allowed to embed the widget, e.g. https://example.com."
    )
    slack_webhook_url = models.URLField(max_length=500, blank=True, default="", help_text="Write-only.")
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    # [{"id": endpoint id, "events": [names]}] of the workspace's active (not paused) webhook endpoints,
    # rebuilt by ``halo.webhooks`` in the transaction of every endpoint change (db_default: rows written outside
    # the ORM, and migrations run back past this field, get an empty list). It rides on the workspace row
    # that every request already reads, so an event no endpoint wants costs no query at all.
    webhook_routes = models.JSONField(default=list, db_default=[], blank=True, editable=False)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BusinessHours(models.Model):
    """When a workspace's team is open: weekly periods in the workspace's time zone (``Workspace.timezone``),
    a country's public holidays and custom closed dates, and the first-reply targets counted in those hours.

    A workspace without a row is open around the clock with the default targets. ``weekly`` is a list of
    ``{"day": 0-6 (Monday first), "open": "HH:MM", "close": "HH:MM"}`` (``"24:00"`` closes at midnight);
    ``holidays`` a list of ISO dates. ``halo.services.business_hours_set`` validates both (the admin and the
    API share it); ``halo.hours`` does the arithmetic.
    """

    DEFAULT_FIRST_REPLY_TARGET_MINUTES = 120
    DEFAULT_PRIORITY_FIRST_REPLY_TARGET_MINUTES = 30
    # A month of business minutes: a longer promise is no promise.
    MAX_TARGET_MINUTES = 30 * 24 * 60

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="business_hours")
    weekly = models.JSONField(default=list, blank=True)
    holidays_country = models.CharField(
        max_length=3, null=True, blank=True, help_text="ISO country code whose public holidays are closed days."
    )
    holidays = models.JSONField(default=list, blank=True, help_text="Other closed dates (ISO, e.g. 2026-12-24).")
    first_reply_target_minutes = models.PositiveIntegerField(default=DEFAULT_FIRST_REPLY_TARGET_MINUTES)
    priority_first_reply_target_minutes = models.PositiveIntegerField(
        default=DEFAULT_PRIORITY_FIRST_REPLY_TARGET_MINUTES
    )
    updated_at = models.DateTimeField(default=django_timezone.now)

    class Meta:
        verbose_name = "business hours"
        verbose_name_plural = "business hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(first_reply_target_minutes__gte=1, priority_first_reply_target_minutes__gte=1),
                name="businesshours_targets_positive",
            ),
            *_not_empty("holidays_country", model="businesshours"),
        ]

    def __str__(self) -> str:
        return f"Business hours of {self.workspace}"


class ApiKey(models.Model):
    """A server API key. Only a SHA-256 of the secret is stored; the key is shown once, when created.

    Keys are 256-bit random strings, so a fast hash is enough (no dictionary to guess from); the public
    ``prefix`` finds the row without scanning.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} (halo_{self.prefix}_…)"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        TEAMMATE = "teammate", "Teammate"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.TEAMMATE)
    # Team assignment: an away teammate is given no ticket automatically, and nobody is given more than
    # ``capacity`` tickets that are not closed (None: no limit). A teammate may still take tickets by hand.
    available = models.BooleanField(default=True)
    capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most tickets that are not closed assigned automatically; blank: no limit."
    )
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="membership_unique_user_workspace"),
            models.CheckConstraint(condition=Q(role__in=["admin", "teammate"]), name="membership_role_valid"),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=0), name="membership_capacity_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class Company(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="companies")
    company_id = models.CharField(max_length=255, help_text="The workspace's own id for the company.")
    name = models.CharField(max_length=255, null=True, blank=True)
    plan = models.CharField(max_length=255, null=True, blank=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    mrr = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    industry = models.CharField(max_length=255, null=True, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True, validators=[validate_custom_fields])
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "companies"
        # Segment rules compare lower(plan): the expression index gives the planner its statistics.
        indexes = [models.Index(Lower("plan"), name="company_plan_lower")]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "company_id"], name="company_unique_external_id"),
            *_not_empty("company_id", "name", "plan", "industry", model="company"),
        ]

    def __str__(self) -> str:
        return self.name or self.company_id


class Contact(models.Model):
    """An end user of a workspace: identified (``user_id`` set by the workspace) or an anonymous visitor."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="contacts")
    user_id = models.CharField(max_length=255, null=True, blank=True, help_text="The workspace's own user id.")
    visitor_id = models.CharField(
        max_length=64, null=True, blank=True, editable=False, help_text="The widget's id for an anonymous visitor."
    )
    # ``email`` is known to be the contact's: set by the workspace's server API or a signed widget identity.
    # An address a visitor types in chat is theirs by claim only: it is kept apart, shown to staff as
    # unverified, never matched by segment rules and never written to.
    email = models.EmailField(max_length=254, null=True, blank=True)
    unverified_email = models.EmailField(max_length=254, null=True, blank=True)
    name = models.CharField(max_length=255, null=True, blank=True)
    role = models.CharField(max_length=255, null=True, blank=True)
    plan = models.CharField(max_length=255, null=True, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True, validators=[validate_custom_fields])
    company = models.ForeignKey(Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts")
    subscription_status = models.CharField(max_length=64, null=True, blank=True)
    stripe_mrr = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    lifetime_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    last_active_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        # Segment rules on recent activity ("last active less than N days ago").
        indexes = [models.Index(fields=["workspace", "last_active_at"], name="contact_workspace_active")]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user_id"], condition=Q(user_id__isnull=False), name="contact_unique_user_id"
            ),
            models.UniqueConstraint(
                fields=["workspace", "visitor_id"],
                condition=Q(visitor_id__isnull=False),
                name="contact_unique_visitor_id",
            ),
            *_not_empty(
                "user_id", "visitor_id", "email", "name", "role", "plan", "subscription_status", model="contact"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.user_id or f"Visitor {self.pk}"

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None

    def clean(self) -> None:
        # A contact's company is one of its own workspace's companies.
        if self.company is not None and self.company.workspace_id != self.workspace_id:
            raise ValidationError({"company": "The company belongs to another workspace."})


class PageView(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="page_views")
    url = models.CharField(max_length=2048)
    occurred_at = models.DateTimeField(default=django_timezone.now)

    class Meta:
        indexes = [models.Index(fields=["contact", "-occurred_at"], name="pageview_contact_time")]
        constraints = _not_empty("url", model="pageview")

    def __str__(self) -> str:
        return self.url


class OutboxMessage(models.Model):
    """Work that must happen after a commit, written in the same transaction as the change that causes it.

    A Celery task named by ``task`` delivers it (``halo.outbox``); the sweep sends again whatever was
    queued but not delivered — after a crash, a restart or a broker outage — so nothing is lost.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="outbox_messages")
    task = models.CharField(max_length=200, help_text="The Celery task that delivers it.")
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=django_timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.task} #{self.pk} ({self.state})"


def new_webhook_secret() -> str:
    return f"whsec_{secrets.token_hex(32)}"


class WebhookEndpoint(models.Model):
    """A URL of the workspace's that Halo POSTs the events it subscribes to, signed with ``secret``.

    The secret signs deliveries, so it is kept (not hashed, unlike API keys); it is shown once, when the
    endpoint is created, and never displayed or logged afterwards. ``failing_since`` is the first failed
    attempt since the last success; an endpoint failing for ``halo.webhooks.PAUSE_AFTER`` is paused
    (``paused_at``): no events are recorded for it until an admin resumes it.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=80, default=new_webhook_secret, editable=False)
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


class WebhookDelivery(models.Model):
    """The delivery log of one event to one endpoint: written by the delivering worker at every attempt
    (the event itself travels in the outbox row recorded with the change). ``event`` is the body sent."""

    class State(models.TextChoices):
        PENDING = "pending", "Being delivered"
        RETRYING = "retrying", "Failed, will retry"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=64)
    event = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    outbox_message = models.ForeignKey(
        OutboxMessage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
    )
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["endpoint", "-id"], name="webhook_delivery_recent")]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhookdelivery_one_per_event"),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "retrying", "delivered", "failed"]),
                name="webhookdelivery_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint_id}"
