"""Sentence-aware passages with exact character spans.

Sentences come from pysbd (rule-based, handles abbreviations such as U.S. and Dr., decimals
and quotations), run one paragraph at a time because a sentence never crosses a blank line.
Consecutive sentences are packed into passages that fit the embedding model; every span is
checked against the text so that ``text[start:end]`` is exactly the sentence or passage.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache

from .models import Chunk, Span

TokenCounter = Callable[[Sequence[str]], list[int]]

# pysbd builds a few thousand distinct regular expressions over a large corpus; with the
# standard library's cache of 512 it recompiles them over and over (about half its run time).
re._MAXCACHE = max(getattr(re, "_MAXCACHE", 512), 8192)  # type: ignore[attr-defined]

_PARAGRAPH = re.compile(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", re.S)
_local = threading.local()


def _segmenter():  # type: ignore[no-untyped-def]
    # pysbd segmenters keep state while segmenting, so each thread gets its own.
    seg = getattr(_local, "segmenter", None)
    if seg is None:
        import pysbd

        seg = pysbd.Segmenter(language="en", clean=False)
        _local.segmenter = seg
    return seg


def paragraphs(text: str) -> list[Span]:
    """Spans of the non-blank paragraphs (runs of text separated by blank lines)."""
    return [Span(m.start(), m.end()) for m in _PARAGRAPH.finditer(text)]


def split_sentences(text: str) -> list[Span]:
    """Spans of the sentences of ``text``, stripped of surrounding white space."""
    spans: list[Span] = []
    for para in paragraphs(text):
        spans.extend(_sentences_in(text, para.start, para.end))
    return spans


@lru_cache(maxsize=4096)
def _segment(paragraph: str) -> tuple[str, ...]:
    return tuple(_segmenter().segment(paragraph))


def _sentences_in(text: str, start: int, end: int) -> list[Span]:
    para = text[start:end]
    out: list[Span] = []
    cursor = 0
    for piece in _segment(para):
        piece = piece.strip()
        if not piece:
            continue
        at = para.find(piece, cursor)
        if at < 0:
            # pysbd occasionally rewrites white space; fall back to the rest of the paragraph
            # rather than invent a span that is not in the text.
            rest = para[cursor:].strip()
            if rest:
                at = para.find(rest, cursor)
                out.append(Span(start + at, start + at + len(rest)))
            cursor = len(para)
            break
        out.append(Span(start + at, start + at + len(piece)))
        cursor = at + len(piece)
    tail = para[cursor:].strip()
    if tail:
        at = para.find(tail, cursor)
        out.append(Span(start + at, start + at + len(tail)))
    return _merge_fragments(text, out)


_CLOSER = re.compile(r"^[\"'”’)\]]+$")


def _merge_fragments(text: str, spans: list[Span]) -> list[Span]:
    # A "sentence" that is only a closing quote or bracket belongs to the one before it.
    merged: list[Span] = []
    for sp in spans:
        if merged and _CLOSER.match(text[sp.start : sp.end]):
            merged[-1] = Span(merged[-1].start, sp.end)
        else:
            merged.append(sp)
    return merged


def chunk_text(
    text: str,
    count_tokens: TokenCounter,
    *,
    max_tokens: int = 128,
    overlap: int = 1,
    reserved_tokens: int = 0,
) -> list[Chunk]:
    """Pack consecutive sentences into passages of at most ``max_tokens`` word pieces.

    ``overlap`` sentences of each passage are repeated at the start of the next, so an answer
    that straddles a boundary is still whole in one passage. ``reserved_tokens`` leaves room
    for the title, which is embedded with every passage. A single sentence longer than the
    budget becomes a passage of its own (the model truncates it; its span stays exact).
    """
    sentences = split_sentences(text)
    if not sentences:
        return []
    budget = max(16, max_tokens - reserved_tokens)
    counts = count_tokens([text[s.start : s.end] for s in sentences])
    chunks: list[Chunk] = []
    i = 0
    n = len(sentences)
    while i < n:
        j = i
        used = 0
        while j < n and (j == i or used + counts[j] <= budget):
            used += counts[j]
            j += 1
        group = tuple(sentences[i:j])
        chunks.append(Chunk(group[0].start, group[-1].end, group))
        if j >= n:
            break
        # Step back by the overlap, but always move forward by at least one sentence.
        i = max(j - overlap, i + 1) if overlap > 0 else j
    return chunks
