"""Integers from the outside world: the one parser for ids and counts in paths, query strings, forms, JSON
bodies and socket frames.

Only ASCII digits count as digits here (``str.isdigit`` also accepts ``²`` and other Unicode digits, which
``int()`` then refuses or reads as something else), and a value is range-checked before it reaches the
database, so a 23-digit id is "not found" or "invalid" rather than an integer overflow.
"""

from typing import Final

from django.core.exceptions import ValidationError

# Ids are BIGINT on both databases (``DEFAULT_AUTO_FIELD`` is ``BigAutoField``).
MAX_ID: Final = 2**63 - 1


def parse_int(raw: object, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """``raw`` as an integer in ``[minimum, maximum]``, or None.

    Takes a JSON integer (never a bool or a float) or a string of ASCII digits (no sign, no spaces).
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and 0 < len(raw) <= len(str(maximum)) and raw.isascii() and raw.isdigit():
        value = int(raw)
    else:
        return None
    return value if minimum <= value <= maximum else None


def parse_id(raw: object) -> int | None:
    """A row id (a positive integer), or None."""
    return parse_int(raw, minimum=1)


def after_id_param(raw: str | None, *, name: str = "after") -> int:
    """A keyset cursor (``?after=``): an id, 0 when absent; a ``ValidationError`` (a 400) for anything else,
    an empty value included (the schema says integer)."""
    if raw is None:
        return 0
    value = parse_int(raw)
    if value is None:
        raise ValidationError({name: ["An id (a non-negative integer)."]})
    return value


class IdConverter:
    """The ``<id:name>`` path converter: a row id in ASCII digits within ``MAX_ID``.

    Django's ``<int:>`` takes any length of digits, so a 23-digit id reached the database (an overflow on
    SQLite). A value out of range does not match the pattern at all: the URL is a 404 like any unknown id.
    """

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        parsed = parse_id(value)
        if parsed is None:
            raise ValueError(value)  # Django reads this as "no match"
        return parsed

    def to_url(self, value: object) -> str:
        return str(value)
