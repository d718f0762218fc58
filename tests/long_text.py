"""One long line of real article text, for the tests of long inputs.

The seed articles' sentences, each copy in its own random order: repeated text would let the
sentence splitter's cache answer for every window after the first, and hide its real cost.
"""

from __future__ import annotations

import random
from functools import lru_cache

from conftest import SEEDS

from retrieval.chunker import split_sentences
from retrieval.loaders import load_articles


@lru_cache(maxsize=1)
def _seed_sentences() -> tuple[str, ...]:
    out: list[str] = []
    for article in load_articles([SEEDS]).articles:
        out += [article.text[s.start:s.end] for s in split_sentences(article.text)]
    return tuple(out)


def real_prose_line(chars: int) -> str:
    """At most ``chars`` characters of seed sentences on one line, cut at a word."""
    sentences = list(_seed_sentences())
    parts: list[str] = []
    size, copy = 0, 0
    while size < chars:
        random.Random(copy).shuffle(sentences)
        parts += sentences
        size += sum(len(s) + 1 for s in sentences)
        copy += 1
    return " ".join(parts)[:chars].rsplit(" ", 1)[0]
