"""Hubness: how close a vector sits to everything, measured when it joins the index.

In a high-dimensional embedding space some vectors are "hubs": short, generic passages and
sentences ("The show will return next year.") that sit near a large share of all questions
and so crowd into the top results of questions they do not answer. Following the cross-domain
similarity local scaling of Conneau et al. (2018, "Word translation without parallel data"),
each vector's hubness is the mean cosine to its ``k`` nearest neighbours in the index, and
retrieval subtracts a share of it from the raw cosine (see ``FusionParams.w_hub_*``).

Neighbours from the same article are left out: an article's own passages overlap by a
sentence and share a topic, which says nothing about how generic each one is, and counting them
would penalise long articles for their length. Abstention keeps the raw cosines.

A growing index computes hubness for new vectors against everything already there (the new
segment itself and every live segment) when they are added; existing vectors keep theirs
until a merge or ``--compact`` refreshes them against the whole index. The neighbour search
runs over the bases one chunk of at most ``CHUNK`` rows at a time, exactly where that is cheap
and through a temporary inverted-file index where it is not, so its memory is bounded by a
chunk whatever the index size.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .vectors import faiss_module, merge_top

NEIGHBOURS = 5
# Pairs (queries x chunk rows) up to which a chunk is searched exactly: about a second of
# matrix products on two cores. Beyond it an inverted file is cheaper to build and search.
EXACT_WORK = 2_000_000_000
CHUNK = 262_144
_EXTRA = 16  # extra neighbours fetched so that same-article ones can be dropped
_QUERY_BLOCK = 8192


@dataclass(frozen=True, slots=True)
class Base:
    """Vectors to find neighbours among: ``groups`` are article keys (int64, unique across
    the whole index), ``keep`` masks rows that are deleted."""

    vectors: Any  # rows: an ndarray, a memory map or an ``NpyRows``
    groups: np.ndarray
    keep: np.ndarray | None = None


def hub_from(sims: np.ndarray) -> np.ndarray:
    """Mean of each row's finite similarities (0.0 for a row with none)."""
    ok = np.isfinite(sims)
    total = np.where(ok, sims, 0.0).sum(axis=1)
    count = ok.sum(axis=1)
    return np.divide(total, count, out=np.zeros(len(sims), np.float64), where=count > 0).astype(np.float32)


def hub_scores(vectors: np.ndarray, groups: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """For each row of ``vectors`` (unit length), the mean cosine to its ``k`` nearest rows of
    other groups (articles) among the same rows; 0.0 where there are none."""
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    codes = codes.astype(np.int64)
    return hub_from(neighbour_topk(vectors, codes, [Base(vectors, codes)], k))


def neighbour_topk(queries: np.ndarray, q_groups: np.ndarray, bases: Sequence[Base],
                   k: int = NEIGHBOURS) -> np.ndarray:
    """(n, k) cosines of each query's ``k`` nearest rows of other groups over all ``bases``,
    best first, -inf where there are fewer."""
    faiss = faiss_module()
    nq = len(queries)
    best = np.full((nq, k), -np.inf, np.float32)
    if nq == 0:
        return best
    previous = faiss.omp_get_max_threads()
    # A build has the machine to itself here; queries run with one thread (vectors.py).
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        for base in bases:
            for lo in range(0, len(base.vectors), CHUNK):
                best = _search_chunk(faiss, queries, q_groups, base, lo, best, k)
    finally:
        faiss.omp_set_num_threads(previous)
    return best


def _search_chunk(faiss: Any, queries: np.ndarray, q_groups: np.ndarray, base: Base, lo: int,
                  best: np.ndarray, k: int) -> np.ndarray:
    hi = min(lo + CHUNK, len(base.vectors))
    keep = np.ones(hi - lo, bool) if base.keep is None else np.asarray(base.keep[lo:hi], bool)
    rows = lo + np.flatnonzero(keep)
    if not len(rows):
        return best
    groups = base.groups[rows]
    # Only a chunk that holds some of the queries' articles needs same-article filtering.
    shared = bool(np.isin(groups, q_groups).any())
    want = min(k + _EXTRA if shared else k, len(rows))
    search = _searcher(faiss, base.vectors, rows, len(queries))
    found = np.full((len(queries), k), -np.inf, np.float32)
    short: list[int] = []
    for qlo in range(0, len(queries), _QUERY_BLOCK):
        q = np.ascontiguousarray(queries[qlo:qlo + _QUERY_BLOCK], dtype=np.float32)
        sims, idx = search(q, want)  # idx: positions in ``rows``, -1 for none
        ok = idx >= 0
        if shared:
            ok &= groups[np.maximum(idx, 0)] != q_groups[qlo:qlo + len(q), None]
            if want < len(rows):
                short += (qlo + np.flatnonzero(ok.sum(axis=1) < k)).tolist()
        sims = np.where(ok, sims, -np.inf).astype(np.float32)
        top = -np.sort(-sims, axis=1)[:, :k]
        found[qlo:qlo + len(q), :top.shape[1]] = top
    for row in short:
        # Nearly all nearest neighbours come from the query's own (long) article: look at
        # every other-article row of the chunk.
        other = rows[groups != q_groups[row]]
        s = np.full(k, -np.inf, np.float32)
        for block in _blocks(base.vectors, other):
            top = -np.sort(-(block @ np.asarray(queries[row], np.float32)))[:k]
            s = -np.sort(-np.concatenate([s, top.astype(np.float32)]))[:k]
        found[row] = s
    dummy = np.zeros((len(queries), k), np.int64)
    return merge_top(best, dummy, found, dummy, k)[0]


def _searcher(faiss: Any, vectors: np.ndarray, rows: np.ndarray,
              n_queries: int) -> Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]:
    """A function (queries, k) -> (sims, positions in ``rows``) over ``vectors[rows]``."""
    n, dim = len(rows), vectors.shape[1]
    if n * n_queries <= EXACT_WORK or n < 4096:
        def exact(q: np.ndarray, want: int) -> tuple[np.ndarray, np.ndarray]:
            sims = np.full((len(q), want), -np.inf, np.float32)
            pos = np.full((len(q), want), -1, np.int64)
            at = 0
            for block in _blocks(vectors, rows):
                s, i = faiss.knn(q, block, min(want, len(block)), faiss.METRIC_INNER_PRODUCT)
                sims, pos = merge_top(sims, pos, s, np.where(i >= 0, i + at, -1), want)
                at += len(block)
            return sims, pos
        return exact
    # 8-bit codes keep a chunk's index at a quarter of its float32 size; the mean of five
    # neighbour cosines does not need more precision than that. Fewer lists than the query
    # index and 40 training points each (FAISS's floor is 39): on 39k BBC sentences an
    # inverted file of this shape matched exact search at correlation 0.995.
    nlist = int(2 * math.sqrt(n))
    index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist,
                                          faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(n, size=min(n, 40 * nlist), replace=False))
    index.train(np.ascontiguousarray(vectors[rows[sample]], dtype=np.float32))
    index.nprobe = 16
    for block in _blocks(vectors, rows):
        index.add(block)

    def approximate(q: np.ndarray, want: int) -> tuple[np.ndarray, np.ndarray]:
        sims, pos = index.search(q, want)
        return sims, pos
    return approximate


def _blocks(vectors: np.ndarray, rows: np.ndarray, size: int = 32768) -> Iterator[np.ndarray]:
    for lo in range(0, len(rows), size):
        yield np.ascontiguousarray(vectors[rows[lo:lo + size]], dtype=np.float32)
