"""Which approximate index for a million passages (and three million sentences)? Measured.

    python benchmarks/ann.py [--n 1000000] [--source INDEX_DIR] [--queries 500]

Vectors: the real passage and sentence vectors of indexes citebot built (``--source``, default
quality.py's realtimeqa-dev and xquad-en indexes), replicated up to ``--n`` by perturbing real vectors: each replica is a
real vector plus Gaussian noise scaled so that its cosine to the original is about 0.9, then
normalised (the report says how many were real). Queries: real questions (realtimeqa-dev), encoded
by the query encoder. Ground truth: exact inner-product search over all ``n`` vectors.

For each candidate (FAISS IVF-Flat, IVF-PQ and OPQ+IVF-PQ with exact re-ranking of the top
candidates from the stored float32 vectors, HNSW-Flat, HNSW over 8-bit codes): recall@10 against
exact search, p50 / p95 query time with one FAISS thread (re-ranking included), build time,
memory (the index's own bytes, what a reader holds in RAM) and disk.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import CACHE, SHARED, add_common_args, append_results, log, md_table, percentile
from madevectors import replicate

K = 10
REAL_INDEXES = ("realtimeqa-dev", "xquad-en")


def real_vectors(sources: Sequence[Path], limit: int) -> np.ndarray:
    """The passage and sentence vectors of indexes the model built (unique rows, up to ``limit``)."""
    from retrieval.reader import IndexReader

    parts = []
    for source in sources:
        view = IndexReader(source).current()
        for st in view.segments:
            parts += [np.asarray(st.seg.passage_vectors, np.float32), np.asarray(st.seg.sentence_vectors, np.float32)]
    vecs = np.unique(np.vstack(parts), axis=0) if parts else np.zeros((0, 384), np.float32)
    np.random.default_rng(0).shuffle(vecs)
    return vecs[:limit]


def queries(n: int) -> np.ndarray:
    from retrieval.embedder import load_embedder
    from retrieval.evaluation import load_questions

    qs = [q.question for q in load_questions(SHARED / "qa/realtimeqa-dev/questions.jsonl", n)]
    return load_embedder().encode(qs, batch_size=64)


def exact(xb: np.ndarray, xq: np.ndarray) -> np.ndarray:
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    _, ids = faiss.knn(xq, xb, K, faiss.METRIC_INNER_PRODUCT)
    return ids


def candidates(d: int, n: int) -> dict[str, Callable[[], Any]]:
    import faiss

    nlist = int(4 * np.sqrt(n))
    m = 48  # 8 dims a sub-quantizer
    ip = faiss.METRIC_INNER_PRODUCT
    return {
        "IVF-Flat": lambda: faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, ip),
        "IVF-PQ48 + re-rank": lambda: faiss.IndexIVFPQ(faiss.IndexFlatIP(d), d, nlist, m, 8, ip),
        "OPQ48 + IVF-PQ48 + re-rank": lambda: faiss.index_factory(d, f"OPQ{m},IVF{nlist},PQ{m}", ip),
        "HNSW32-Flat": lambda: faiss.IndexHNSWFlat(d, 32, ip),
        "HNSW32-SQ8 + re-rank": lambda: faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, 32, ip),
    }


def tune(index: Any, name: str) -> None:
    import faiss

    if "IVF" in name:
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = max(16, ivf.nlist // 8)
    if "HNSW" in name:
        hnsw = index.hnsw if hasattr(index, "hnsw") else faiss.downcast_index(index).hnsw
        hnsw.efSearch = 128


def evaluate(name: str, make: Callable[[], Any], xb: np.ndarray, xq: np.ndarray, truth: np.ndarray,
             tmp: Path) -> list[Any]:
    import faiss

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    index = make()
    t0 = time.perf_counter()
    if not index.is_trained:
        rng = np.random.default_rng(1)
        index.train(xb[np.sort(rng.choice(len(xb), size=min(len(xb), 100_000), replace=False))])
    for lo in range(0, len(xb), 100_000):
        index.add(xb[lo:lo + 100_000])
    build = time.perf_counter() - t0
    tune(index, name)
    path = tmp / "ann.faiss"
    faiss.write_index(index, str(path))
    disk = path.stat().st_size
    faiss.omp_set_num_threads(1)  # queries run with one thread (vectors.py)
    rerank = "re-rank" in name
    lat, hits = [], 0
    for qi, q in enumerate(xq):
        t = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), K * 4 if rerank else K)
        got = ids[0][ids[0] >= 0]
        if rerank:
            rows = np.sort(got)
            got = rows[np.argsort(-(xb[rows] @ q), kind="stable")][:K]
        lat.append((time.perf_counter() - t) * 1000)
        hits += len(set(got[:K].tolist()) & set(truth[qi].tolist()))
    path.unlink()
    return [name, hits / (len(xq) * K), percentile(lat, 50), percentile(lat, 95), f"{build:.0f} s",
            f"{disk / 1e6:.0f} MB", f"{disk / len(xb):.0f} B/vector"]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--source", type=Path, default=None, help="an index whose vectors are the real ones")
    p.add_argument("--queries", type=int, default=500)
    p.add_argument("--only", default=None, help="comma-separated candidate names")
    add_common_args(p)
    args = p.parse_args(argv)
    # Only indexes the model embedded: growth.py's base index holds made vectors.
    sources = [args.source] if args.source else [CACHE / n for n in REAL_INDEXES if (CACHE / n / "COMMIT").exists()]
    if not sources:
        print("skipped: no cached index to take real vectors from; run benchmarks/quality.py first")
        return 0
    source = Path("+".join(s.name for s in sources))
    real = real_vectors(sources, args.n)
    xb = replicate(real, args.n)
    log(f"{len(real):,} real vectors from {source.name}, {args.n - len(real):,} perturbed copies")
    xq = queries(args.queries)
    truth = exact(xb, xq)
    rows = []
    with tempfile.TemporaryDirectory(dir=CACHE) as t:
        for name, make in candidates(xb.shape[1], len(xb)).items():
            if args.only and name not in args.only.split(","):
                continue
            log(f"building {name}")
            rows.append(evaluate(name, make, xb, xq, truth, Path(t)))
            log(json.dumps(rows[-1], default=str))
    body = (f"{args.n:,} vectors: {len(real):,} real passage and sentence vectors of `{source.name}` and "
            f"{args.n - len(real):,} made from them (a real vector plus Gaussian noise, cosine ~0.9 to it, "
            f"normalised); {len(xq)} realtimeqa-dev questions; recall@10 against exact search; latency with "
            "one FAISS thread, re-ranking from the float32 vectors included; memory = the index's bytes.\n\n")
    body += md_table(["index", "recall@10", "p50 ms", "p95 ms", "build", "disk/RAM", "per vector"], rows)
    print(body)
    if not args.no_append:
        print(f"appended to {append_results('ANN index choice', body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
