"""Pairing quotation marks, so that the sentence splitter sees quotes that open and close.

pysbd keeps the text between two quotation marks of the same kind together (a quote may hold
several sentences), pairing the marks purely by position: the first ``"`` with the next ``"``,
a ``“`` with the next ``”``. Scraped news mixes the kinds (“like this", "or this”) and drops
marks, so a positional pairing can span two real sentences: in the first seed article
``“large and unusual concentrations of Russian forces"`` pairs its straight closing mark with
the opening mark of ``"distract"`` a sentence later, and the two sentences become one.

``paired_for_splitting`` returns a copy of the text of the same length in which every mark has
the role its neighbours give it (an opening mark follows a space and precedes a word, a closing
one the reverse), each opening mark is paired with the next closing mark, mixed pairs are made
one kind, and marks that pair with nothing are changed so that the splitter cannot pair them.
Only quotation marks change, one character for one, so offsets into the copy are offsets into
the original text. Text whose marks already pair up is returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_OPEN, _CLOSE, _EITHER = 1, 2, 3

_DOUBLE_MARKS = re.compile('["“”„‟]')
_SINGLE_MARKS = re.compile("['‘’‚‛]")
_ANY_MARK = re.compile("[\"“”„‟'‘’‚‛]")
# What may stand right before an opening mark, or right after a closing one, besides space.
_BEFORE_OPENING = frozenset("([{<—–-/:;‘“'\"")
_AFTER_CLOSING = frozenset(".,;:!?)]}>—–-…’”'\"*")

_STRAIGHT_DOUBLE = '"'
_CURLY_OPEN, _CURLY_CLOSE = "“", "”"
# An unpaired double mark becomes this: pysbd pairs a "”" with nothing that follows it.
_INERT_DOUBLE = "”"
_STRAIGHT_SINGLE = "'"
_SINGLE_OPEN, _SINGLE_CLOSE = "‘", "’"
# pysbd pairs single quotes only from a "'" or "‘" after white space; "’" there is inert.
_INERT_SINGLE = "’"


def paired_for_splitting(text: str) -> str:
    """``text`` with its quotation marks made to pair (same length; see the module docstring)."""
    if not _ANY_MARK.search(text):
        return text
    out = list(text)
    _pair_doubles(text, out)
    _pair_singles(text, out)
    copy = "".join(out)
    return text if copy == text else copy


def _role(text: str, i: int) -> int:
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    opens = (before.isspace() or before in _BEFORE_OPENING) and not after.isspace()
    closes = not before.isspace() and (after.isspace() or after in _AFTER_CLOSING)
    if opens == closes:
        return _EITHER
    return _OPEN if opens else _CLOSE


def _double_role(text: str, i: int) -> int:
    ch = text[i]
    if ch in "“„‟":
        return _OPEN
    if ch == "”":
        # Some sites use "”" for both marks; one that plainly opens a word is an opening mark.
        return _OPEN if _role(text, i) == _OPEN and (i == 0 or text[i - 1].isspace()) else _CLOSE
    return _role(text, i)


def _pairs(marks: Iterable[tuple[int, int]]) -> tuple[list[tuple[int, int]], list[int]]:
    """Pair each opening mark with the next closing one; the rest are unpaired."""
    pairs: list[tuple[int, int]] = []
    unpaired: list[int] = []
    opened: int | None = None
    for i, role in marks:
        if role == _OPEN or (role == _EITHER and opened is None):
            if opened is not None:
                unpaired.append(opened)  # a second opening mark: the first never closed
            opened = i
        elif opened is not None:
            pairs.append((opened, i))
            opened = None
        else:
            unpaired.append(i)
    if opened is not None:
        unpaired.append(opened)
    return pairs, unpaired


def _pair_doubles(text: str, out: list[str]) -> None:
    marks = [(m.start(), _double_role(text, m.start())) for m in _DOUBLE_MARKS.finditer(text)]
    pairs, unpaired = _pairs(marks)
    for start, end in pairs:
        if text[start] == _STRAIGHT_DOUBLE:
            out[start] = out[end] = _STRAIGHT_DOUBLE
        else:
            out[start], out[end] = _CURLY_OPEN, _CURLY_CLOSE
    if not unpaired:
        return
    # The last unpaired mark, when no straight mark of a pair follows it, becomes a straight
    # one: it pairs with nothing and keeps pysbd's rules for '?"' and '!"' (Why?" he asked).
    # Every other unpaired mark is made inert.
    last_paired_straight = max((end for _, end in pairs if out[end] == _STRAIGHT_DOUBLE), default=-1)
    keep = max(unpaired)
    for i in unpaired:
        out[i] = _STRAIGHT_DOUBLE if i == keep and i > last_paired_straight else _INERT_DOUBLE


def _pair_singles(text: str, out: list[str]) -> None:
    # Most single marks are apostrophes (it's, Ukraine’s, the ’90s, students’): a mark is only an
    # opening quote after a space or an opening bracket or mark, and only a possible closing
    # quote before a space or punctuation. A closing candidate with no quote open stays as it is.
    marks: list[tuple[int, int]] = []
    for m in _SINGLE_MARKS.finditer(text):
        i, ch = m.start(), m.group()
        before = text[i - 1] if i > 0 else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        if (before.isspace() or before in "([{“\"") and after.isalnum() and ch in "'‘‚‛":
            marks.append((i, _OPEN))
        elif not before.isspace() and (after.isspace() or after in _AFTER_CLOSING) and ch in "'’":
            marks.append((i, _CLOSE))
    opened: int | None = None
    for i, role in marks:
        if role == _OPEN:
            if opened is not None:
                out[opened] = _INERT_SINGLE
            opened = i
        elif opened is not None:
            if text[opened] == _STRAIGHT_SINGLE:
                out[i] = _STRAIGHT_SINGLE
            else:
                out[opened], out[i] = _SINGLE_OPEN, _SINGLE_CLOSE
            opened = None
    if opened is not None:
        out[opened] = _INERT_SINGLE
