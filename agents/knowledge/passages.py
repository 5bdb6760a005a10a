"""An article cut into passages: its sections under their headings, long sections in overlapping pieces of
about ``PASSAGE_WORDS`` words, a new piece every ``PASSAGE_STRIDE`` words, each starting and ending at a
sentence, paragraph or list item (so a question about a sentence near a cut still finds it in one piece).

A passage is what search ranks and what an answer quotes, so it keeps the article's text as written
(Markdown included); its heading is the nearest heading above it ("" for the text before the first one).
Passages of about a hundred words, prefixed with the title and heading, are what sentence-embedding models
of the MiniLM family were trained on; a whole article would be cut at the model's input limit.
"""

import hashlib
import re
from dataclasses import dataclass

from agents.knowledge.text import plain, reflow, sentences

PASSAGE_WORDS = 100
PASSAGE_STRIDE = 50
# A piece never grows past this many words unless a single sentence is longer.
MAX_PASSAGE_WORDS = 150
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Passage:
    heading: str
    body: str

    def embedding_text(self, title: str) -> str:
        """What the embedding model reads: the title and heading give a piece of an article its context;
        the text is plain words (no Markdown marks, one line)."""
        context = f"{title} — {self.heading}" if self.heading else title
        return f"{context}: {' '.join(plain(self.body).split())}" if self.body else context

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
    units = _units(lines)
    counts = [_word_count(unit) for unit in units]
    pieces: list[str] = []
    start = 0
    while start < len(units):
        end, words = start, 0
        while end < len(units) and words < PASSAGE_WORDS and (end == start or words + counts[end] <= MAX_PASSAGE_WORDS):
            words += counts[end]
            end += 1
        pieces.append("\n".join(units[start:end]).strip())
        if end >= len(units):
            break
        # The next piece starts ``PASSAGE_STRIDE`` words on, at a unit this piece holds (it overlaps), but
        # always at least one unit on.
        following, seen = start, 0
        while following < end - 1 and seen < PASSAGE_STRIDE:
            seen += counts[following]
            following += 1
        start = max(following, start + 1)
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
