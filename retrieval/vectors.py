"""The FAISS half of an index: passage vectors keyed by passage id.

Small indexes are exact (``IndexFlatIP``). Above ``APPROXIMATE_ABOVE`` passages an inverted
file index (``IndexIVFFlat``) keeps queries fast; it supports adding and removing ids in place
like the flat one, and ``nprobe`` is set so that recall@10 against exact search stays at or
above 0.95 (tested in tests/test_vectors.py).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

APPROXIMATE_ABOVE = 100_000


def _faiss() -> Any:
    import faiss

    # Two cores: FAISS's OpenMP threads fight torch's and slow a single query down.
    faiss.omp_set_num_threads(1)
    return faiss


def new_index(
    dim: int, vectors: np.ndarray, ids: np.ndarray, *, approximate_above: int = APPROXIMATE_ABOVE
) -> Any:
    """A fresh index holding ``vectors`` under ``ids``: exact when small, IVF when large."""
    faiss = _faiss()
    n = len(ids)
    if n <= approximate_above:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    else:
        nlist = int(4 * math.sqrt(n))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = max(16, nlist // 8)
        # A hash-table direct map allows arbitrary ids and lets reconstruct() find any vector.
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
    if n:
        index.add_with_ids(vectors, ids.astype(np.int64))
    return index


def is_approximate(index: Any) -> bool:
    return hasattr(index, "nprobe")


def all_vectors(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """Every (id, vector) the index holds, so it can be rebuilt in another shape."""
    faiss = _faiss()
    if is_approximate(index):
        inv = index.invlists
        ids_l, vec_l = [], []
        for lst in range(index.nlist):
            size = inv.list_size(lst)
            if not size:
                continue
            ids_l.append(faiss.rev_swig_ptr(inv.get_ids(lst), size).copy())
            codes = faiss.rev_swig_ptr(inv.get_codes(lst), size * index.code_size).copy()
            vec_l.append(codes.view(np.float32).reshape(size, index.d))
        if not ids_l:
            return np.zeros(0, np.int64), np.zeros((0, index.d), np.float32)
        return np.concatenate(ids_l), np.concatenate(vec_l)
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    vecs = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), np.float32)
    return ids, np.asarray(vecs, dtype=np.float32)


def update(index: Any, remove: list[int], add_ids: np.ndarray, add_vecs: np.ndarray, *,
           approximate_above: int = APPROXIMATE_ABOVE) -> Any:
    """Apply removals and additions; reshape (exact <-> approximate) when the size calls for it."""
    if remove:
        index.remove_ids(np.asarray(remove, dtype=np.int64))
    if len(add_ids):
        index.add_with_ids(add_vecs, add_ids.astype(np.int64))
    want_approx = index.ntotal > approximate_above
    # An IVF index trained on far fewer vectors than it now holds has lopsided lists; retrain.
    # nlist was 4*sqrt(n) at training time, so n_trained = (nlist / 4) ** 2.
    stale = is_approximate(index) and index.ntotal > 4 * (index.nlist / 4) ** 2
    if want_approx != is_approximate(index) or stale:
        ids, vecs = all_vectors(index)
        return new_index(index.d, vecs, ids, approximate_above=approximate_above)
    return index


def search(index: Any, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    if index.ntotal == 0:
        return []
    scores, ids = index.search(query.reshape(1, -1).astype(np.float32), min(k, index.ntotal))
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


def save(index: Any, path: Path) -> None:
    _faiss().write_index(index, str(path))


def load(path: Path) -> Any:
    faiss = _faiss()
    index = faiss.read_index(str(path))
    if is_approximate(index):
        index = faiss.extract_index_ivf(index) if not isinstance(index, faiss.IndexIVF) else index
    return index
