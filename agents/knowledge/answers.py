"""What an answer quotes: the sentences of a passage that answer the question, readable in a chat bubble.

A passage is split into sentences and lines (list items and table rows stay whole); each sentence scores
the inverse document frequency of the question's stems it holds, and the best run of consecutive sentences
that fits in ``MAX_QUOTE_CHARS`` is quoted — from its first sentence, so a numbered procedure starts at its
step. With nothing in common with the question (a match by meaning alone), the passage's opening is quoted.
A quote is never cut inside a word: a single sentence too long to fit ends at a word boundary with "…".
"""

import re
from collections.abc import Callable, Sequence

from agents.knowledge.text import plain, reflow, sentences, stems

MAX_QUOTE_CHARS = 420
# Markdown that reads badly in a chat bubble: table separator rows, code fences.
_NOISE = re.compile(r"^\s*(?:\|?\s*:?-{3,}:?\s*\|?)+\s*$|^```")


def _units(passage: str) -> list[tuple[int, str]]:
    """(block number, sentence): sentences of one paragraph or list item share their block's number."""
    units: list[tuple[int, str]] = []
    for number, block in enumerate(reflow(passage.splitlines())):
        if _NOISE.match(block):
            continue
        units.extend((number, sentence) for sentence in (sentences(block) if block.count("|") < 2 else [block]))
    return units


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(",;:—- ") + "…"


def quote(passage: str, question_stems: Sequence[str], weight: Callable[[str], float]) -> str:
    """The sentences of ``passage`` that best answer a question made of ``question_stems``."""
    units = _units(passage)
    if not units:
        return ""
    wanted = set(question_stems)
    scores = [sum(weight(stem) for stem in set(stems(unit)) & wanted) for _block, unit in units]
    best_start, best_score, best_end = 0, -1.0, 1
    any_match = any(scores)
    for start in range(len(units)):
        if any_match and scores[start] == 0:
            continue  # a quote starts at a sentence that matters (the passage's opening if none does)
        length, total, end = 0, 0.0, start
        while end < len(units) and (end == start or length + len(units[end][1]) + 1 <= MAX_QUOTE_CHARS):
            length += len(units[end][1]) + 1
            total += scores[end]
            end += 1
        # Ties go to the earlier run: the opening of a section states what it is about.
        if total > best_score:
            best_start, best_score, best_end = start, total, end
    text = ""
    for index in range(best_start, best_end):
        block, sentence = units[index]
        separator = "" if index == best_start else (" " if block == units[index - 1][0] else "\n")
        text += separator + plain(sentence)
    return _shorten(text, MAX_QUOTE_CHARS)
