"""Hybrid passage retrieval: FAISS (meaning) and FTS5 bm25 (words), fused.

Candidates come from both sides (``depth`` each). Two fusions are available: reciprocal rank
fusion, and a linear blend of calibrated scores: the passage's cosine with the question, its
best sentence's cosine (an answer is usually one sentence, and a passage's single vector blurs
it), and its bm25 divided by the best bm25 of the query. Every candidate gets every signal,
whichever side found it, so the blend compares like with like. Both cosines are discounted by a
share of the passage's or sentence's hubness (hubness.py), so that generic text which sits
close to every question stops crowding out the text that answers this one.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal

import numpy as np

from .filters import EPOCH, ArticleFilter
from .models import Passage
from .scope import Scope
from .segment import NO_DATE
from .timeprior import NEUTRAL_PRIOR, date_prior
from .view import View


@dataclass(frozen=True, slots=True)
class FusionParams:
    mode: Literal["rrf", "linear"] = "linear"
    # rrf: score = sum(weight / (rrf_k + rank))
    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    # linear: score = (passage_cos - w_hub_passage * passage_hubness) * w_passage
    #   + max over sentences (sentence_cos - w_hub_sentence * sentence_hubness) * w_sentence
    #   + bm25_share * w_keyword
    w_passage: float = 1.0
    w_sentence: float = 0.5
    w_keyword: float = 0.25
    w_hub_passage: float = 0.3
    w_hub_sentence: float = 0.3
    depth_factor: int = 5  # candidates taken from each side: depth_factor * k, at least min_depth
    min_depth: int = 50
    # The date prior (timeprior.py): score += w_time * (prior - 0.5), so at most +-w_time / 2,
    # and only when some candidate's prior reaches time_floor (no candidate near the question's
    # period means the period says nothing about these candidates).
    w_time: float = 0.3
    time_floor: float = 0.05


@dataclass(frozen=True, slots=True)
class Candidate:
    passage_id: int
    score: float
    dense: float  # cosine of the passage with the question
    dense_rank: int | None
    keyword_rank: int | None
    sentence: float = 0.0  # best cosine of one of its sentences, less its hubness share
    keyword: float = 0.0  # bm25 share of the query's best


def fuse_rrf(
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
    view: View, question: str, qvec: np.ndarray, k: int, params: FusionParams,
    filt: ArticleFilter | None = None, scope: Scope | None = None,
) -> list[Candidate]:
    """Ranked candidates; ``question`` is the keyword text (the scope's, when there is one)."""
    if scope is not None:
        filt = scope.filter
    depth = max(params.min_depth, params.depth_factor * k)
    dense = view.dense_search(qvec, depth, filt)
    all_bm25 = view.keyword_scores(question, filt)
    keyword = heapq.nlargest(depth, all_bm25.items(), key=lambda kv: (kv[1], -kv[0]))
    if params.mode == "rrf":
        cands = fuse_rrf(dense, keyword, params)
        missing = [c.passage_id for c in cands[: k * 2] if c.dense_rank is None]
        cos = view.passage_cosines(missing, qvec)
        cands = [
            Candidate(c.passage_id, c.score, cos.get(c.passage_id, c.dense), c.dense_rank, c.keyword_rank)
            for c in cands
        ]
    else:
        cands = _fuse_linear(view, qvec, dense, keyword, all_bm25, params)
    return time_prior(view, cands, scope, params)


def _priors(view: View, cands: list[Candidate], scope: Scope | None,
            params: FusionParams) -> dict[int, float] | None:
    """Each candidate's date prior, or None when the prior does not apply: no period or recency
    in the question, or no dated candidate near the period (then it says nothing about them)."""
    if scope is None or not scope.has_prior or not params.w_time or not cands:
        return None
    days = view.passage_days([c.passage_id for c in cands])
    priors: dict[int, float] = {}
    best = 0.0
    for c in cands:
        d = days.get(c.passage_id, NO_DATE)
        published = EPOCH + timedelta(days=int(d)) if d != NO_DATE else None
        priors[c.passage_id] = p = date_prior(published, scope.prior_range, as_of=scope.as_of,
                                               recency=scope.recency)
        if published is not None:
            best = max(best, p)
    return priors if best >= params.time_floor else None


def time_prior(view: View, cands: list[Candidate], scope: Scope | None,
               params: FusionParams) -> list[Candidate]:
    """Move candidates by how well their article's date fits the question's period."""
    priors = _priors(view, cands, scope, params)
    if priors is None:
        return cands
    out = [replace(c, score=c.score + params.w_time * (priors[c.passage_id] - NEUTRAL_PRIOR))
           for c in cands]
    out.sort(key=lambda c: (-c.score, c.passage_id))
    return out


def period_used(view: View, cands: list[Candidate], scope: Scope | None,
                params: FusionParams) -> str | None:
    """The period an answer should name: a filter it answered within, or a prior that moved
    its candidates; None when the question's time phrase changed nothing."""
    if scope is None:
        return None
    if scope.explicit is not None or (scope.intent is not None and scope.intent.bounded):
        return scope.label()
    return scope.label() if _priors(view, cands, scope, params) is not None else None


def _fuse_linear(
    view: View, qvec: np.ndarray, dense: list[tuple[int, float]],
    keyword: list[tuple[int, float]], bm25: dict[int, float], params: FusionParams,
) -> list[Candidate]:
    d_rank = {pid: r for r, (pid, _) in enumerate(dense)}
    k_rank = {pid: r for r, (pid, _) in enumerate(keyword)}
    cos = dict(dense)
    ids = list(dict.fromkeys([p for p, _ in dense] + [p for p, _ in keyword]))
    cos.update(view.passage_cosines([p for p in ids if p not in cos], qvec))
    top_bm25 = keyword[0][1] if keyword else 0.0
    sent = _best_sentence_cos(view, qvec, ids, params.w_hub_sentence) if params.w_sentence else {}
    hub = dict(zip(ids, view.passage_hubs(ids).tolist(), strict=True))
    out: list[Candidate] = []
    for p in ids:
        kw = bm25.get(p, 0.0) / top_bm25 if top_bm25 > 0 else 0.0
        sc = sent.get(p, 0.0)
        pc = cos.get(p, 0.0) - params.w_hub_passage * hub[p]
        score = params.w_passage * pc + params.w_sentence * sc + params.w_keyword * kw
        out.append(Candidate(p, score, cos.get(p, 0.0), d_rank.get(p), k_rank.get(p), sc, kw))
    out.sort(key=lambda c: (-c.score, c.passage_id))
    return out


def _best_sentence_cos(
    view: View, qvec: np.ndarray, ids: list[int], w_hub: float
) -> dict[int, float]:
    rows = view.passages(ids)
    spans = [(pid, r.first_sentence, r.last_sentence) for pid, r in rows.items()]
    sids = [s for _, a, b in spans for s in range(a, b + 1)]
    cos = view.sentence_vectors(sids) @ qvec.ravel()
    if w_hub:
        cos = cos - w_hub * view.sentence_hubs(sids)
    out: dict[int, float] = {}
    at = 0
    for pid, a, b in spans:
        n = b - a + 1
        out[pid] = float(cos[at:at + n].max()) if n > 0 else 0.0
        at += n
    return out


def to_passages(view: View, cands: list[Candidate], k: int) -> list[Passage]:
    top = cands[:k]
    rows = view.passages([c.passage_id for c in top])
    arts = view.articles(r.article_id for r in rows.values())
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


def ranked_articles(view: View, cands: list[Candidate], depth: int) -> list[str]:
    """Distinct article ids in the order their passages rank."""
    rows = view.passages([c.passage_id for c in cands])
    out: list[str] = []
    for c in cands:
        r = rows.get(c.passage_id)
        if r is not None and r.article_id not in out:
            out.append(r.article_id)
            if len(out) == depth:
                break
    return out
