"""Text search shared by every app: a query's terms, whether a word matches a term, and the highlighted snippet.

A query is cut into plain word terms (letters and digits, lower-cased; at most ``MAX_TERMS``), so nothing a
user types reaches a database's query language as syntax: PostgreSQL's ``to_tsquery`` and SQLite's FTS5
``MATCH`` only ever see these words. A term matches a word that starts with the term's stem (``refunded``
and ``refunds`` match ``refund``; ``ada`` matches ``Adams``): the same rule the databases apply with their
prefix queries, so what is highlighted is what matched.

``highlight`` escapes the text first and wraps each matching word in ``<mark>``: the only markup in its
result is its own.
"""

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

MAX_TERMS = 8
MAX_TERM_CHARS = 64
# Shorter terms match whole words only: a one- or two-letter prefix matches half the dictionary.
PREFIX_MIN_CHARS = 3
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SUFFIXES = ("ions", "ion", "ing", "ed", "es", "e", "s")


def search_terms(text: str) -> list[str]:
    """The distinct word terms of a query, lower-cased, in order."""
    terms: list[str] = []
    for match in _WORD.finditer(text.lower()):
        term = match.group(0)[:MAX_TERM_CHARS]
        if term not in terms:
            terms.append(term)
        if len(terms) == MAX_TERMS:
            break
    return terms


def term_stem(term: str) -> str:
    """A crude suffix stripper shared by both databases' prefix queries: "refunded" → "refund"."""
    for suffix in _SUFFIXES:
        if term.endswith(suffix) and len(term) - len(suffix) >= PREFIX_MIN_CHARS:
            return term[: -len(suffix)]
    return term


def term_is_prefix(term: str) -> bool:
    return len(term) >= PREFIX_MIN_CHARS


def word_matches(word: str, term: str) -> bool:
    word = word.lower()
    if not term_is_prefix(term):
        return word == term
    return word.startswith(term_stem(term))


def terms_found(text: str, terms: list[str]) -> int:
    """A bit mask of the terms found in ``text`` (bit i: ``terms[i]``)."""
    words = {match.group(0).lower() for match in _WORD.finditer(text)}
    mask = 0
    for index, term in enumerate(terms):
        if any(word_matches(word, term) for word in words):
            mask |= 1 << index
    return mask


def highlight(text: str, terms: list[str], *, max_chars: int | None = None) -> SafeString:
    """``text`` escaped, with the words matching ``terms`` in ``<mark>``. With ``max_chars``, a window of about
    that length around the first match (with "…" where it was cut)."""
    if max_chars is not None and len(text) > max_chars:
        first = next(
            (m.start() for m in _WORD.finditer(text) if any(word_matches(m.group(0), term) for term in terms)), 0
        )
        start = max(0, min(first - max_chars // 4, len(text) - max_chars))
        end = start + max_chars
        text = ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")
    parts: list[str] = []
    position = 0
    for match in _WORD.finditer(text):
        if terms and any(word_matches(match.group(0), term) for term in terms):
            parts.append(escape(text[position : match.start()]))
            parts.append(f"<mark>{escape(match.group(0))}</mark>")
            position = match.end()
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts))  # noqa: S308  # nosec B308 B703 (every piece above is escaped)
