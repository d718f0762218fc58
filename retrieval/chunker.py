"""Sentence-aware passages with exact character spans.

Sentences come from pysbd (rule-based, handles abbreviations such as U.S. and Dr., decimals
and quotations), run one paragraph at a time because a sentence never crosses a blank line,
on a copy whose quotation marks pair up (``quotemarks``), and on long paragraphs one window at
a time so that the time stays linear in the text.
Consecutive sentences are packed into passages that fit the embedding model; every span is
checked against the text so that ``text[start:end]`` is exactly the sentence or passage.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache

from .limits import MAX_PARAGRAPH_CHARS
from .models import Chunk, Span
from .quotemarks import paired_for_splitting

TokenCounter = Callable[[Sequence[str]], list[int]]

# pysbd builds a few thousand distinct regular expressions over a large corpus; with the
# standard library's cache of 512 it recompiles them over and over (about half its run time).
re._MAXCACHE = max(getattr(re, "_MAXCACHE", 512), 8192)  # type: ignore[attr-defined]

# A window shorter than this would cut too many sentences to be worth the time it saves.
MIN_WINDOW = 200
# Not one regular expression for a whole paragraph: a lazy match up to a look-ahead for the
# blank line retries that look-ahead at every character, which is quadratic in long runs of
# white space.
_BLANK_LINE = re.compile(r"\n\s*\n")
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
    spans: list[Span] = []
    start = 0
    for sep in [*_BLANK_LINE.finditer(text), None]:
        end = len(text) if sep is None else sep.start()
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            at = start + (len(piece) - len(piece.lstrip()))
            spans.append(Span(at, at + len(stripped)))
        if sep is not None:
            start = sep.end()
    return spans


def split_sentences(text: str, *, max_paragraph_chars: int = MAX_PARAGRAPH_CHARS) -> list[Span]:
    """Spans of the sentences of ``text``, stripped of surrounding white space.

    A paragraph longer than ``max_paragraph_chars`` is split in windows of that size (see
    ``_windowed``), so the time taken grows linearly with the text.
    """
    window = max(MIN_WINDOW, max_paragraph_chars)
    spans: list[Span] = []
    for para in paragraphs(text):
        spans.extend(_sentences_in(text, para.start, para.end, window))
    return spans


@lru_cache(maxsize=4096)
def _segment(paragraph: str) -> tuple[str, ...]:
    return tuple(_segmenter().segment(paragraph))


def _sentences_in(text: str, start: int, end: int, window: int) -> list[Span]:
    # pysbd sees a copy whose quotation marks pair up (same length, so offsets carry over).
    view = paired_for_splitting(text[start:end])
    local = _locate(view, 0, len(view)) if len(view) <= window else _windowed(view, window)
    return _merge_fragments(text, [Span(start + s.start, start + s.end) for s in local])


def _locate(view: str, start: int, end: int) -> list[Span]:
    """The sentences pysbd finds in ``view[start:end]``, as spans of ``view``."""
    piece_text = view[start:end]
    out: list[Span] = []
    cursor = 0
    for piece in _segment(piece_text):
        piece = piece.strip()
        if not piece:
            continue
        at = piece_text.find(piece, cursor)
        if at < 0:
            # pysbd occasionally rewrites white space; fall back to the rest of the paragraph
            # rather than invent a span that is not in the text.
            rest = piece_text[cursor:].strip()
            if rest:
                at = piece_text.find(rest, cursor)
                out.append(Span(start + at, start + at + len(rest)))
            cursor = len(piece_text)
            break
        out.append(Span(start + at, start + at + len(piece)))
        cursor = at + len(piece)
    tail = piece_text[cursor:].strip()
    if tail:
        at = piece_text.find(tail, cursor)
        out.append(Span(start + at, start + at + len(tail)))
    return out


def _windowed(view: str, window: int) -> list[Span]:
    """Sentences of a paragraph longer than ``window``, in time linear in its length.

    pysbd's rules take time that grows faster than the text (a 300 KB line took 75 s), so it
    only ever sees ``window`` characters at a time, cut at white space. Every sentence of a
    window but the last is kept; the last may be cut short by the window's end, so the next
    window starts where it starts. A window that is one sentence (no sentence end in
    ``window`` characters) is kept as one piece, the only place a sentence is cut. After two
    windows that moved less than an eighth of a window, the next is kept whole, which bounds
    the number of windows whatever pysbd decides.
    """
    spans: list[Span] = []
    pos, n, slow = 0, len(view), 0
    while n - pos > window:
        cut = _cut_point(view, pos, pos + window)
        found = _locate(view, pos, cut)
        if not found:  # only white space up to the cut
            pos = cut
            continue
        if len(found) == 1 or slow >= 2:
            spans.extend(found)
            pos, slow = cut, 0
            continue
        spans.extend(found[:-1])
        moved = found[-1].start - pos
        slow = slow + 1 if moved < window // 8 else 0
        pos = found[-1].start
    if pos < n:
        spans.extend(_locate(view, pos, n))
    return spans


def _cut_point(view: str, start: int, end: int) -> int:
    """``end``, moved back to just after white space in the second half of the window if any."""
    half = start + (end - start) // 2
    for i in range(end, half, -1):
        if view[i - 1].isspace():
            return i
    return end


_CLOSER = re.compile(r"[\"'”’)\]]+")
_SPACE = re.compile(r"\s+")


def _merge_fragments(text: str, spans: list[Span]) -> list[Span]:
    # pysbd sometimes ends a sentence before its closing quote or bracket: a "sentence" that is
    # only closers belongs to the one before it, and so do the closers that open a sentence
    # right after the previous one ended (`today?` + `" Trump wrote.`).
    merged: list[Span] = []
    for sp in spans:
        closers = _CLOSER.match(text, sp.start, sp.end) if merged else None
        if closers is None:
            merged.append(sp)
            continue
        if closers.end() == sp.end:
            merged[-1] = Span(merged[-1].start, sp.end)
            continue
        gap = _SPACE.match(text, closers.end(), sp.end)
        if merged[-1].end == sp.start and gap is not None:
            merged[-1] = Span(merged[-1].start, closers.end())
            merged.append(Span(gap.end(), sp.end))
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
    max_paragraph_chars: int = MAX_PARAGRAPH_CHARS,
) -> list[Chunk]:
    """Pack consecutive sentences into passages of at most ``max_tokens`` word pieces.

    ``overlap`` sentences of each passage are repeated at the start of the next, so an answer
    that straddles a boundary is still whole in one passage. ``reserved_tokens`` leaves room
    for the title, which is embedded with every passage. A single sentence longer than the
    budget becomes a passage of its own (the model truncates it; its span stays exact).
    """
    sentences = split_sentences(text, max_paragraph_chars=max_paragraph_chars)
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
