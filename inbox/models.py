"""Tickets and custom inboxes: where an escalated conversation lands and a teammate takes over.

A ``Ticket`` is created by an escalation (``escalation.services``) for one contact and carries the AI's
context at the time: reason, confidence, knowledge sources searched, tools tried, the version of the
escalation settings that created it, and an AI summary filled in after commit (``summary_state`` is
``pending`` until then). Its conversations are attached live (many-to-many: a conversation handed back to
the AI and escalated again lands on a later ticket too).

Invariant, enforced by the database: a contact has at most one ticket that is not closed (the partial
unique constraint ``ticket_one_open_per_contact``). A new escalation for that contact merges into it.

Statuses: ``open`` and ``priority`` (from the agent's priority filter; a merge may raise ``open`` to
``priority``, never lower it), ``snoozed`` (a teammate parked it), ``closed`` (hands the conversations back
to the AI).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from agents.models import Agent, Conversation
from halo.models import Contact, Workspace


class CustomInbox(models.Model):
    """A named queue of a workspace's tickets (e.g. "Billing"), the target of ``inbox`` routing."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="custom_inboxes")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "custom inbox"
        verbose_name_plural = "custom inboxes"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="custominbox_unique_name"),
            models.CheckConstraint(condition=~Q(name=""), name="custominbox_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PRIORITY = "priority", "Priority"
        SNOOZED = "snoozed", "Snoozed"
        CLOSED = "closed", "Closed"

    class SummaryState(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"

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

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["workspace", "status", "-id"], name="ticket_workspace_status"),
            models.Index(fields=["workspace", "assignee", "-id"], name="ticket_workspace_assignee"),
            models.Index(fields=["workspace", "inbox", "-id"], name="ticket_workspace_inbox"),
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
        ]

    def __str__(self) -> str:
        return f"Ticket #{self.pk} ({self.status})"
