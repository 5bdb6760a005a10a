"""Tickets and custom inboxes: where an escalated conversation lands and a teammate takes over.

``inbox.services`` is the only writer of tickets and their history. A ``Ticket`` is created by an escalation
(``inbox.services.ticket_open_or_merge``, called by escalation) for one contact and carries the AI's
context at the time: reason, confidence, knowledge sources searched, tools tried, the version of the
escalation settings that created it, and an AI summary filled in after commit (``summary_state`` is
``pending`` until then). Its conversations are attached live (many-to-many: a conversation handed back to
the AI and escalated again lands on a later ticket too).

Invariant, enforced by the database: a contact has at most one ticket that is not closed (the partial
unique constraint ``ticket_one_open_per_contact``). A new escalation for that contact merges into it.

Statuses: ``open`` and ``priority`` (from the agent's priority filter; a merge may raise ``open`` to
``priority``, never lower it), ``snoozed`` (a teammate parked it), ``closed`` (hands the conversations back
to the AI).

The staff inbox adds: ``InboxEvent`` (the per-workspace, gap-free sequence of live events, numbered from
``InboxCounter`` in the transaction of the change they describe, replayed to sockets that reconnect),
``EscalationEvent`` (the ticket's history: one row per escalation that created it or merged into it),
``TicketNote`` (internal notes, never shown to the customer), ``SavedView`` (a named list: a segment rule
plus ticket filters), the teammate's ``verdict`` on a ticket (for tuning escalation) and the Slack limiter
state (``SlackThrottle``, one row per webhook, shared by every worker).
"""

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from agents.models import Agent, AgentTurn, Conversation
from halo.models import Contact, Workspace
from segments.fields import SegmentRuleField

# How the inbox, Slack and emails say why the AI handed off (``Ticket.reason``, ``EscalationEvent.reason``).
REASON_LABELS = {
    "escalate_tool": "the AI called its escalate tool",
    "phrase": "the AI said it needed a teammate",
    "low_confidence": "the AI was not confident in its answer",
    "manual": "the customer asked for a human",
}


def reason_label(reason: str) -> str:
    return REASON_LABELS.get(reason, reason)


class CustomInbox(models.Model):
    """A named queue of a workspace's tickets (e.g. "Billing"), the target of ``inbox`` routing.

    Its ``members`` are the teammates it assigns new tickets to, by its ``assignment`` policy. Its row lock
    orders the assignments of the inbox (``inbox.services``); ``assigned_total`` numbers them, so a member's
    ``last_assigned_seq`` says whose turn it is.
    """

    class Assignment(models.TextChoices):
        MANUAL = "manual", "Manually"
        ROUND_ROBIN = "round_robin", "Round robin"
        BALANCED = "balanced", "Balanced (fewest open tickets)"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="custom_inboxes")
    name = models.CharField(max_length=100)
    slack_webhook_url = models.URLField(
        max_length=500,
        blank=True,
        default="",
        help_text="Write-only. Slack messages of this inbox's new tickets go here instead of the workspace's webhook.",
    )
    assignment = models.CharField(
        max_length=16,
        choices=Assignment.choices,
        default=Assignment.MANUAL,
        help_text="How new tickets of this inbox get an assignee among its available members.",
    )
    members: "models.ManyToManyField[User, InboxMember]" = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="InboxMember", related_name="team_inboxes", blank=True
    )
    assigned_total = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "custom inbox"
        verbose_name_plural = "custom inboxes"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="custominbox_unique_name"),
            models.CheckConstraint(condition=~Q(name=""), name="custominbox_name_not_empty"),
            models.CheckConstraint(
                condition=Q(assignment__in=["manual", "round_robin", "balanced"]), name="custominbox_assignment_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class InboxMember(models.Model):
    """A teammate of a team inbox, with the inbox's record of what it assigned them.

    ``assigned_count`` counts the tickets the inbox's policy gave them; ``last_assigned_seq`` is the inbox's
    ``assigned_total`` at their latest one (0: never), so round robin gives the next ticket to the member
    whose turn is oldest.
    """

    inbox = models.ForeignKey(CustomInbox, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    assigned_count = models.PositiveIntegerField(default=0)
    last_assigned_seq = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["inbox", "user"]
        constraints = [models.UniqueConstraint(fields=["inbox", "user"], name="inboxmember_unique_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in inbox {self.inbox_id}"


class Ticket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PRIORITY = "priority", "Priority"
        SNOOZED = "snoozed", "Snoozed"
        CLOSED = "closed", "Closed"

    class SummaryState(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"

    class Verdict(models.TextChoices):
        AI_COULD_HAVE_ANSWERED = "ai_could_have_answered", "AI could have answered"
        RIGHT_TO_ESCALATE = "right_to_escalate", "Right to escalate"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tickets")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="tickets")
    agent = models.ForeignKey(Agent, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets")
    conversations = models.ManyToManyField(Conversation, related_name="tickets", blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_tickets"
    )
    inbox = models.ForeignKey(CustomInbox, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets")
    reason = models.CharField(max_length=32, help_text="Why the first escalation happened (escalation.engine.Reason).")
    confidence = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    summary = models.TextField(blank=True, default="")
    summary_state = models.CharField(max_length=16, choices=SummaryState.choices, default=SummaryState.PENDING)
    # [{"title", "url", "score"}] and [{"name", "arguments"}] gathered over the escalated conversation.
    knowledge_sources = models.JSONField(default=list, blank=True)
    tools_tried = models.JSONField(default=list, blank=True)
    settings_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="Version of the agent's escalation settings that created the ticket."
    )
    escalation_count = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    # A snoozed ticket comes back to open at this time (if set), or as soon as the customer writes.
    snoozed_until = models.DateTimeField(null=True, blank=True)
    # A teammate's one-click judgement of the escalation, for tuning the agent's settings.
    verdict = models.CharField(max_length=32, choices=Verdict.choices, blank=True, default="")
    verdict_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    verdict_at = models.DateTimeField(null=True, blank=True)
    # How many times a teammate re-opened the ticket after it was closed (the report's reopen rate). Both
    # counts have a db_default too: rows written outside the ORM (bulk loads, benchmarks) get them as well.
    reopened_count = models.PositiveIntegerField(default=0, db_default=0)
    # AI turns held back by a rule (``AgentTurn.suppressed_by``) in the escalating conversation before the
    # ticket opened (since the conversation was last handed back to the AI): a delayed escalation when > 0.
    held_back_turns = models.PositiveIntegerField(default=0, db_default=0)
    # The first-reply promise: when a teammate's first reply is due (counted in business hours) and when the
    # first one was sent.
    first_reply_due_at = models.DateTimeField(null=True, blank=True)
    first_replied_at = models.DateTimeField(null=True, blank=True)
    # When the assignee and Slack were told the first reply is about to be late (``inbox.sla``): set once, in
    # the transaction that records the notifications, so each is sent once.
    first_reply_warned_at = models.DateTimeField(null=True, blank=True)
    # The customer's satisfaction rating, given once after the ticket closes.
    rating_score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    # db_default too: rows written outside the ORM (bulk loads, benchmarks) get it as well.
    rating_comment = models.TextField(blank=True, default="", db_default="")
    rated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # Lists of several statuses are ORDER BY id DESC LIMIT 51: without (workspace, id) PostgreSQL walks
            # the primary key backwards through every newer workspace's tickets.
            models.Index(fields=["workspace", "-id"], name="ticket_workspace_newest"),
            models.Index(fields=["workspace", "status", "-id"], name="ticket_workspace_status"),
            models.Index(fields=["workspace", "assignee", "-id"], name="ticket_workspace_assignee"),
            models.Index(fields=["workspace", "inbox", "-id"], name="ticket_workspace_inbox"),
            models.Index(fields=["snoozed_until"], condition=Q(status="snoozed"), name="ticket_snoozed_until"),
            # The SLA sweep and the "due soonest" sort: tickets still waiting for their first reply.
            models.Index(
                fields=["workspace", "first_reply_due_at", "id"],
                condition=Q(first_replied_at__isnull=True, first_reply_due_at__isnull=False),
                name="ticket_first_reply_due",
            ),
            # A team inbox's tickets waiting for an assignee, oldest first.
            models.Index(
                fields=["inbox", "created_at", "id"],
                condition=Q(assignee__isnull=True, inbox__isnull=False) & ~Q(status="closed"),
                name="ticket_waiting_for_assignee",
            ),
            # A teammate's tickets that are not closed (their load, against their capacity).
            models.Index(
                fields=["assignee", "workspace"], condition=~Q(status="closed"), name="ticket_assignee_not_closed"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["contact"], condition=~Q(status="closed"), name="ticket_one_open_per_contact"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "priority", "snoozed", "closed"]), name="ticket_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(summary_state__in=["pending", "ready"]), name="ticket_summary_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=100),
                name="ticket_confidence_range",
            ),
            models.CheckConstraint(condition=Q(escalation_count__gte=1), name="ticket_escalation_count_positive"),
            models.CheckConstraint(
                condition=Q(rating_score__isnull=True) | Q(rating_score__gte=1, rating_score__lte=5),
                name="ticket_rating_score_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Ticket #{self.pk} ({self.status})"


class EscalationEvent(models.Model):
    """One escalation: automatic (a judged turn) or manual (the user asked), merged into a ticket or not."""

    class Outcome(models.TextChoices):
        CREATED = "created", "Created a ticket"
        MERGED = "merged", "Merged into the open ticket"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="escalation_events")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="escalation_events")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="escalation_events")
    turn = models.ForeignKey(
        AgentTurn, on_delete=models.SET_NULL, null=True, blank=True, related_name="escalation_events"
    )
    reason = models.CharField(max_length=32)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    mode = models.CharField(max_length=16)
    priority_matched = models.BooleanField(default=False)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    settings_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="escalationevent_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(outcome__in=["created", "merged"]), name="escalationevent_outcome"),
        ]

    def __str__(self) -> str:
        return f"Escalation #{self.pk} ({self.reason}, {self.outcome})"


class TicketNote(models.Model):
    """An internal note on a ticket: seen by teammates only, never sent to the customer."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(body=""), name="ticketnote_body_not_empty")]

    def __str__(self) -> str:
        return f"Note on ticket #{self.ticket_id}"


class SavedView(models.Model):
    """A named inbox list of a workspace: the tickets whose contact matches a segment rule, plus filters."""

    class Assignee(models.TextChoices):
        ANY = "any", "Anyone"
        NONE = "none", "Unassigned"
        ME = "me", "The viewer"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=100)
    rule = SegmentRuleField(blank=True, default="", help_text="Contacts this view shows; blank: everyone.")
    # Ticket statuses shown; empty means every status that is not closed.
    statuses = models.JSONField(default=list, blank=True)
    assignee = models.CharField(max_length=8, choices=Assignee.choices, default=Assignee.ANY)
    inbox = models.ForeignKey(CustomInbox, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="savedview_unique_name"),
            models.CheckConstraint(condition=~Q(name=""), name="savedview_name_not_empty"),
            models.CheckConstraint(condition=Q(assignee__in=["any", "none", "me"]), name="savedview_assignee_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class InboxCounter(models.Model):
    """The last sequence number given to a workspace's inbox events; its row lock orders them."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.workspace_id}: {self.last_seq}"


class InboxCount(models.Model):
    """How many of a workspace's tickets that are not closed are in one cell of (status, assignee, team
    inbox): the sidebar's counts are sums of a workspace's cells, read in one query whatever the backlog.

    Invariant: for every workspace, status that is not closed, assignee and inbox, ``n`` equals the
    ``COUNT(*)`` of its tickets in that cell (no row: zero). Kept by ``inbox.services`` in the transaction that
    changes a ticket, with relative updates (``n = n + delta``, never a read-modify-write) of the cells a
    change leaves and enters, in one statement, in key order. ``assignee_key`` / ``inbox_key`` are ids, 0 for
    none: plain integers, so the cell's unique key works as the conflict target of that upsert on PostgreSQL
    and SQLite alike (NULLs are distinct in a unique key)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16)
    assignee_key = models.BigIntegerField(default=0)
    inbox_key = models.BigIntegerField(default=0)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "status", "assignee_key", "inbox_key"], name="inboxcount_cell")
        ]

    def __str__(self) -> str:
        return f"{self.workspace_id}/{self.status}/{self.assignee_key}/{self.inbox_key}: {self.n}"


class InboxEvent(models.Model):
    """One live inbox event, numbered ``seq`` (1, 2, 3, … without gaps) within its workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    type = models.CharField(max_length=32)
    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["workspace", "seq"]
        constraints = [models.UniqueConstraint(fields=["workspace", "seq"], name="inboxevent_unique_seq")]

    def __str__(self) -> str:
        return f"{self.type} #{self.seq}"


class SlackThrottle(models.Model):
    """When a Slack webhook may next be called: held while a message is in flight, then 1.1 s after the
    send (longer after a 429); shared by all workers.

    ``key`` is a SHA-256 of the webhook URL, so the secret URL is not stored twice.
    """

    key = models.CharField(max_length=64, unique=True)
    next_send_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key[:12]


class Macro(models.Model):
    """A saved reply of a workspace, inserted into the composer by name. Its body may hold placeholders such as
    ``{{ customer.first_name }}``, filled in by ``inbox.macros.macro_render`` (plain substitution of known
    names, never a template engine over the text)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="macros")
    name = models.CharField(max_length=100)
    body = models.TextField(
        help_text="The reply's text. Placeholders: {{ customer.first_name }}, {{ customer.name }}, "
        "{{ customer.email }}, {{ company.name }}, {{ teammate.first_name }}, {{ teammate.name }}, {{ ticket.id }}."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="macro_unique_name"),
            models.CheckConstraint(condition=~Q(name=""), name="macro_name_not_empty"),
            models.CheckConstraint(condition=~Q(body=""), name="macro_body_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class TicketSearch(models.Model):
    """A ticket's full-text search document on PostgreSQL: ``to_tsvector('english', …)`` of the bodies of every
    message of its conversations, one narrow row per ticket, GIN-indexed. Written only by the database
    triggers of migration ``0013_ticket_search`` (a message inserted, edited or deleted; a conversation linked
    to or unlinked from a ticket), in the transaction of that change, never by Python. On SQLite the
    messages' FTS5 table (``agents_message_fts``) plays this part and this table stays empty.

    Invariant: for every ticket with a conversation, ``document`` holds the words of exactly the messages of
    its conversations (positions aside). ``workspace_id`` is the ticket's, so a search reads this table only;
    ``inbox.selectors.ticket_search`` queries it."""

    ticket = models.OneToOneField(
        Ticket, on_delete=models.CASCADE, primary_key=True, related_name="+", db_constraint=False
    )
    workspace_id = models.BigIntegerField()
    document = SearchVectorField()

    class Meta:
        db_table = "inbox_ticket_search"
        indexes = [models.Index(fields=["workspace_id", "-ticket"], name="inbox_ticket_search_recent")]

    def __str__(self) -> str:
        return f"Search document of ticket #{self.ticket_id}"
