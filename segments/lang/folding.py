"""Case folding shared by the evaluator and the SQL compiler, so that both ignore case identically.

SQL ``lower()`` maps one character to one character; Python's ``str.lower()`` does not quite: it maps
``İ`` (U+0130) to two characters and turns a final ``Σ`` into ``ς``. ``fold`` lower-cases character by
character with ``İ`` → ``i``, which agrees with PostgreSQL's ``lower()`` under a UTF-8 libc locale on every
code point (a test checks all of them); on SQLite, whose built-in ``lower()`` only knows ASCII, the
compiler calls this very function, registered on each connection.
"""

from __future__ import annotations

import sys

_SPECIAL = {"\u0130": "i"}


def _table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        lower = _SPECIAL.get(char) or char.lower()
        if len(lower) == 1 and lower != char:
            table[code] = lower
    return table


_TABLE = _table()


def fold(text: str) -> str:
    """Lower-case ``text`` one character at a time (ASCII takes the fast path)."""
    if text.isascii():
        return text.lower()
    return text.translate(_TABLE)
