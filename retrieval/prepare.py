"""Preparing articles for a segment: split into passages and sentences, then embed, in batches.

This is the expensive part of every build (the model), and the only part that parallelises
without coordination, so it is kept apart from writing: the writer hands batches of articles to
a ``Preparer`` and gets back ``Prepared`` articles in the same order. ``LocalPreparer`` does it in
this process; a distributed one (rayprep.py) does the same on a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .chunker import chunk_text
from .embedder import Embedder
from .models import Article, Chunk

# Passages per encode call: big enough that length-sorted batches waste little on padding,
# small enough that a batch's vectors and activations stay a few MB.
PASSAGES_PER_BATCH = 256
SENTENCES_PER_BATCH = 1024


@dataclass(frozen=True, slots=True)
class Split:
    """An article cut into passages, with its unique sentence spans in text order."""

    article: Article
    chunks: tuple[Chunk, ...]
    sentences: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Prepared:
    split: Split
    passage_vecs: np.ndarray  # float32, one row per chunk
    sentence_vecs: np.ndarray  # float32, one row per sentence span


def passage_text(title: str, body: str) -> str:
    """What gets embedded for a passage: the title gives every passage its article's topic."""
    return f"{title}\n{body}" if title else body


def split_article(art: Article, embedder: Embedder, passage_tokens: int, overlap: int) -> Split:
    title_tokens = embedder.count_tokens([art.title])[0] + 1 if art.title else 0
    chunks = chunk_text(art.text, embedder.count_tokens, max_tokens=passage_tokens,
                        overlap=overlap, reserved_tokens=title_tokens)
    seen: dict[tuple[int, int], None] = {}
    for c in chunks:
        for s in c.sentences:
            seen.setdefault((s.start, s.end), None)
    return Split(art, tuple(chunks), tuple(seen))


def embed_splits(splits: Sequence[Split], embedder: Embedder) -> list[Prepared]:
    """Vectors for every passage and sentence of ``splits``, in order."""
    p_texts = [passage_text(s.article.title, s.article.text[c.start:c.end]) for s in splits for c in s.chunks]
    s_texts = [s.article.text[a:b] for s in splits for a, b in s.sentences]
    p_vecs = _encode(embedder, p_texts, PASSAGES_PER_BATCH)
    s_vecs = _encode(embedder, s_texts, SENTENCES_PER_BATCH)
    out: list[Prepared] = []
    pi = si = 0
    for s in splits:
        np_, ns = len(s.chunks), len(s.sentences)
        out.append(Prepared(s, p_vecs[pi:pi + np_], s_vecs[si:si + ns]))
        pi += np_
        si += ns
    return out


def _encode(embedder: Embedder, texts: list[str], step: int) -> np.ndarray:
    out = np.zeros((len(texts), embedder.dim), np.float32)
    for lo in range(0, len(texts), step):
        out[lo:lo + step] = embedder.encode(texts[lo:lo + step])
    return out


class Preparer(Protocol):
    """May also have ``batch_chars``: the text per ``prepare`` call it works best with."""

    def prepare(self, articles: Sequence[Article]) -> list[Prepared]: ...


class LocalPreparer:
    """Splits and embeds in this process with the given embedder."""

    def __init__(self, embedder: Embedder, passage_tokens: int, overlap: int) -> None:
        self.embedder, self.passage_tokens, self.overlap = embedder, passage_tokens, overlap

    def prepare(self, articles: Sequence[Article]) -> list[Prepared]:
        splits = [split_article(a, self.embedder, self.passage_tokens, self.overlap) for a in articles]
        return embed_splits(splits, self.embedder)
