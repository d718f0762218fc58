"""Normalising text for verbatim comparison while remembering where each character came from."""

from __future__ import annotations

import re

_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u00b4": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"',
    "\u00bb": '"', "\u2033": '"', "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
    "\u2014": "-", "\u2015": "-", "\u2212": "-", "\u00a0": " ",
})
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Case, white space, typographic quotes/apostrophes and dashes folded away."""
    return _SPACE.sub(" ", text.translate(_QUOTES).lower()).strip()


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """``normalize`` plus, for each output character, its offset in ``text``."""
    out: list[str] = []
    where: list[int] = []
    folded = text.translate(_QUOTES)
    prev_space = True  # drops leading white space
    for i, ch in enumerate(folded):
        if ch.isspace():
            if not prev_space:
                out.append(" ")
                where.append(i)
            prev_space = True
            continue
        low = ch.lower()
        # A few characters lower-case to two (e.g. "İ"); keep offsets aligned per output char.
        for c in low:
            out.append(c)
            where.append(i)
        prev_space = False
    if out and out[-1] == " ":
        out.pop()
        where.pop()
    return "".join(out), where


def strip_quote_marks(text: str) -> str:
    """Drop the outer quotation marks and ellipses people add around a pasted quote."""
    t = text.strip()
    t = re.sub(r'^[\s"\'“”‘’«»]+|[\s"\'“”‘’«»]+$', "", t)
    t = re.sub(r"^(?:\.\.\.|…)\s*|\s*(?:\.\.\.|…)$", "", t)
    return t.strip()
