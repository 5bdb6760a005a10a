"""An article cut into passages: its sections under their headings, long sections in pieces of about
``PASSAGE_WORDS`` words, each piece ending at a line or sentence boundary.

A passage is what search ranks and what an answer quotes, so it keeps the article's text as written
(Markdown included); its heading is the nearest heading above it ("" for the text before the first one).
Passages of about a hundred words, prefixed with the title and heading, are what sentence-embedding models
of the MiniLM family were trained on; a whole article would be cut at the model's input limit.
"""

import hashlib
import re
from dataclasses import dataclass

from agents.knowledge.text import reflow, sentences

PASSAGE_WORDS = 100
# A piece never grows past this many words unless a single sentence is longer.
MAX_PASSAGE_WORDS = 150
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Passage:
    heading: str
    body: str

    def embedding_text(self, title: str) -> str:
        """What the embedding model reads: the title and heading give a piece of an article its context."""
        context = f"{title} — {self.heading}" if self.heading else title
        return f"{context}\n{self.body}" if self.body else context

    def digest(self, title: str) -> str:
        """Identifies what was embedded: a passage whose digest is unchanged keeps its vector."""
        return hashlib.sha256(self.embedding_text(title).encode()).hexdigest()


def _word_count(text: str) -> int:
    return len(text.split())


def _units(lines: list[str]) -> list[str]:
    """Paragraphs and list items, with any longer than ``MAX_PASSAGE_WORDS`` words split into sentences."""
    units: list[str] = []
    for line in reflow(lines):
        if _word_count(line) > MAX_PASSAGE_WORDS:
            units.extend(sentences(line))
        else:
            units.append(line)
    return units


def _pieces(lines: list[str]) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    count = 0
    for unit in _units(lines):
        words = _word_count(unit)
        if current and (count >= PASSAGE_WORDS or count + words > MAX_PASSAGE_WORDS):
            pieces.append("\n".join(current).strip())
            current, count = [], 0
        current.append(unit)
        count += words
    if current:
        # A short tail joins the piece before it rather than standing alone.
        tail = "\n".join(current).strip()
        if pieces and count < PASSAGE_WORDS // 4 and _word_count(pieces[-1]) + count <= MAX_PASSAGE_WORDS:
            pieces[-1] = f"{pieces[-1]}\n{tail}"
        elif tail:
            pieces.append(tail)
    return [piece for piece in pieces if piece]


def article_passages(*, body: str) -> list[Passage]:
    """The passages of an article body, in reading order (an empty body has none)."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for raw in body.splitlines():
        match = _HEADING.match(raw)
        if match:
            sections.append((match.group(1).strip(), []))
        else:
            sections[-1][1].append(raw.rstrip())
    passages: list[Passage] = []
    for heading, lines in sections:
        for piece in _pieces(lines):
            passages.append(Passage(heading=heading[:300], body=piece))
    return passages
