"""The knowledge-gap backlog: what customers asked that the AI could not answer, grouped into topics.

A question is a gap when its AI turn had low confidence (the turn's ``low_confidence`` signal, or a
confidence under the builtin's answering bar), or when a teammate judged the escalation it led to as one the
AI could have answered (the ticket's verdict). What was asked is the turn's knowledge-search query (the
question as the search saw it, small talk removed), else the user's message before the reply.

Questions are grouped by the knowledge search's own terms (``agents.knowledge.question_stemmer``: its stop
words, its Snowball stemmer, its typo corrections towards help-center words), with no outside service and
no synonym list. The stem shared by the most questions — weighted by the index's inverse document
frequency, so that a word the help center uses everywhere ("message" in a chat product's) names a topic
less readily than a telling one ("export") — anchors a topic of every question holding it; this repeats
over the questions left until no stem is shared, and each question left is a topic of its own. A topic's id
is its anchor stem, so an admin's link to an article (``KnowledgeGapLink``) keeps its topic when the
backlog is computed again; its name is the anchor and the stem its questions share most after it, in the
words customers used. Topics are ranked by count, then by the last time asked. The few short words search
keeps for their meaning but that name no subject ("not", "no", "off", "out") never anchor or name a topic,
and a message with nothing else ("Sorry, that's not it") is a reaction, not a question: it is left out.

``answered_now``: for a topic with a linked article, its questions (the latest ``ANSWER_CHECK_LIMIT``) are
searched again against the knowledge base as it is now, and a question counts as answered when the builtin
responder would answer it — an article likely enough to quote (``REFUSE_BELOW``) with a confidence at or
above the agent's threshold (no low-confidence signal). The share is cached per topic (``answered_now``),
under a key made of everything it depends on: the workspace's knowledge index version (moved by every article
saved, deleted or embedded, and by a change of the search's settings), the topic's link (its article and the
time it was linked), and the questions checked with their agents' thresholds. A change to any of them is a new
key, so a cached share is never stale and a view of an unchanged backlog searches nothing (a search may call a
workspace's remote embeddings endpoint).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q
from redis.exceptions import RedisError

from agents.knowledge import knowledge_lookup, question_stemmer, term_weight
from agents.knowledge.calibration import answer_probability
from agents.knowledge.text import query_terms, stem
from agents.models import AgentTurn, KnowledgeArticle, KnowledgeIndexState, Message
from agents.responders import ANSWER_MIN_CONFIDENCE, REFUSE_BELOW
from agents.turns import KnowledgeSource, ToolName
from escalation.engine import Signal
from escalation.models import EscalationSettings, KnowledgeGapLink
from halo.api.throttling import cache_available, cache_failed
from halo.models import Workspace
from inbox.models import EscalationEvent

DEFAULT_DAYS = 90
EXAMPLES = 5
ANSWER_CHECK_LIMIT = 20
MAX_TOPICS = 100
# Kept by search for their meaning ("turn off"), but no subject of a topic.
NO_TOPIC = frozenset(stem(word) for word in ("not", "no", "off", "out"))
# The key holds everything the share depends on; the expiry only bounds what an unused key keeps.
ANSWERED_CACHE_SECONDS = 7 * 24 * 3600
# The verdict "AI could have answered", under its current and its former value.
AI_COULD_HAVE_ANSWERED = ("ai_could_have_answered", "ai_could_answer")


@dataclass
class Question:
    turn_id: int
    agent_id: int
    text: str
    asked_at: datetime
    stems: frozenset[str]
    sources: list[KnowledgeSource]


@dataclass
class Topic:
    key: str
    label: str
    questions: list[Question] = field(default_factory=list)
    article: KnowledgeArticle | None = None
    answered_now: float | None = None

    @property
    def count(self) -> int:
        return len(self.questions)

    @property
    def last_seen_at(self) -> datetime:
        return max(question.asked_at for question in self.questions)

    @property
    def examples(self) -> list[str]:
        seen: dict[str, None] = {}
        for question in sorted(self.questions, key=lambda q: q.asked_at, reverse=True):
            seen.setdefault(question.text, None)
        return list(seen)[:EXAMPLES]

    @property
    def articles_tried(self) -> list[dict[str, str]]:
        counts: Counter[tuple[str, str]] = Counter()
        for question in self.questions:
            for source in {source.key: source for source in question.sources}.values():
                counts[(source.title, source.url)] += 1
        return [{"title": title, "url": url} for (title, url), _ in counts.most_common(3)]

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.key,
            "topic": self.label,
            "count": self.count,
            "last_seen_at": self.last_seen_at,
            "examples": self.examples,
            "articles_tried": self.articles_tried,
            "article": {"id": self.article.pk, "title": self.article.title, "url": self.article.url}
            if self.article is not None
            else None,
            "answered_now": self.answered_now,
        }


def _is_gap(confidence: int | None, signals: object, tools: object, judged_answerable: bool) -> bool:
    if judged_answerable:
        return True
    if confidence is None or _called(tools, ToolName.ESCALATE):
        return False  # small talk, or a topic the AI hands to a human on purpose
    low = isinstance(signals, list) and Signal.LOW_CONFIDENCE.value in signals
    return low or confidence < ANSWER_MIN_CONFIDENCE


def _called(tools: object, name: ToolName) -> bool:
    return isinstance(tools, list) and any(isinstance(tool, dict) and tool.get("name") == name.value for tool in tools)


def gap_questions(*, workspace: Workspace, now: datetime, days: int = DEFAULT_DAYS) -> list[Question]:
    """The questions the AI could not answer in the last ``days`` days: two queries (the turns, then the user
    messages before the turns that searched nothing)."""
    since = now - timedelta(days=days)
    judged = EscalationEvent.objects.filter(
        workspace=workspace, ticket__verdict__in=AI_COULD_HAVE_ANSWERED, turn__isnull=False
    ).values("turn_id")
    candidates = (
        AgentTurn.objects.filter(conversation__workspace=workspace, created_at__gte=since)
        .filter(Q(confidence__isnull=False) | Q(pk__in=judged))
        .annotate(judged=Exists(judged.filter(turn_id=OuterRef("pk"))))
        .order_by("id")
        .values_list(
            "id",
            "conversation_id",
            "conversation__agent_id",
            "message_id",
            "created_at",
            "tools",
            "knowledge_sources",
            "confidence",
            "signals",
            "judged",
        )
    )
    rows = [row[:7] for row in candidates.iterator(chunk_size=2000) if _is_gap(row[7], row[8], row[5], row[9])]
    texts: dict[int, str] = {}
    for turn_id, _, _, _, _, tools, _ in rows:
        for tool in tools if isinstance(tools, list) else []:
            if isinstance(tool, dict) and tool.get("name") == ToolName.KNOWLEDGE_SEARCH.value:
                query = (tool.get("arguments") or {}).get("query")
                if isinstance(query, str) and query.strip():
                    texts[turn_id] = query.strip()
    missing = [(row[0], row[1], row[3]) for row in rows if row[0] not in texts and row[3] is not None]
    if missing:
        texts.update(_asked_before(missing))
    questions = []
    stems_of = question_stemmer(workspace=workspace)
    for turn_id, _, agent_id, _, created_at, _, sources in rows:
        text = texts.get(turn_id, "")
        stems = frozenset(stems_of(text)) - NO_TOPIC if text else frozenset()
        if stems:
            questions.append(
                Question(
                    turn_id=turn_id,
                    agent_id=agent_id,
                    text=text,
                    asked_at=created_at,
                    stems=stems,
                    sources=KnowledgeSource.list_from_json(sources),
                )
            )
    return questions


def _asked_before(turns: list[tuple[int, int, int]]) -> dict[int, str]:
    """For each (turn, conversation, AI message): the user's message just before that AI message."""
    conversations = {conversation for _, conversation, _ in turns}
    by_conversation: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for conversation_id, message_id, body in (
        Message.objects.filter(conversation_id__in=conversations, author=Message.Author.USER)
        .order_by("id")
        .values_list("conversation_id", "id", "body")
    ):
        by_conversation[conversation_id].append((message_id, body))
    asked: dict[int, str] = {}
    for turn_id, conversation_id, message_id in turns:
        before = [body for pk, body in by_conversation.get(conversation_id, []) if pk < message_id]
        if before:
            asked[turn_id] = before[-1]
    return asked


def group_questions(questions: Iterable[Question], weight: Callable[[str], float] = lambda _: 1.0) -> list[Topic]:
    """Questions grouped into topics by their stems (see the module), ranked by count then recency.

    ``weight``: how telling a stem is (the knowledge index's inverse document frequency: a word the help
    center uses everywhere, such as "message" in a chat product's, names a topic less well than "export").
    """
    remaining = sorted(questions, key=lambda q: q.asked_at, reverse=True)
    topics: list[Topic] = []
    while remaining:
        counts: Counter[str] = Counter(term for question in remaining for term in question.stems)
        anchor, count = max(counts.items(), key=lambda item: (item[1] * weight(item[0]), item[1], item[0]))
        if count < 2:
            break
        members = [question for question in remaining if anchor in question.stems]
        remaining = [question for question in remaining if anchor not in question.stems]
        topics.append(_topic(anchor, members, weight))
    for question in remaining:  # asked once: a topic of its own, named by its most telling stem
        anchor = max(question.stems, key=lambda term: (weight(term), term))
        topics.append(_topic(anchor, [question], weight))
    return sorted(topics, key=lambda topic: (-topic.count, -topic.last_seen_at.timestamp(), topic.key))


def _topic(anchor: str, members: list[Question], weight: Callable[[str], float]) -> Topic:
    """A topic's id is its anchor stem; its name adds the stem its questions share most after it."""
    counts: Counter[str] = Counter(term for question in members for term in question.stems if term != anchor)
    second = [
        term
        for term, count in sorted(counts.items(), key=lambda item: (-item[1] * weight(item[0]), item[0]))
        if count * 2 >= len(members)
    ][:1]
    if len(members) == 1:
        second = sorted(counts, key=lambda term: (-weight(term), term))[:1]
    return Topic(key=anchor, label=_label([anchor, *second], members), questions=members)


def _label(top: list[str], members: list[Question]) -> str:
    """The topic's stems as the words customers used most for them ("notifications", not the stem "notif"), in
    the order the latest question says them ("dark · mode")."""
    surface: dict[str, Counter[str]] = defaultdict(Counter)
    for question in members:
        for word in query_terms(question.text):
            surface[stem(word)][word] += 1
    said = [stem(word) for word in query_terms(members[0].text)]
    ordered = sorted(top, key=lambda term: said.index(term) if term in said else len(said))
    return " · ".join(surface[term].most_common(1)[0][0] if surface.get(term) else term for term in ordered)


def knowledge_gaps(
    *, workspace: Workspace, now: datetime, days: int = DEFAULT_DAYS, limit: int = MAX_TOPICS, check: bool = True
) -> list[Topic]:
    """The workspace's knowledge-gap backlog, ranked, each topic with its linked article (if any) and, for a
    linked topic when ``check``, the share of its questions the AI answers now."""
    questions = gap_questions(workspace=workspace, now=now, days=days)
    topics = group_questions(questions, term_weight(workspace=workspace))[:limit]
    links = {
        link.key: link
        for link in KnowledgeGapLink.objects.filter(
            workspace=workspace, key__in=[t.key for t in topics]
        ).select_related("article")
    }
    linked = check and any(topic.key in links for topic in topics)
    thresholds = agent_thresholds(workspace) if linked else {}
    version = knowledge_index_version(workspace) if linked else None
    for topic in topics:
        link = links.get(topic.key)
        topic.article = link.article if link is not None else None
        if check and link is not None:
            topic.answered_now = answered_now(
                workspace=workspace, topic=topic, link=link, thresholds=thresholds, index_version=version
            )
    return topics


def knowledge_index_version(workspace: Workspace) -> int | None:
    """The workspace's knowledge index version (None before its first article)."""
    return KnowledgeIndexState.objects.filter(workspace_id=workspace.pk).values_list("version", flat=True).first()


def answered_now(
    *,
    workspace: Workspace,
    topic: Topic,
    link: KnowledgeGapLink,
    thresholds: dict[int, int],
    index_version: int | None,
) -> float:
    """``answered_share`` of a linked topic, from the cache when nothing it depends on changed (see the module)."""
    latest = _latest(topic)
    asked = hashlib.sha256(
        repr([(q.turn_id, q.text, q.agent_id, thresholds.get(q.agent_id, 50)) for q in latest]).encode()
    ).hexdigest()[:32]
    key = (
        f"halo:gap-answered:{workspace.pk}:{index_version}:{hashlib.sha256(topic.key.encode()).hexdigest()[:16]}:"
        f"{link.article_id}:{link.linked_at.timestamp()}:{asked}"
    )
    if cache_available():
        try:
            cached = cache.get(key)
        except (RedisError, OSError):
            cache_failed("the knowledge gaps' answered share")
        else:
            if cached is not None:
                return float(cached)
    share = answered_share(workspace=workspace, topic=topic, thresholds=thresholds)
    if cache_available():
        try:
            cache.set(key, share, ANSWERED_CACHE_SECONDS)
        except (RedisError, OSError):
            cache_failed("the knowledge gaps' answered share")
    return share


def _latest(topic: Topic) -> list[Question]:
    return sorted(topic.questions, key=lambda q: q.asked_at, reverse=True)[:ANSWER_CHECK_LIMIT]


def agent_thresholds(workspace: Workspace) -> dict[int, int]:
    """Each agent's confidence threshold (the bar for "answered"), by agent id."""
    rows = EscalationSettings.objects.filter(agent__workspace=workspace).values_list("agent_id", "confidence_threshold")
    return dict(rows)


def answered_share(*, workspace: Workspace, topic: Topic, thresholds: dict[int, int]) -> float:
    """The share of the topic's latest questions the builtin responder answers from the knowledge base now."""
    latest = _latest(topic)
    answered = 0
    for question in latest:
        result = knowledge_lookup(workspace=workspace, text=question.text, limit=3)
        probability = answer_probability(result)
        confidence = round(100 * probability)
        if result.hits and probability >= REFUSE_BELOW and confidence >= thresholds.get(question.agent_id, 50):
            answered += 1
    return round(answered / len(latest), 3) if latest else 0.0


def knowledge_gap_get(*, workspace: Workspace, key: str, now: datetime, days: int = DEFAULT_DAYS) -> Topic | None:
    for topic in knowledge_gaps(workspace=workspace, now=now, days=days, limit=10_000, check=False):
        if topic.key == key:
            return topic
    return None
