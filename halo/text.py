"""Text from the outside world: a lone surrogate (U+D800 to U+DFFF, not paired) is refused at input.

JSON allows ``"\\udfff"``, and Python decodes it to a ``str`` that no UTF-8 encoder accepts: PostgreSQL
then fails the write (a 500), a page that shows it fails to render. URL-encoded and multipart bodies cannot
carry one (Django decodes them with replacement characters); JSON can, whether an API body, a socket frame
or a JSON field of a form. Each of those decoders checks with ``has_lone_surrogate`` and answers a 400.
"""

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")

SURROGATE_MESSAGE = "Text may not contain a lone surrogate (U+D800 to U+DFFF)."


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string in ``value`` (a decoded JSON document: keys included) holds a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False
