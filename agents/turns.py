"""The values an AI turn carries across apps: the tools it called, the knowledge sources it searched, and
the decision escalation records with it.

They are stored as JSON (``AgentTurn.tools``, ``AgentTurn.knowledge_sources``, the ticket's copies) and read
back only through ``from_json``, which drops what is not of the documented shape (an external bot's JSON, a
row written by an older release) instead of letting every reader re-check it. ``to_json`` is the one
stored shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ToolName(StrEnum):
    """The tools whose calls mean something to Halo; a bot may call tools of its own (any other name)."""

    KNOWLEDGE_SEARCH = "knowledge_search"
    WEB_SEARCH = "web_search"
    ESCALATE = "escalate"


@dataclass(frozen=True)
class ToolCall:
    """One tool the AI called: its name, its arguments (e.g. ``query``, ``reason``) and what it returned."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    result: Any = None

    def is_tool(self, tool: ToolName) -> bool:
        return self.name == tool.value

    def to_json(self, *, with_result: bool = True) -> dict[str, Any]:
        stored: dict[str, Any] = {"name": self.name, "arguments": dict(self.arguments)}
        if with_result:
            stored["result"] = self.result
        return stored

    @classmethod
    def from_json(cls, raw: Any) -> ToolCall | None:
        """A stored call, or None for anything without a name."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            return None
        arguments = raw.get("arguments")
        return cls(
            name=raw["name"],
            arguments=dict(arguments) if isinstance(arguments, Mapping) else {},
            result=raw.get("result"),
        )

    @classmethod
    def list_from_json(cls, raw: Any) -> list[ToolCall]:
        calls = (cls.from_json(item) for item in (raw if isinstance(raw, list) else []))
        return [call for call in calls if call is not None]


@dataclass(frozen=True)
class KnowledgeSource:
    """A help-center article the AI searched: title, link (may be empty) and relevance score (0-1, or None)."""

    title: str
    url: str = ""
    score: float | None = None

    @property
    def key(self) -> str:
        """What makes two sources the same article: its link, else its title."""
        return self.url or self.title

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "url": self.url, "score": self.score}

    def citation(self) -> dict[str, str]:
        """How a reply cites it (``Message.sources``): title and link, no score."""
        return {"title": self.title, "url": self.url}

    @classmethod
    def from_json(cls, raw: Any) -> KnowledgeSource | None:
        """A stored source, or None for anything without a title or a link."""
        if not isinstance(raw, Mapping):
            return None
        title, url, score = raw.get("title"), raw.get("url"), raw.get("score")
        title = title if isinstance(title, str) else ""
        url = url if isinstance(url, str) else ""
        if not (title or url):
            return None
        number = float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None
        return cls(title=title, url=url, score=number)

    @classmethod
    def list_from_json(cls, raw: Any) -> list[KnowledgeSource]:
        sources = (cls.from_json(item) for item in (raw if isinstance(raw, list) else []))
        return [source for source in sources if source is not None]


def sources_dedupe(sources: Iterable[KnowledgeSource]) -> list[KnowledgeSource]:
    """One source per article (``KnowledgeSource.key``), keeping its best score; best first, ties in the
    order first seen."""
    best: dict[str, KnowledgeSource] = {}
    for source in sources:
        kept = best.get(source.key)
        if kept is None or (source.score or 0.0) > (kept.score or 0.0):
            best[source.key] = source
    return sorted(best.values(), key=lambda source: source.score or 0.0, reverse=True)


@dataclass(frozen=True)
class TurnDecision:
    """Escalation's judgement of a turn, as stored on it: which signals fired, whether it escalated and why,
    or which rule held it back."""

    signals: tuple[str, ...]
    escalated: bool
    reason: str | None
    suppressed_by: str | None
    decided_at: datetime
    # The decision under the agent's shadow settings (recorded, never acted on), or None without a shadow.
    shadow: Mapping[str, Any] | None = None
