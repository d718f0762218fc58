"""Hubness: how close a vector sits to everything, measured once at index time.

In a high-dimensional embedding space some vectors are "hubs": short, generic passages and
sentences ("The show will return next year.") that sit near a large share of all questions
and so crowd into the top results of questions they do not answer. Following the cross-domain
similarity local scaling of Conneau et al. (2018, "Word translation without parallel data"),
each vector's hubness is the mean cosine to its ``k`` nearest neighbours in the index, and
retrieval subtracts a share of it from the raw cosine (see ``FusionParams.w_hub_*``).

Neighbours from the same article are left out: an article's own passages overlap by a
sentence and share a topic, which says nothing about how generic each one is, and counting them
would penalise long articles for their length. Abstention keeps the raw cosines.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

NEIGHBOURS = 5
# Above this many vectors the neighbour search is an inverted file (approximate): exact search
# is quadratic, and an estimate of a mean over five neighbours does not need to be exact.
EXACT_BELOW = 30_000
_EXTRA = 16  # extra neighbours fetched so that same-article ones can be dropped
_BLOCK = 4096


def hub_scores(
    vectors: np.ndarray, groups: np.ndarray, k: int = NEIGHBOURS, *, exact_below: int = EXACT_BELOW
) -> np.ndarray:
    """For each row of ``vectors`` (unit length), the mean cosine to its ``k`` nearest rows of
    other groups (articles); 0.0 where there are none.
    """
    n = len(vectors)
    out = np.zeros(n, np.float32)
    # Integer codes: comparing them is far cheaper than comparing article id strings.
    labels, groups = np.unique(np.asarray(groups), return_inverse=True)
    if n == 0 or len(labels) < 2:
        return out
    import faiss

    previous = faiss.omp_get_max_threads()
    # The build has the machine to itself at this point; queries run with one thread (vectors.py).
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    try:
        index = _neighbour_index(faiss, vectors, exact_below)
        want = min(k + _EXTRA, n)
        short: list[int] = []
        for lo in range(0, n, _BLOCK):
            block = np.ascontiguousarray(vectors[lo:lo + _BLOCK], dtype=np.float32)
            sims, ids = index.search(block, want)
            mean, count = _mean_other(sims, ids, groups, groups[lo:lo + len(block)], k)
            out[lo:lo + len(block)] = mean
            if want < n:
                short += (lo + np.flatnonzero(count < k)).tolist()
        # Rows whose nearest neighbours are nearly all from their own (long) article: look
        # deeper, as deep as the article is long.
        sizes = np.bincount(groups)
        for row in short:
            deep = min(k + int(sizes[groups[row]]), n)
            sims, ids = index.search(np.asarray(vectors[row:row + 1], np.float32), deep)
            out[row] = _mean_other(sims, ids, groups, groups[row:row + 1], k)[0][0]
    finally:
        faiss.omp_set_num_threads(previous)
    return out


def _neighbour_index(faiss: Any, vectors: np.ndarray, exact_below: int) -> Any:
    n, dim = vectors.shape
    if n < exact_below:
        index = faiss.IndexFlatIP(dim)
    else:
        # Fewer lists than the query index (vectors.py) and 40 training points each (FAISS's
        # floor is 39): on 39k BBC sentences this matches exact search at correlation 0.995 in a
        # quarter of the time.
        nlist = int(2 * math.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = rng.choice(n, size=min(n, 40 * nlist), replace=False)
        index.train(np.asarray(vectors[np.sort(sample)], np.float32))
        index.nprobe = 16
    for lo in range(0, n, _BLOCK):
        index.add(np.ascontiguousarray(vectors[lo:lo + _BLOCK], dtype=np.float32))
    return index


def _mean_other(
    sims: np.ndarray, ids: np.ndarray, groups: np.ndarray, own: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the mean of the first ``k`` similarities to other groups, and how many there were."""
    other = (ids >= 0) & (groups[np.maximum(ids, 0)] != own[:, None])
    take = other & (np.cumsum(other, axis=1) <= k)
    count = take.sum(axis=1)
    total = np.where(take, sims, 0.0).sum(axis=1)
    mean = np.divide(total, count, out=np.zeros(len(count), np.float64), where=count > 0)
    return mean.astype(np.float32), count
