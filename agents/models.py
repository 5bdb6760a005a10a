"""The AI agent and what it works with: its knowledge base, the conversations it holds, and one record per AI turn.

An ``Agent`` belongs to a workspace and carries its skills (knowledge search, web search) and the responder
backend that writes its replies. ``KnowledgeArticle`` is the help center it answers from; a published
article is searched as ``KnowledgePassage`` rows (its sections, each with its stems for lexical search and,
once the background job has run, its embedding), which ``agents.knowledge`` keeps in step with every article
write; ``KnowledgeIndexState`` counts the changes of a workspace's index, so processes that cache its
statistics know when to reload them. A
``Conversation`` is one widget thread between a contact and an agent; its raw token is handed to the widget
once and only its SHA-256 is stored. ``AgentTurn`` is the full record of one AI reply — confidence, tools,
knowledge sources, latency — plus escalation's decision about it, stored with it.

``agents.services`` is the only writer of conversations, messages and turns: their status changes (handed
off, handed back) and every message go through it.

Conversation statuses:

- ``open``: the AI answers the user's messages.
- ``handed_off``: a human owns the conversation; the AI stays silent.
- ``closed``: the conversation ended; a new user message re-opens it for the AI.
"""

import hashlib
import secrets

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from agents.topics import DEFAULT_HUMAN_ONLY_TOPICS
from agents.turns import KnowledgeSource, ToolCall
from halo.models import Contact, Workspace
from halo.outbound import outbound_url_validator


def default_human_only_topics() -> list[str]:
    return list(DEFAULT_HUMAN_ONLY_TOPICS)


class Agent(models.Model):
    class Responder(models.TextChoices):
        BUILTIN = "builtin", "Built-in (offline, answers from the knowledge base)"
        OPENAI = "openai", "OpenAI-compatible chat completions"
        EXTERNAL = "external", "External bot (posts its turns to the API)"

    class WebSearchProvider(models.TextChoices):
        NONE = "none", "None"
        SEARXNG = "searxng", "SearxNG-compatible JSON"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=100, default="Halo")
    greeting = models.CharField(max_length=500, default="Hi! Ask me anything, I'm here to help.")
    knowledge_search_enabled = models.BooleanField(default=True)
    web_search_enabled = models.BooleanField(default=False)
    responder = models.CharField(max_length=16, choices=Responder.choices, default=Responder.BUILTIN)
    openai_base_url = models.URLField(
        max_length=500, blank=True, default="", help_text="e.g. https://api.openai.com/v1 (OpenAI-compatible)."
    )
    openai_model = models.CharField(max_length=100, blank=True, default="")
    openai_api_key = models.CharField(max_length=500, blank=True, default="", help_text="Write-only.")
    web_search_provider = models.CharField(
        max_length=16, choices=WebSearchProvider.choices, default=WebSearchProvider.NONE
    )
    web_search_url = models.URLField(max_length=500, blank=True, default="", help_text="Base URL of the provider.")
    human_only_topics = models.JSONField(
        default=default_human_only_topics,
        blank=True,
        help_text=(
            "Messages the built-in responder hands to a human at once (it calls the escalate tool), one entry "
            "per line: a built-in category, recognised in any phrasing (account security, billing dispute, "
            "legal or privacy request, outage or bug that persists), or any phrase, matched as whole words."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "AI agent"
        constraints = [
            models.CheckConstraint(
                condition=Q(responder__in=["builtin", "openai", "external"]), name="agent_responder_valid"
            ),
            models.CheckConstraint(
                condition=Q(web_search_provider__in=["none", "searxng"]), name="agent_web_search_provider_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def answers_offline(self) -> bool:
        """Whether its responder answers without calling the network (builtin, no web search)."""
        return self.responder == self.Responder.BUILTIN and not self.web_search_enabled


class KnowledgeArticle(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="knowledge_articles")
    title = models.CharField(max_length=300)
    body = models.TextField()
    url = models.URLField(max_length=1000, blank=True, default="")
    published = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["workspace", "published"], name="article_workspace_published")]

    def __str__(self) -> str:
        return self.title


class KnowledgePassage(models.Model):
    """One searchable piece of a published article, written only by ``agents.knowledge`` (index and embed).

    ``section``: a section of the body (or a part of a long one) under its heading, searched by words and by
    meaning. ``title``: the article's title alone, searched by meaning only (a title says what the article is
    for in a way no section does). ``*_terms`` are the Snowball stems the lexical search matches; PostgreSQL
    keeps them in ``search_vector`` (GIN-indexed, migration ``0004``), SQLite in the FTS5 table
    ``agents_knowledgepassage_fts`` (rowid = passage id). ``embedding``: the unit vector of ``digest``'s text
    (float32, little-endian) from ``embedding_model``; null until the background job has embedded it.
    """

    class Kind(models.TextChoices):
        TITLE = "title", "The article's title (searched by meaning only)"
        SECTION = "section", "A section of the article"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    article = models.ForeignKey(KnowledgeArticle, on_delete=models.CASCADE, related_name="passages")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SECTION)
    heading = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField(blank=True, default="")
    title_terms = models.TextField(blank=True, default="")
    heading_terms = models.TextField(blank=True, default="")
    body_terms = models.TextField(blank=True, default="")
    digest = models.CharField(max_length=64)
    # PostgreSQL only (NULL on SQLite, which matches through its FTS5 table instead).
    search_vector = SearchVectorField(null=True, blank=True, editable=False)
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    embedding_model = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["article_id", "position"]
        indexes = [models.Index(fields=["workspace", "kind"], name="passage_workspace_kind")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["title", "section"]), name="passage_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.article_id}#{self.position} {self.heading}"


class KnowledgeIndexState(models.Model):
    """Changes with every change of a workspace's passages (+1 each time, from a random start): a process
    caching their statistics and vectors reloads them when it differs (read by every search, in its query)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, primary_key=True, related_name="+")
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"knowledge index of workspace {self.workspace_id} v{self.version}"


class KnowledgeSettings(models.Model):
    """How a workspace's knowledge is searched by meaning: with the model bundled with Halo (when the server
    has it installed), through an OpenAI-compatible ``/v1/embeddings`` endpoint, or not at all (words only).

    Written only by ``agents.knowledge`` (``knowledge_settings_save``): a change re-embeds every passage.
    """

    class Embeddings(models.TextChoices):
        BUNDLED = "bundled", "The model bundled with Halo (all-MiniLM-L6-v2, on this server)"
        OPENAI = "openai", "An OpenAI-compatible /v1/embeddings endpoint"
        OFF = "off", "Off: search by words only"

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, primary_key=True, related_name="+")
    embeddings = models.CharField(max_length=16, choices=Embeddings.choices, default=Embeddings.BUNDLED)
    embeddings_base_url = models.URLField(
        max_length=500,
        blank=True,
        default="",
        validators=[outbound_url_validator],
        help_text="e.g. https://api.openai.com/v1 (OpenAI-compatible).",
    )
    embeddings_model = models.CharField(
        max_length=100, blank=True, default="", help_text="e.g. text-embedding-3-small."
    )
    embeddings_api_key = models.CharField(max_length=500, blank=True, default="", help_text="Write-only.")

    class Meta:
        verbose_name = "knowledge settings"
        verbose_name_plural = "knowledge settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(embeddings__in=["bundled", "openai", "off"]), name="knowledgesettings_embeddings_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"knowledge settings of workspace {self.workspace_id}"

    def clean(self) -> None:
        if self.embeddings == self.Embeddings.OPENAI:
            missing = {
                name: "Required for an OpenAI-compatible endpoint."
                for name in ("embeddings_base_url", "embeddings_model")
                if not getattr(self, name)
            }
            if missing:
                raise ValidationError(missing)


def new_conversation_token() -> str:
    return secrets.token_urlsafe(32)


def hash_conversation_token(token: str) -> str:
    # A token read from a socket's JSON frame may hold a lone surrogate: hashed as given, it matches nothing.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open (the AI answers)"
        HANDED_OFF = "handed_off", "Handed off to a human"
        CLOSED = "closed", "Closed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    token_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    # Kept on the row by the writes that change them, so a new message needs no query to know whether the
    # AI may answer: the last time a closed ticket gave the conversation back to the AI, and the last time
    # a teammate wrote in it (the AI stays silent once a teammate has spoken since the hand-back).
    handed_back_at = models.DateTimeField(null=True, blank=True, editable=False)
    teammate_replied_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The customer's side of a teammate's reply: the newest message the widget reported as seen (on screen,
    # panel open), and the newest teammate reply emailed to them. A teammate reply above both is unseen and
    # not yet emailed: the reply email (``inbox.notifications.replies``) sends exactly those.
    customer_seen_message_id = models.BigIntegerField(null=True, blank=True, editable=False)
    replies_emailed_through_id = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-updated_at"], name="conversation_workspace_recent"),
            models.Index(fields=["contact", "-created_at"], name="conversation_contact_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "handed_off", "closed"]), name="conversation_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation #{self.pk} with {self.contact}"

    def token_matches(self, token: str) -> bool:
        return secrets.compare_digest(self.token_hash, hash_conversation_token(token))

    @property
    def ai_may_answer(self) -> bool:
        """The AI answers only an open conversation in which no teammate has spoken since the last
        hand-back (both times are kept on the row: no query)."""
        if self.status != self.Status.OPEN:
            return False
        spoke_at, handed_back_at = self.teammate_replied_at, self.handed_back_at
        return spoke_at is None or (handed_back_at is not None and spoke_at <= handed_back_at)


class Message(models.Model):
    class Author(models.TextChoices):
        USER = "user", "User"
        AI = "ai", "AI"
        TEAMMATE = "teammate", "Teammate"
        SYSTEM = "system", "System"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=16, choices=Author.choices)
    body = models.TextField()
    # AI answers: [{"title", "url"}] of the articles the answer came from.
    sources = models.JSONField(default=list, blank=True)
    teammate = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(author__in=["user", "ai", "teammate", "system"]), name="message_author_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:60]}"


class MessageSearch(models.Model):
    """A message's full-text search document (PostgreSQL): written only by the database trigger of migration
    ``0007_message_search`` on every insert or body change of a message, never by Python. On SQLite the
    FTS5 table ``agents_message_fts`` plays this part and this table stays empty. ``workspace_id`` is copied
    from the conversation so a search reads one table; ``agents.search`` queries it."""

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, primary_key=True, related_name="+", db_constraint=False
    )
    workspace_id = models.BigIntegerField()
    conversation_id = models.BigIntegerField()
    document = SearchVectorField()

    class Meta:
        db_table = "agents_message_search"
        indexes = [models.Index(fields=["workspace_id", "-message"], name="agents_message_search_recent")]

    def __str__(self) -> str:
        return f"Search document of message #{self.message_id}"


class AgentTurn(models.Model):
    """One AI reply and everything behind it; the escalation engine adds its decision to the same row.

    ``tools``: ``[{"name", "arguments", "result"}]``; ``knowledge_sources``: ``[{"title", "url", "score"}]``.
    ``message`` is null for a turn in which the AI said nothing (an external bot's silent turn).
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    message = models.OneToOneField(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="turn")
    reply = models.TextField(
        blank=True,
        default="",
        help_text="The AI's own reply, as escalation judged it; the message is what the customer read with the "
        "decision (a held-back handoff offers a teammate instead of promising one).",
    )
    confidence = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    tools = models.JSONField(default=list, blank=True)
    knowledge_sources = models.JSONField(default=list, blank=True)
    escalate_reason = models.TextField(blank=True, default="", help_text="The escalate tool's reason, if called.")
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # The decision record: escalation's judgement of the turn (``agents.turns.TurnDecision``), stored with it.
    signals = models.JSONField(default=list, blank=True, help_text="Written by escalation.")
    escalated = models.BooleanField(default=False, help_text="Written by escalation.")
    reason = models.CharField(max_length=32, null=True, blank=True, help_text="Written by escalation.")
    suppressed_by = models.CharField(max_length=32, null=True, blank=True, help_text="Written by escalation.")
    decided_at = models.DateTimeField(null=True, blank=True, help_text="Written by escalation.")
    # The same turn judged under the agent's shadow settings, never acted on: ``{"version", "escalated",
    # "reason", "suppressed_by", "signals"}``, or null when the agent had no shadow settings then.
    shadow = models.JSONField(null=True, blank=True, help_text="Written by escalation.")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="agentturn_conversation_created"),
            # The escalation report's rollups count the turns held back in a span of days by ``created_at``
            # (``escalation.reports.report_days_compute``): only held-back turns, a small share of all turns.
            models.Index(
                fields=["created_at"], condition=Q(suppressed_by__isnull=False), name="agentturn_held_back_created"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=100),
                name="agentturn_confidence_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Turn #{self.pk} of conversation #{self.conversation_id}"

    @property
    def tool_calls(self) -> list[ToolCall]:
        return ToolCall.list_from_json(self.tools)

    @property
    def sources(self) -> list[KnowledgeSource]:
        return KnowledgeSource.list_from_json(self.knowledge_sources)
