"""The API's JSON parser: DRF's, plus a 400 (not a 500) for a document nested too deeply to decode, and for
text with a lone surrogate (``"\\udfff"``: valid JSON, but no database or page can hold it; ``halo.text``).

Python's ``json`` decoder recurses once per nesting level and raises ``RecursionError`` (not a
``ValueError``, which DRF turns into a 400) past the interpreter's limit, e.g. ``{"a": {"a": …}}`` 5,000
levels deep: one small request would otherwise be a 500.
"""

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DrfJSONParser

from halo.text import SURROGATE_MESSAGE, has_lone_surrogate


class JSONParser(DrfJSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        if has_lone_surrogate(data):
            raise ParseError(f"JSON parse error - {SURROGATE_MESSAGE}")
        return data
