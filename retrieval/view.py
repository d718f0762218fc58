"""A ``View``: one commit's segments, opened, answering the lookups retrieval makes.

A question takes one view at its start and uses only it, so it never mixes two commits even
if a writer commits meanwhile; the next question takes the newer view (reader.py). Views are
immutable and shared between threads.

Keyword scores are BM25 over the whole index, not per segment: each segment's FTS5 table
scores one query term at a time, and each term's inverse document frequency is then swapped for
the one over all segments (FTS5's own formula, with the summed row and document counts), as
Lucene scores with collection-wide statistics. Without that, a small new segment would give its
terms the IDF of a handful of rows, and fresh articles would rank by where they were stored.
Deleted rows still count in those statistics until a merge removes them, as in Lucene.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import vectors as vec
from .commit import Commit, Manifest
from .filters import ArticleFilter
from .models import ArticleInfo
from .segment import (
    ARTICLE_COLUMNS,
    PassageRow,
    Segment,
    SentenceRow,
    StoredArticle,
)
from .terms import content_words

# The column weights citebot gives FTS5's bm25 (title, text).
BM25_WEIGHTS = (2.0, 1.0)
_K1, _B = 1.2, 0.75  # FTS5's bm25 constants (fts5_aux.c)
LARGE_INDEX = 200_000
COMMON_IDF = 2.0
_IDF_FLOOR = 1e-6  # FTS5 floors non-positive IDFs at this value


@dataclass(frozen=True, slots=True)
class SegmentState:
    """A segment as one commit sees it: the segment plus that commit's deletions in it."""

    seg: Segment
    deleted: np.ndarray  # sorted article numbers
    live: np.ndarray | None  # bool per passage row; None when nothing is deleted

    @classmethod
    def make(cls, seg: Segment, deleted: np.ndarray) -> SegmentState:
        live = None if not len(deleted) else ~np.isin(seg.passage_articles, deleted)
        return cls(seg, np.asarray(deleted, np.int64), live)

    def is_deleted(self, ord_: int) -> bool:
        i = int(np.searchsorted(self.deleted, ord_))
        return i < len(self.deleted) and int(self.deleted[i]) == ord_

    def allowed(self, filt: ArticleFilter | None) -> np.ndarray | None:
        """Live passage rows that pass ``filt`` (None: every row)."""
        if filt is None or filt.is_empty:
            return self.live
        ok_articles = filt.article_mask(self.seg)  # indexed by ord - 1
        if ok_articles.all():  # the usual case (every article before the asking date): no work
            return self.live
        mask = ok_articles[self.seg.passage_articles - 1]
        return mask if self.live is None else mask & self.live


def idf(n_rows: int, n_hits: int) -> float:
    value = math.log((n_rows - n_hits + 0.5) / (n_hits + 0.5))
    return value if value > 0 else _IDF_FLOOR


class View:
    def __init__(self, commit: Commit, segments: Sequence[SegmentState]) -> None:
        self.commit = commit
        # Non-empty segments ordered by id range, so an id's segment is found by bisection.
        self.segments = list(segments)
        self._p_index = [(s.seg.info.first_passage, i) for i, s in enumerate(self.segments)
                         if s.seg.info.passages]
        self._s_index = [(s.seg.info.first_sentence, i) for i, s in enumerate(self.segments)
                         if s.seg.info.sentences]
        self._p_starts = [p for p, _ in self._p_index]
        self._s_starts = [p for p, _ in self._s_index]

    @property
    def manifest(self) -> Manifest:
        return self.commit.manifest

    @property
    def articles_count(self) -> int:
        return self.commit.articles

    @property
    def passages_count(self) -> int:
        return self.commit.passages

    # -- routing -----------------------------------------------------------------------
    def _group(self, ids: Iterable[int], sentences: bool = False) -> dict[int, np.ndarray]:
        """Segment index -> the given ids that fall in its range."""
        index, starts = (self._s_index, self._s_starts) if sentences else (self._p_index, self._p_starts)
        out: dict[int, list[int]] = {}
        for i in ids:
            at = bisect.bisect_right(starts, int(i)) - 1
            if at >= 0:
                out.setdefault(index[at][1], []).append(int(i))
        return {k: np.asarray(v, np.int64) for k, v in out.items()}

    # -- vectors -----------------------------------------------------------------------
    def dense_search(self, qvec: np.ndarray, k: int,
                     filt: ArticleFilter | None = None) -> list[tuple[int, float]]:
        """The ``k`` live passages closest to ``qvec`` over all segments, best first."""
        found: list[tuple[float, int]] = []
        for st in self.segments:
            rows, sims = vec.search(st.seg.passage_vectors, st.seg.ann, qvec, k, st.allowed(filt))
            ids = st.seg.passage_ids[rows]
            found += zip(sims.tolist(), ids.tolist(), strict=True)
        found.sort(key=lambda t: (-t[0], t[1]))
        return [(pid, s) for s, pid in found[:k]]

    def passage_cosines(self, ids: Sequence[int], qvec: np.ndarray) -> dict[int, float]:
        q = np.asarray(qvec, np.float32).ravel()
        out: dict[int, float] = {}
        for si, want in self._group(ids).items():
            seg = self.segments[si].seg
            rows, ok = seg.passage_row_of(want)
            if ok.any():
                order = np.argsort(rows[ok])
                cos = np.asarray(seg.passage_vectors[rows[ok][order]] @ q, np.float32)
                out.update(zip(want[ok][order].tolist(), cos.tolist(), strict=True))
        return out

    def sentence_vectors(self, ids: list[int]) -> np.ndarray:
        """float32 vectors of the given sentence ids, in order (zeros for unknown ids)."""
        uniq, back = np.unique(np.asarray(ids, np.int64), return_inverse=True)
        found = np.zeros((len(uniq), self.manifest.dim), np.float32)
        for si, want in self._group(uniq.tolist(), sentences=True).items():
            seg = self.segments[si].seg
            rows, ok = seg.sentence_row_of(want)
            # ``want`` is ascending (a slice of ``uniq``), so are its rows: a forward read.
            at = np.searchsorted(uniq, want[ok])
            found[at] = np.asarray(seg.sentence_vectors[rows[ok]], np.float32)
        return found[back] if len(ids) else np.zeros((0, self.manifest.dim), np.float32)

    def passage_days(self, ids: Sequence[int]) -> dict[int, int]:
        """Publication day (days since 1970-01-01, ``NO_DATE`` if undated) of each passage's article."""
        out: dict[int, int] = {}
        for si, want in self._group(ids).items():
            seg = self.segments[si].seg
            rows, ok = seg.passage_row_of(want)
            days = seg.article_days[seg.passage_articles[rows[ok]] - 1]
            out.update(zip(want[ok].tolist(), days.tolist(), strict=True))
        return out

    def count_articles(self, filt: ArticleFilter | None = None) -> int:
        """Live articles that pass ``filt``."""
        total = 0
        for st in self.segments:
            n = st.seg.info.articles
            ok = np.ones(n, bool) if filt is None or filt.is_empty else filt.article_mask(st.seg)
            if len(st.deleted):
                ok[st.deleted - 1] = False
            total += int(ok.sum())
        return total

    def sentence_hubs(self, ids: list[int]) -> np.ndarray:
        return self._hubs(ids, sentences=True)

    def passage_hubs(self, ids: list[int]) -> np.ndarray:
        return self._hubs(ids, sentences=False)

    def _hubs(self, ids: list[int], *, sentences: bool) -> np.ndarray:
        uniq, back = np.unique(np.asarray(ids, np.int64), return_inverse=True)
        found = np.zeros(len(uniq), np.float32)
        for si, want in self._group(uniq.tolist(), sentences=sentences).items():
            seg = self.segments[si].seg
            rows, ok = seg.sentence_row_of(want) if sentences else seg.passage_row_of(want)
            hub = seg.sentence_hub if sentences else seg.passage_hub
            found[np.searchsorted(uniq, want[ok])] = hub[rows[ok]]
        return found[back] if len(ids) else np.zeros(0, np.float32)

    # -- keywords ----------------------------------------------------------------------
    def keyword_scores(self, query: str, filt: ArticleFilter | None = None) -> dict[int, float]:
        """BM25 with index-wide statistics (higher is better) of every allowed passage that
        holds any of the query's content words.

        In an index of over ``LARGE_INDEX`` passages, terms whose index-wide IDF is under
        ``COMMON_IDF`` (those in more than about an eighth of all passages) are left out: their
        BM25 weight is small and FTS5 scores every row a term matches, so they would cost the
        most and decide the least (tests/test_view.py and benchmarks/scale.py).
        """
        terms = list(dict.fromkeys(content_words(query)))
        if not terms or not self.segments:
            return {}
        total_rows = sum(st.seg.info.passages for st in self.segments)
        if total_rows > LARGE_INDEX:
            counts = [_term_counts(st.seg.conn, terms) for st in self.segments]
            df = [sum(c[t] for c in counts) for t in range(len(terms))]
            terms = [w for w, n in zip(terms, df, strict=True) if idf(total_rows, n) >= COMMON_IDF]
            if not terms:
                return {}
        found = [_term_rows(st.seg.conn, terms) for st in self.segments]
        hits = [sum(len(f[t][0]) for f in found) for t in range(len(terms))]
        global_idf = [idf(total_rows, h) for h in hits]
        global_avgdl = sum(st.seg.total_tokens for st in self.segments) / max(total_rows, 1)
        scores: dict[int, float] = {}
        for st, per_term in zip(self.segments, found, strict=True):
            seg = st.seg
            n = seg.info.passages
            avgdl = seg.total_tokens / max(n, 1)
            ids, parts = [], []
            for t, (rowids, bm25) in enumerate(per_term):
                if not len(rowids):
                    continue
                # FTS5 scored the term alone: -IDF_segment * tf part under the segment's average
                # length. Recover the term's weighted frequency, then score it with the index's
                # IDF and average length: BM25 as if the index were one table.
                part = -bm25 / idf(n, len(rowids))
                rows, _ = seg.passage_row_of(rowids)
                length = seg.passage_tokens[rows]
                k_seg = _K1 * (1 - _B + _B * length / avgdl)
                tf = part * k_seg / (_K1 + 1 - part)
                k_all = _K1 * (1 - _B + _B * length / global_avgdl)
                ids.append(rowids)
                parts.append(global_idf[t] * tf * (_K1 + 1) / (tf + k_all))
            if not ids:
                continue
            pids, at = np.unique(np.concatenate(ids), return_inverse=True)
            total = np.bincount(at, weights=np.concatenate(parts), minlength=len(pids))
            allowed = st.allowed(filt)
            if allowed is not None:
                rows, _ = st.seg.passage_row_of(pids)
                keep = allowed[rows]
                pids, total = pids[keep], total[keep]
            scores.update(zip(pids.tolist(), total.tolist(), strict=True))
        return scores

    # -- rows ----------------------------------------------------------------------------
    def passages(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        out: dict[int, PassageRow] = {}
        for si, want in self._group(ids).items():
            conn = self.segments[si].seg.conn
            marks = ",".join("?" * len(want))
            rows = conn.execute(
                "SELECT p.id, a.id, p.start, p.end, p.first_sentence, p.last_sentence FROM passages p"
                f" JOIN articles a ON a.ord = p.article WHERE p.id IN ({marks})", want.tolist())
            out.update((r[0], PassageRow(*r)) for r in rows)
        return out

    def sentences_between(self, first: int, last: int) -> list[SentenceRow]:
        groups = self._group([first], sentences=True)
        if not groups:
            return []
        (si,) = groups
        rows = self.segments[si].seg.conn.execute(
            "SELECT s.id, a.id, s.ordinal, s.start, s.end FROM sentences s JOIN articles a"
            " ON a.ord = s.article WHERE s.id BETWEEN ? AND ? ORDER BY s.id", (first, last))
        return [SentenceRow(*r) for r in rows]

    def _find_article(self, where: str,
                      params: tuple[Any, ...]) -> tuple[SegmentState, int, StoredArticle] | None:
        # Newest segment first: an article lives in one segment, and a replaced version's old
        # copy is always deleted, so the first live hit is the only one.
        for st in reversed(self.segments):
            for row in st.seg.conn.execute(
                    f"SELECT ord, {ARTICLE_COLUMNS} FROM articles WHERE {where}", params):
                if not st.is_deleted(int(row[0])):
                    return st, int(row[0]), StoredArticle(*row[1:])
        return None

    def article(self, article_id: str) -> StoredArticle | None:
        hit = self._find_article("id = ?", (article_id,))
        return hit[2] if hit else None

    def article_by_url(self, url: str) -> StoredArticle | None:
        hit = self._find_article("url = ? OR rtrim(url, '/') = rtrim(?, '/')", (url, url))
        return hit[2] if hit else None

    def articles(self, ids: Iterable[str]) -> dict[str, StoredArticle]:
        out: dict[str, StoredArticle] = {}
        for aid in set(ids):
            art = self.article(aid)
            if art is not None:
                out[aid] = art
        return out

    def article_sentences(self, article_id: str) -> list[SentenceRow]:
        hit = self._find_article("id = ?", (article_id,))
        if hit is None:
            return []
        st, ord_, _ = hit
        rows = st.seg.conn.execute(
            "SELECT id, ?, ordinal, start, end FROM sentences WHERE article = ? ORDER BY ordinal",
            (article_id, ord_))
        return [SentenceRow(*r) for r in rows]

    def list_articles(self, filt: ArticleFilter | None = None) -> list[ArticleInfo]:
        items: list[ArticleInfo] = []
        for st in self.segments:
            ok = None if filt is None or filt.is_empty else filt.article_mask(st.seg)
            rows = st.seg.conn.execute(
                "SELECT a.ord, a.id, a.title, a.url, a.published, a.source, count(p.id) FROM articles a"
                " LEFT JOIN passages p ON p.article = a.ord GROUP BY a.ord ORDER BY a.ord")
            for r in rows:
                if st.is_deleted(int(r[0])) or (ok is not None and not ok[int(r[0]) - 1]):
                    continue
                items.append(ArticleInfo(*r[1:]))
        items.sort(key=lambda a: a.title)
        # Newest first, undated last (as SQLite's ORDER BY published DESC put them).
        items.sort(key=lambda a: a.published or "", reverse=True)
        return items


def _term_rows(conn: Any, terms: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each term: (rowids, FTS5 bm25 of that term alone) of every row holding it."""
    w_title, w_text = BM25_WEIGHTS
    parts = " UNION ALL ".join(
        f"SELECT {i}, rowid, bm25(passages_fts, {w_title}, {w_text}) FROM passages_fts"
        " WHERE passages_fts MATCH ?" for i in range(len(terms)))
    rows = conn.execute(parts, [f'"{w}"' for w in terms]).fetchall()
    if not rows:
        empty = (np.zeros(0, np.int64), np.zeros(0, np.float64))
        return [empty for _ in terms]
    arr = np.asarray(rows, np.float64)
    term = arr[:, 0].astype(np.int64)
    return [(arr[term == t, 1].astype(np.int64), arr[term == t, 2]) for t in range(len(terms))]


def _term_counts(conn: Any, terms: list[str]) -> list[int]:
    """How many rows hold each term (FTS5 walks the term's document list; no scoring)."""
    subs = ", ".join("(SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?)" for _ in terms)
    return [int(n) for n in conn.execute(f"SELECT {subs}", [f'"{w}"' for w in terms]).fetchone()]
