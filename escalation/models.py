"""Escalation settings (one per agent, versioned) and the record of every escalation.

``EscalationSettings`` holds every escalation setting of an agent with its range and default. Ranges and the
"routing ``inbox`` needs a default inbox" rule are check constraints; the rules that look at other rows
(the assignee is a member of the agent's workspace, the inbox belongs to it, *require web search* needs
the web-search skill, filters parse) are in ``clean()``, which the admin form, the API and the services
all run. Every change bumps ``version`` and writes an ``EscalationSettingsVersion`` (who, when, what
changed); tickets record the version that created them. The record of each escalation is the ticket's
history (``inbox.models.EscalationEvent``).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from agents.models import Agent
from escalation.engine import Mode
from halo.models import Membership
from inbox.models import CustomInbox
from segments.fields import SegmentRuleField

DEFAULT_ESCALATION_PHRASES = [
    "get a teammate involved",
    "create a ticket for this",
    "connect you with a teammate",
    "connect you with our team",
    "hand this over to our team",
    "a human will follow up",
]
# Matched as whole words beside the built-in recognition of requests for a human (escalation/intent.py),
# which already reads "can I talk to someone?" or "a real person please" in context. So the defaults are
# only phrases that ask for a person wherever they appear: "talk to someone" would fire on "how do I talk
# to someone privately?", "talk to a person" on "how do I talk to a person in another org?", "real person"
# on "are you a real person?", "human agent" on "how many human agents can we add?".
DEFAULT_HANDOFF_PHRASES = [
    "talk to a human",
    "speak to a human",
    "talk to an agent",
    "speak to an agent",
    "customer service representative",
]
MAX_PHRASES = 50
MAX_PHRASE_LENGTH = 200


def default_escalation_phrases() -> list[str]:
    return list(DEFAULT_ESCALATION_PHRASES)


def default_handoff_phrases() -> list[str]:
    return list(DEFAULT_HANDOFF_PHRASES)


def validate_phrases(value: object) -> None:
    """A list of at most 50 non-blank phrases of at most 200 characters."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("Enter a list of phrases.", code="invalid_phrases")
    if len(value) > MAX_PHRASES:
        raise ValidationError("At most %(max)d phrases.", params={"max": MAX_PHRASES}, code="too_many_phrases")
    for phrase in value:
        if not phrase.strip():
            raise ValidationError("A phrase cannot be blank (it would match every message).", code="blank_phrase")
        if len(phrase) > MAX_PHRASE_LENGTH:
            raise ValidationError(
                "A phrase has at most %(max)d characters.", params={"max": MAX_PHRASE_LENGTH}, code="phrase_too_long"
            )


class EscalationSettings(models.Model):
    class RoutingType(models.TextChoices):
        TEAM_MEMBER = "team_member", "Team member"
        INBOX = "inbox", "Custom inbox"

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="escalation_settings")
    mode = models.CharField(
        max_length=16,
        choices=[(Mode.OFF.value, "Off"), (Mode.ALWAYS.value, "Always"), (Mode.CONDITIONAL.value, "Conditional")],
        default=Mode.CONDITIONAL.value,
        help_text="Off: the AI never hands off on its own (users can still ask for a human). Always: any "
        "signal hands off. Conditional: the escalate tool hands off at once; other signals only after the "
        "gates below.",
    )
    confidence_threshold = models.PositiveSmallIntegerField(
        default=50,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="0-100. Escalate when the AI's confidence is strictly below this value, so a higher "
        "threshold escalates more.",
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="1-10. Conditional mode: AI turns (this one counted) before a phrase or low confidence may hand off.",
    )
    require_knowledge_search = models.BooleanField(
        default=True, help_text="Conditional mode: hand off only after the AI searched the knowledge base."
    )
    require_web_search = models.BooleanField(
        default=False,
        help_text="Conditional mode: hand off only after the AI searched the web. Needs the agent's web-search skill.",
    )
    escalation_filter = SegmentRuleField(
        blank=True,
        default="",
        help_text="Who may be handed off (segment rule). Blank: everyone. A contact outside it is never "
        "escalated and cannot ask for a human.",
    )
    priority_filter = SegmentRuleField(
        blank=True,
        default="",
        help_text="Whose tickets start as Priority (segment rule). Blank: nobody.",
    )
    default_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Team member routing: new tickets are assigned to this teammate (blank: unassigned).",
    )
    routing_type = models.CharField(
        max_length=16, choices=RoutingType.choices, default=RoutingType.TEAM_MEMBER, help_text="Where tickets go."
    )
    default_inbox = models.ForeignKey(
        CustomInbox,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Inbox routing: new tickets are placed in this custom inbox (required for inbox routing).",
    )
    escalation_phrases = models.JSONField(
        default=default_escalation_phrases,
        blank=True,
        validators=[validate_phrases],
        help_text="The AI's reply containing one of these hands off (case and spacing ignored).",
    )
    handoff_phrases = models.JSONField(
        default=default_handoff_phrases,
        blank=True,
        validators=[validate_phrases],
        help_text=(
            "A user message containing one of these, as whole words, asks for a human (case and spacing "
            'ignored; not when negated, as in "I don\'t want to talk to a human"). Requests in other words '
            "are recognised too."
        ),
    )
    expected_reply_time = models.CharField(
        max_length=100,
        default="within a few hours",
        help_text='Ends the message the customer sees after a handoff: "Our team will reply [this text]." For '
        'example "within a few hours" or "by the next business day".',
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "ticket escalation"
        verbose_name_plural = "ticket escalation"
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence_threshold__gte=0, confidence_threshold__lte=100),
                name="escalationsettings_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(max_attempts__gte=1, max_attempts__lte=10), name="escalationsettings_attempts_range"
            ),
            models.CheckConstraint(
                condition=Q(mode__in=["off", "always", "conditional"]), name="escalationsettings_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(routing_type="team_member") | Q(routing_type="inbox", default_inbox__isnull=False),
                name="escalationsettings_inbox_routing_needs_inbox",
            ),
            models.CheckConstraint(condition=~Q(expected_reply_time=""), name="escalationsettings_reply_time_set"),
        ]

    def __str__(self) -> str:
        return f"Ticket escalation of {self.agent}"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        agent = self.agent if self.agent_id else None
        workspace_id = agent.workspace_id if agent else None
        if self.routing_type == self.RoutingType.INBOX and self.default_inbox_id is None:
            errors.setdefault("default_inbox", []).append("Choose a default inbox for inbox routing.")
        if self.default_inbox_id is not None and workspace_id is not None:
            inbox_workspace = CustomInbox.objects.filter(pk=self.default_inbox_id).values_list("workspace", flat=True)
            if inbox_workspace.first() != workspace_id:
                errors.setdefault("default_inbox", []).append("Choose a custom inbox of this workspace.")
        if self.default_assignee_id is not None and workspace_id is not None:
            member = Membership.objects.filter(user_id=self.default_assignee_id, workspace_id=workspace_id).exists()
            if not member:
                errors.setdefault("default_assignee", []).append("The assignee must be a member of this workspace.")
        if self.require_web_search and agent is not None and not agent.web_search_enabled:
            errors.setdefault("require_web_search", []).append(
                "Turn on the agent's web-search skill before requiring a web search."
            )
        if errors:
            raise ValidationError(errors)


class EscalationSettingsVersion(models.Model):
    """One saved version of an agent's escalation settings: who changed what, and when."""

    escalation_settings = models.ForeignKey(EscalationSettings, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_via = models.CharField(max_length=16, default="system", help_text="admin, api or system.")
    changed_at = models.DateTimeField(default=timezone.now)
    # {field: [old, new]} for an update; {field: [null, value]} for the first version.
    changes = models.JSONField(default=dict, blank=True)
    values = models.JSONField(default=dict, blank=True, help_text="Every setting as saved in this version.")

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["escalation_settings", "version"], name="escalationsettingsversion_unique"),
        ]

    def __str__(self) -> str:
        return f"Version {self.version} of {self.escalation_settings}"


class ReportDay(models.Model):
    """One day of the escalation report for one agent under one settings version: the day's counts, computed
    from the stored conversations, turns, escalations and tickets by ``escalation.services.report_days_refresh``
    (the only writer) and kept current by the beat job ``escalation.tasks.report_rollups_update``.

    ``day`` is a date in the workspace's time zone; ``settings_version`` is 0 for rows that have none (an agent
    whose settings were never saved). ``counts`` maps each name of ``escalation.reports.COUNTERS`` to an
    integer, plus ``first_reply_median`` (seconds, or null): see ``escalation.reports`` for what each counts.
    """

    workspace = models.ForeignKey("halo.Workspace", on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    settings_version = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["workspace", "agent", "day", "settings_version"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "agent", "day", "settings_version"], name="reportday_unique_key"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "day"], name="reportday_workspace_day")]

    def __str__(self) -> str:
        return f"{self.day} agent {self.agent_id} v{self.settings_version}"


class ReportRollupState(models.Model):
    """When a workspace's report days were last brought up to date: the next run recomputes the days touched
    since then (minus a margin for transactions that were still open)."""

    workspace = models.OneToOneField("halo.Workspace", on_delete=models.CASCADE, primary_key=True, related_name="+")
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"report of workspace {self.workspace_id} as of {self.refreshed_at}"


class EscalationShadow(models.Model):
    """An agent's shadow settings: a draft every live turn is also judged under, recorded and never acted on.

    ``values`` holds every setting (``escalation.services.SETTINGS_FIELDS``, foreign keys as ids), validated
    like a save of the live settings. Each save bumps ``version`` and restarts ``since``: the agreement shown
    is always that of the values on screen (a turn records the shadow version that judged it). Promoting it
    is a normal versioned save of the live settings, after which the shadow is removed.
    """

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="escalation_shadow")
    values = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    since = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "shadow escalation settings"

    def __str__(self) -> str:
        return f"Shadow escalation settings of {self.agent} (v{self.version})"


class KnowledgeGapLink(models.Model):
    """An admin's answer to a knowledge gap: the article written (or found) for one topic of unanswered
    questions. The topics themselves are computed from the turns (``escalation.gaps``); ``key`` is a topic's
    stable id (its index terms), so a link survives the backlog being recomputed."""

    workspace = models.ForeignKey("halo.Workspace", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    article = models.ForeignKey("agents.KnowledgeArticle", on_delete=models.CASCADE, related_name="+")
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "knowledge gap"
        verbose_name_plural = "knowledge gaps"
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="knowledgegaplink_unique")]

    def __str__(self) -> str:
        return f"{self.key} → article {self.article_id}"
