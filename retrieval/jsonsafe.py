"""JSON parsing with a bound on nesting, so a nested "bomb" is a clear error, not a RecursionError.

``json.loads`` recurses once per level of nesting: ``[[[[...]]]]`` a thousand deep exhausts the
interpreter's recursion limit. The depth is checked first by a scan over the brackets outside
strings (one regular-expression pass, linear in the text), and only text within the bound is
parsed.
"""

from __future__ import annotations

import json
import re
from typing import Any

# A JSON string (escapes included) or one bracket; strings are skipped whole, so brackets
# inside them are not counted. The string pattern is "unrolled" to stay fast on long strings.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


class JSONTooDeepError(ValueError):
    """The text nests arrays and objects deeper than allowed."""


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    """Whether ``text`` nests arrays/objects deeper than ``max_depth`` (stops at the first excess)."""
    if text.count("[") + text.count("{") <= max_depth:  # the common case, without a scan
        return False
    depth = 0
    for m in _TOKEN.finditer(text):
        ch = m.group()
        if ch in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def loads_bounded(text: str, max_depth: int) -> Any:
    """``json.loads(text)``, refusing text nested deeper than ``max_depth`` levels."""
    if json_depth_exceeds(text, max_depth):
        raise JSONTooDeepError(f"nested deeper than {max_depth} levels")
    return json.loads(text)
