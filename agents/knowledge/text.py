"""Words of a text as search sees them: the same tokenizer, stop words and Snowball stemmer for articles and
questions, on every database (the backends only store and match the stems this module produces).

Stems come from PyStemmer (the Snowball English stemmer, in C): "notifications"/"notify" → "notif",
"archived"/"archiving" → "archiv". A stem is lower-case letters and digits only, so it can be put into
FTS5's and PostgreSQL's query languages without quoting tricks.
"""

import re
from functools import lru_cache

import Stemmer

# Common English words that carry no meaning for retrieval, plus the filler of chat messages ("hi",
# "please", "thanks", "sorry", "ok"), which would otherwise make a topic of the knowledge-gap backlog. Kept
# short on purpose: "not", "off" and "out" are left to the question.
STOPWORDS = frozenset(
    """a about after again all am an and any are as at be been before being both but by can could did do does
    doing don't down during each few for from further had has have having he her here hers him his how i i'm if
    in into is it it's its just me more most my nor now of on once only or other our over own please same she
    should so some such than that the their them then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your yours hi hello hey
    thanks thank help need want get got know tell let using use like way also im ive dont cant there's
    what's whats that's thats someone something sorry ok okay""".split()  # noqa: SIM905
)
# Letters and digits, with an inner apostrophe ("don't"); underscores and punctuation split words.
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*", re.UNICODE)
MAX_QUERY_TERMS = 24

_stemmer = Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, curly apostrophes made straight, in order (repeats kept)."""
    return [word.replace("\u2019", "'") for word in _WORD.findall(text.lower())]


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball stem of one lower-case word, reduced to letters and digits ("don't" → "dont")."""
    return "".join(ch for ch in _stemmer.stemWord(word) if ch.isalnum())


def is_meaningful(word: str) -> bool:
    return len(word) >= 2 and word not in STOPWORDS


def stems(text: str) -> list[str]:
    """The stems of the meaningful words of ``text``, in order, repeats kept: what an article is indexed as."""
    return [s for s in (stem(word) for word in words(text) if is_meaningful(word)) if s]


def query_terms(text: str) -> list[str]:
    """The meaningful words of a question, lower-cased, de-duplicated, in order (at most ``MAX_QUERY_TERMS``)."""
    terms: list[str] = []
    for word in words(text):
        if not is_meaningful(word) or word in terms:
            continue
        terms.append(word)
        if len(terms) == MAX_QUERY_TERMS:
            break
    return terms


def query_coverage(terms: list[str], text: str) -> float:
    """The share of ``terms`` found (by stem) in ``text``: 1.0 when every meaningful word is there."""
    if not terms:
        return 0.0
    found = set(stems(text))
    return sum(1 for term in terms if stem(term) in found) / len(terms)


# Inside a line, a sentence ends at . ! ? followed by a space and a capital, a digit or an opening mark. A list
# item's number ("1. Click…") and common abbreviations do not end one.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“(\[*A-Z0-9])")
_NOT_AN_END = re.compile(r"(?:^|\s)(?:\d+\.|e\.g\.|i\.e\.|etc\.|vs\.)$", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    """``text`` split into lines, and lines into sentences; each stripped, empty ones dropped."""
    result: list[str] = []
    for line in text.splitlines():
        current = ""
        for part in _SENTENCE_END.split(line.strip()):
            current = f"{current} {part}" if current else part
            if not _NOT_AN_END.search(current):
                result.append(current.strip())
                current = ""
        if current.strip():
            result.append(current.strip())
    return [sentence for sentence in result if sentence]


# A line that starts a block of its own: a list item, a table row, a quote, a fenced code line or a heading.
_BLOCK_START = re.compile(r"^\s*(?:[*+-]\s|\d+[.)]\s|\||>|```|#|Tip:|Note:|Warning:|\*\*[^*]+\*\*\s*$)")


def _is_table_or_code(block: str) -> bool:
    return block.count("|") >= 2 or block.startswith("```")


def reflow(lines: list[str]) -> list[str]:
    """Hard-wrapped lines joined back into their paragraphs and list items (help centers written in Markdown
    wrap at ~70 characters); a line that starts a block, or follows a blank line, starts a new one."""
    blocks: list[str] = []
    joinable = False
    for raw in lines:
        line = raw.strip()
        if not line:
            joinable = False
            continue
        table_row = line.count("|") >= 2
        if joinable and not table_row and not _BLOCK_START.match(raw) and not _is_table_or_code(blocks[-1]):
            blocks[-1] = f"{blocks[-1]} {line}"
        else:
            blocks.append(line)
        joinable = True
    return blocks


_EMPHASIS = re.compile(r"(\*\*|__|`)(.+?)\1")
_BULLET = re.compile(r"^\s*[*+-]\s+", re.MULTILINE)


def plain(text: str) -> str:
    """Markdown emphasis and code marks dropped, bullets drawn as "•": a chat bubble shows no Markdown."""
    return _BULLET.sub("• ", _EMPHASIS.sub(r"\2", text))
