"""Words of a text as keyword search and quote scoring see them: lower-cased word tokens, and
the content words among them (stop words removed)."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves s t don said says say tell told according
    """.split()
)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]


def fts_query(text: str) -> str:
    """An FTS5 OR-query of the question's content words, each quoted so none is an operator."""
    terms = list(dict.fromkeys(content_words(text)))
    return " OR ".join(f'"{t}"' for t in terms)
