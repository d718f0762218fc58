"""Vector search within one segment, and the approximate index of large segments.

Every segment keeps its passage vectors as a float32 ``.npy`` file, memory-mapped. Small
segments are searched exactly, straight from that file (one matrix-vector product). Segments
above ``APPROXIMATE_ABOVE`` passages, which only merges make, also get an approximate index,
trained when the merge writes them; its candidates are re-scored with the exact vectors, so
the cosines retrieval sees are exact either way. Rows of a segment are its FAISS ids, and a
bitmap of live rows (deletions, date filters) is handed to FAISS as an ``IDSelectorBitmap``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

APPROXIMATE_ABOVE = 100_000
ANN_FILE = "passages.faiss"
# Candidates the approximate index returns per wanted result, re-scored exactly.
_RERANK = 4


def faiss_module() -> Any:
    import faiss

    # Two cores: FAISS's OpenMP threads fight ONNX Runtime's and slow a single query down.
    faiss.omp_set_num_threads(1)
    return faiss


def load_ann(folder: Path, kind: str) -> Any:
    if kind == "flat":
        return None
    faiss = faiss_module()
    index = faiss.read_index(str(folder / ANN_FILE))
    if hasattr(index, "nprobe"):
        index.nprobe = max(16, index.nlist // 8)
    return index


def build_ann(folder: Path, vectors: Any) -> str:
    """Write the approximate index for a segment's passage vectors; returns its kind."""
    n, dim = vectors.shape
    if n <= APPROXIMATE_ABOVE:
        return "flat"
    faiss = faiss_module()
    nlist = int(4 * math.sqrt(n))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(n, size=min(n, 64 * nlist), replace=False))
    index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    for lo in range(0, n, 65536):
        block = np.ascontiguousarray(vectors[lo:lo + 65536], dtype=np.float32)
        index.add_with_ids(block, np.arange(lo, lo + len(block), dtype=np.int64))
    faiss.write_index(index, str(folder / ANN_FILE))
    return "ivf-flat"


def search(vectors: np.ndarray, ann: Any, query: np.ndarray, k: int,
           live: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` (rows, cosines) of one segment for one query, best first; ``live`` masks rows."""
    n = len(vectors)
    if n == 0 or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    q = np.ascontiguousarray(query, dtype=np.float32).ravel()
    if ann is None:
        scores = np.asarray(vectors @ q, dtype=np.float32)
        if live is not None:
            scores[~live] = -np.inf
        k = min(k, n)
        rows = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        rows = rows[np.isfinite(scores[rows])]
        found = scores[rows]
    else:
        faiss = faiss_module()
        params = None
        if live is not None:
            bitmap = np.packbits(live, bitorder="little")  # FAISS reads bit i of byte i // 8
            params = faiss.SearchParametersIVF(sel=faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap)),
                                               nprobe=ann.nprobe)
        _, cand = ann.search(q.reshape(1, -1), min(n, k * _RERANK), params=params)
        rows = cand[0][cand[0] >= 0]
        found = np.asarray(vectors[np.sort(rows)] @ q, dtype=np.float32)
        rows = np.sort(rows)
    order = np.lexsort((rows, -found))[:k]
    return rows[order].astype(np.int64), found[order]


def knn_blocks(queries: np.ndarray, base: np.ndarray, k: int, keep: np.ndarray | None = None,
               block: int = 32768) -> tuple[np.ndarray, np.ndarray]:
    """Exact top ``k`` inner products of each query row against ``base`` rows (any dtype,
    memory-mapped is fine: it is read one block at a time). Returns (sims, base rows), with
    -inf / -1 where fewer than ``k`` rows qualify."""
    faiss = faiss_module()
    nq = len(queries)
    best_s = np.full((nq, k), -np.inf, np.float32)
    best_i = np.full((nq, k), -1, np.int64)
    if nq == 0 or len(base) == 0:
        return best_s, best_i
    q = np.ascontiguousarray(queries, dtype=np.float32)
    for lo in range(0, len(base), block):
        rows = np.arange(lo, min(lo + block, len(base)))
        if keep is not None:
            rows = rows[keep[lo:lo + block]]
        if not len(rows):
            continue
        xb = np.ascontiguousarray(base[rows] if keep is not None else base[lo:lo + block],
                                  dtype=np.float32)
        sims, idx = faiss.knn(q, xb, min(k, len(rows)), faiss.METRIC_INNER_PRODUCT)
        got = np.where(idx >= 0, rows[np.maximum(idx, 0)], -1)
        best_s, best_i = merge_top(best_s, best_i, sims, got, k)
    return best_s, best_i


def merge_top(s1: np.ndarray, i1: np.ndarray, s2: np.ndarray, i2: np.ndarray,
              k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top ``k`` of two (sims, ids) result sets."""
    s = np.concatenate([s1, s2], axis=1)
    i = np.concatenate([i1, i2], axis=1)
    if s.shape[1] > k:
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        s = np.take_along_axis(s, part, axis=1)
        i = np.take_along_axis(i, part, axis=1)
    order = np.argsort(-s, axis=1, kind="stable")
    return np.take_along_axis(s, order, axis=1), np.take_along_axis(i, order, axis=1)
