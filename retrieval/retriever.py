"""Hybrid passage retrieval: FAISS (meaning) and FTS5 bm25 (words), fused by reciprocal rank."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import vectors as vec
from .models import Passage
from .reader import IndexReader


@dataclass(frozen=True, slots=True)
class FusionParams:
    """Reciprocal rank fusion: score = sum(weight / (rrf_k + rank)) over the two rankings."""

    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    depth_factor: int = 5  # candidates taken from each side: depth_factor * k, at least min_depth
    min_depth: int = 50


@dataclass(frozen=True, slots=True)
class Candidate:
    passage_id: int
    score: float
    dense: float  # cosine with the question (0 when only keyword search found it)
    dense_rank: int | None
    keyword_rank: int | None


def fuse(
    dense: list[tuple[int, float]], keyword: list[tuple[int, float]], params: FusionParams
) -> list[Candidate]:
    scores: dict[int, float] = {}
    d_rank = {pid: r for r, (pid, _) in enumerate(dense)}
    k_rank = {pid: r for r, (pid, _) in enumerate(keyword)}
    for pid, r in d_rank.items():
        scores[pid] = scores.get(pid, 0.0) + params.dense_weight / (params.rrf_k + r + 1)
    for pid, r in k_rank.items():
        scores[pid] = scores.get(pid, 0.0) + params.keyword_weight / (params.rrf_k + r + 1)
    cos = dict(dense)
    ranked = sorted(scores, key=lambda p: (-scores[p], p))
    return [Candidate(p, scores[p], cos.get(p, 0.0), d_rank.get(p), k_rank.get(p)) for p in ranked]


def retrieve(
    reader: IndexReader, question: str, qvec: np.ndarray, k: int, params: FusionParams
) -> list[Candidate]:
    depth = max(params.min_depth, params.depth_factor * k)
    dense = vec.search(reader.faiss, qvec, depth)
    keyword = reader.store.keyword_search(question, depth)
    cands = fuse(dense, keyword, params)
    # Keyword-only hits have no cosine yet; compute it so later stages can compare all alike.
    missing = [c.passage_id for c in cands[: k * 2] if c.dense_rank is None]
    if missing:
        cos = _cosines(reader, qvec, missing)
        cands = [
            Candidate(c.passage_id, c.score, cos.get(c.passage_id, c.dense), c.dense_rank, c.keyword_rank)
            for c in cands
        ]
    return cands


def _cosines(reader: IndexReader, qvec: np.ndarray, ids: list[int]) -> dict[int, float]:
    out: dict[int, float] = {}
    for pid in ids:
        try:
            v = reader.faiss.reconstruct(int(pid))
        except RuntimeError:
            continue
        out[pid] = float(np.dot(v, qvec.ravel()))
    return out


def to_passages(reader: IndexReader, cands: list[Candidate], k: int) -> list[Passage]:
    top = cands[:k]
    rows = reader.store.passages([c.passage_id for c in top])
    arts = reader.store.articles(r.article_id for r in rows.values())
    out: list[Passage] = []
    for rank, c in enumerate(top):
        row = rows.get(c.passage_id)
        if row is None:
            continue
        a = arts[row.article_id]
        out.append(Passage(
            passage_id=row.id, article_id=a.id, title=a.title, url=a.url, published=a.published,
            start=row.start, end=row.end, text=a.text[row.start:row.end], score=c.score, rank=rank,
        ))
    return out
