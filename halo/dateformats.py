"""A date format parsed once, for a page that formats many datetimes with the same format (a list's rows).

``django.utils.dateformat.format`` splits its format string into literal text and format characters on every
call, which costs more than formatting the value. ``ParsedDateFormat`` splits it once, with Django's own
patterns, and formats each value with Django's own ``DateFormat`` methods: the text is the same, character
for character (the active language's month names and "a.m.", the value's time zone).
"""

from datetime import datetime

from django.utils.dateformat import DateFormat, re_escaped, re_formatchars


class ParsedDateFormat:
    """``dateformat.format(value, format_string)`` for datetimes, ``format_string`` parsed once."""

    def __init__(self, format_string: str) -> None:
        # As ``dateformat.Formatter.format`` reads it: a format character at each odd index of the split.
        self.pieces: list[tuple[str, bool]] = [
            (piece, True) if index % 2 else (re_escaped.sub(r"\1", piece), False)
            for index, piece in enumerate(re_formatchars.split(format_string))
            if piece
        ]

    def format(self, value: datetime) -> str:
        data = DateFormat(value)
        return "".join(str(getattr(data, piece)()) if is_character else piece for piece, is_character in self.pieces)
