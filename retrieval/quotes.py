"""Choosing extractive quotes: the sentences of the top passages that best answer a question.

Each candidate sentence gets one score from three kinds of evidence: its meaning (cosine with
the question, from vectors computed at index time), its words (share of the question's content
words it contains), and where it came from (the fused rank of its passage). The best become
quotes of one or two consecutive whole sentences, never overlapping or repeating each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .reader import IndexReader
from .retriever import Candidate
from .store import SentenceRow, content_words
from .textnorm import normalize


@dataclass(frozen=True, slots=True)
class QuoteParams:
    top_passages: int = 5
    cos_weight: float = 1.0
    keyword_weight: float = 0.35
    rank_weight: float = 0.15
    max_chars: int = 300
    max_quotes: int = 3
    # A neighbouring sentence joins the quote when it scores this close to the best one.
    extend_ratio: float = 0.9
    # Later quotes must score at least this share of the first.
    keep_ratio: float = 0.75


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    row: SentenceRow
    cos: float
    keyword: float
    passage_rank: int
    score: float


@dataclass(frozen=True, slots=True)
class Pick:
    article_id: str
    start: int
    end: int
    score: float
    cos: float


def stem(word: str) -> str:
    # Just enough folding that "invade", "invasion" and "invading" stay apart but plural and
    # tense do not matter; cheaper than a full stemmer on a hot path.
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def keyword_overlap(question_terms: set[str], text: str) -> float:
    if not question_terms:
        return 0.0
    have = {stem(w) for w in content_words(text)}
    return len(question_terms & have) / len(question_terms)


def score_sentences(
    reader: IndexReader, question: str, qvec: np.ndarray, cands: list[Candidate],
    params: QuoteParams,
) -> tuple[list[ScoredSentence], dict[str, str]]:
    """Score every sentence of the top passages; returns them best first, with article texts."""
    top = cands[: params.top_passages]
    rows = reader.store.passages([c.passage_id for c in top])
    texts: dict[str, str] = {}
    best_rank: dict[int, int] = {}
    sentences: dict[int, SentenceRow] = {}
    for rank, c in enumerate(top):
        p = rows.get(c.passage_id)
        if p is None:
            continue
        for s in reader.store.sentences_between(p.first_sentence, p.last_sentence):
            sentences.setdefault(s.id, s)
            best_rank[s.id] = min(best_rank.get(s.id, rank), rank)
    if not sentences:
        return [], texts
    for aid in {s.article_id for s in sentences.values()}:
        art = reader.store.article(aid)
        if art is not None:
            texts[aid] = art.text
    ids = list(sentences)
    cos = reader.sentence_vectors(ids) @ qvec.ravel()
    q_terms = {stem(w) for w in content_words(question)}
    scored: list[ScoredSentence] = []
    for sid, c in zip(ids, cos, strict=True):
        s = sentences[sid]
        kw = keyword_overlap(q_terms, texts[s.article_id][s.start : s.end])
        rank = best_rank[sid]
        score = (
            params.cos_weight * float(c)
            + params.keyword_weight * kw
            + params.rank_weight / (1 + rank)
        )
        scored.append(ScoredSentence(s, float(c), kw, rank, score))
    scored.sort(key=lambda x: -x.score)
    return scored, texts


def select_quotes(
    scored: list[ScoredSentence], texts: dict[str, str], params: QuoteParams
) -> list[Pick]:
    """Up to ``max_quotes`` non-overlapping, non-repeating quotes, best first."""
    by_pos = {(s.row.article_id, s.row.ordinal): s for s in scored}
    picks: list[Pick] = []
    seen_text: set[str] = set()
    for s in scored:
        if len(picks) >= params.max_quotes:
            break
        if picks and s.score < params.keep_ratio * picks[0].score:
            break
        row = s.row
        if any(p.article_id == row.article_id and row.start < p.end and p.start < row.end for p in picks):
            continue
        text = texts[row.article_id]
        start, end = row.start, row.end
        # Join the better neighbour when it also answers and the pair stays short.
        neighbours = [by_pos.get((row.article_id, row.ordinal + d)) for d in (1, -1)]
        best_n = max((n for n in neighbours if n), key=lambda n: n.score, default=None)
        if best_n is not None and best_n.score >= params.extend_ratio * s.score:
            ns, ne = min(start, best_n.row.start), max(end, best_n.row.end)
            if ne - ns <= params.max_chars and not any(
                p.article_id == row.article_id and ns < p.end and p.start < ne for p in picks
            ):
                start, end = ns, ne
        key = normalize(text[start:end])
        if key in seen_text or any(key in k or k in key for k in seen_text):
            continue
        seen_text.add(key)
        picks.append(Pick(row.article_id, start, end, s.score, s.cos))
    return picks
