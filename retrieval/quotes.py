"""Choosing extractive quotes: the sentences of the top passages that best answer a question.

Each candidate sentence is scored on several kinds of evidence:

- meaning: its cosine with the question (vectors computed at index time, so this is a lookup),
  less a share of its hubness (hubness.py);
- words: the share of the question's content words it contains;
- context: how strongly retrieval scored the best passage holding it, relative to the top one;
- answer type: a question asking who/when/how many wants a name, a date or a number that the
  question itself does not already contain; a sentence that has one is preferred;
- neighbours: a sentence that opens with a pronoun ("He said...") takes its predecessor along
  when that predecessor is among the scored sentences, and a neighbour that also scores well
  joins the quote, as long as the pair stays short.

The best become quotes of one or two consecutive whole sentences, never overlapping or repeating.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .retriever import Candidate
from .segment import SentenceRow
from .terms import content_words, words
from .textnorm import normalize
from .view import View


@dataclass(frozen=True, slots=True)
class QuoteParams:
    top_passages: int = 5
    cos_weight: float = 1.0
    keyword_weight: float = 0.5
    context_weight: float = 0.8
    cue_weight: float = 0.15
    # Share of a sentence's hubness taken off its cosine (see hubness.py).
    hub_weight: float = 0.3
    max_chars: int = 300
    max_quotes: int = 3
    # A neighbouring sentence joins the quote when it scores this close to the best one.
    extend_ratio: float = 0.75
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
    # Just enough folding that plural and tense do not matter; cheaper than a full stemmer on a
    # hot path, and the same on both sides of every comparison.
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def keyword_overlap(question_terms: set[str], text: str) -> float:
    if not question_terms:
        return 0.0
    have = {stem(w) for w in content_words(text)}
    return len(question_terms & have) / len(question_terms)


# -- answer-type cues ----------------------------------------------------------------------

_NUMBER_Q = re.compile(
    r"\b(how (many|much|long|old|far|big|large|tall|often)|what (year|percent(age)?|number|"
    r"amount|date|time|age|price|score)|which year|in what year)\b", re.I,
)
_WHEN_Q = re.compile(r"\b(when|what (day|month|decade|century))\b", re.I)
_NAME_Q = re.compile(r"\b(who|whom|whose|where|which (country|city|company|team|state|person|"
                     r"group|organi[sz]ation|party|nation|president|leader))\b", re.I)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|dozen|half|first|second|third)\b", re.I,
)
_DATE = re.compile(
    r"\d{4}|\b(january|february|march|april|may|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|century|decade|"
    r"yesterday|today|week|month|year)\b", re.I,
)
_CAPITAL = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z'’-]+")


def answer_cue(question: str) -> Callable[[str], float]:
    """For a question, a scorer giving 1 to a sentence that offers the kind of thing it asks for
    (a number, a date, or a name the question does not already contain), else 0.

    The question is analysed once here, not once per candidate sentence.
    """
    if _NUMBER_Q.search(question):
        return lambda sentence: 1.0 if _NUMBER.search(sentence) else 0.0
    if _WHEN_Q.search(question):
        return lambda sentence: 1.0 if _DATE.search(sentence) else 0.0
    if _NAME_Q.search(question):
        q_words = set(words(question))

        def new_name(sentence: str) -> float:
            names = {m.group(0).lower() for m in _CAPITAL.finditer(sentence)}
            return 1.0 if names - q_words else 0.0

        return new_name
    return lambda sentence: 0.0


_ANAPHOR = re.compile(
    r"^[\"'“‘(]*\s*(he|she|it|they|his|her|its|their|this|these|those|that|such|the (company|"
    r"group|team|firm|agency|ministry|president|minister|official)|but|however|also|meanwhile)\b",
    re.I,
)


def needs_context(sentence: str) -> bool:
    """A sentence that leans on the one before it to make sense on its own."""
    return bool(_ANAPHOR.match(sentence))


# -- scoring and picking -------------------------------------------------------------------

def score_sentences(
    view: View, question: str, qvec: np.ndarray, cands: list[Candidate],
    params: QuoteParams,
) -> tuple[list[ScoredSentence], dict[str, str]]:
    """Score every sentence of the top passages; returns them best first, with article texts."""
    top = cands[: params.top_passages]
    rows = view.passages([c.passage_id for c in top])
    texts: dict[str, str] = {}
    best_rank: dict[int, int] = {}
    context: dict[int, float] = {}
    sentences: dict[int, SentenceRow] = {}
    top_score = top[0].score if top and top[0].score > 0 else 1.0
    for rank, c in enumerate(top):
        p = rows.get(c.passage_id)
        if p is None:
            continue
        rel = max(c.score, 0.0) / top_score
        for s in view.sentences_between(p.first_sentence, p.last_sentence):
            sentences.setdefault(s.id, s)
            best_rank[s.id] = min(best_rank.get(s.id, rank), rank)
            context[s.id] = max(context.get(s.id, 0.0), rel)
    if not sentences:
        return [], texts
    for aid in {s.article_id for s in sentences.values()}:
        art = view.article(aid)
        if art is not None:
            texts[aid] = art.text
    ids = list(sentences)
    cos = view.sentence_vectors(ids) @ qvec.ravel()
    hub = view.sentence_hubs(ids) if params.hub_weight else np.zeros(len(ids), np.float32)
    q_terms = {stem(w) for w in content_words(question)}
    cue = answer_cue(question)
    scored: list[ScoredSentence] = []
    for sid, c, h in zip(ids, cos, hub, strict=True):
        s = sentences[sid]
        text = texts[s.article_id][s.start : s.end]
        kw = keyword_overlap(q_terms, text)
        score = (
            params.cos_weight * float(c - params.hub_weight * h)
            + params.keyword_weight * kw
            + params.context_weight * context[sid]
            + (params.cue_weight * cue(text) if params.cue_weight else 0.0)
        )
        scored.append(ScoredSentence(s, float(c), kw, best_rank[sid], score))
    scored.sort(key=lambda x: -x.score)
    return scored, texts


def _overlaps(picks: list[Pick], article_id: str, start: int, end: int) -> bool:
    return any(p.article_id == article_id and start < p.end and p.start < end for p in picks)


def select_quotes(
    scored: list[ScoredSentence], texts: dict[str, str], params: QuoteParams,
) -> list[Pick]:
    """Up to ``max_quotes`` non-overlapping, non-repeating quotes, best first."""
    by_pos = {(s.row.article_id, s.row.ordinal): s for s in scored}
    picks: list[Pick] = []
    seen_text: list[str] = []
    for s in scored:
        if len(picks) >= params.max_quotes:
            break
        if picks and s.score < params.keep_ratio * picks[0].score:
            break
        row = s.row
        if _overlaps(picks, row.article_id, row.start, row.end):
            continue
        text = texts[row.article_id]
        start, end = _extend(s, text, by_pos, params)
        if _overlaps(picks, row.article_id, start, end):
            start, end = row.start, row.end
        key = normalize(text[start:end])
        if any(key in k or k in key for k in seen_text):
            continue
        seen_text.append(key)
        picks.append(Pick(row.article_id, start, end, s.score, s.cos))
    return picks


def _extend(
    s: ScoredSentence, text: str, by_pos: dict[tuple[str, int], ScoredSentence],
    params: QuoteParams,
) -> tuple[int, int]:
    row = s.row
    start, end = row.start, row.end
    prev = by_pos.get((row.article_id, row.ordinal - 1))
    if (prev is not None and needs_context(text[row.start:row.end])
            and end - prev.row.start <= params.max_chars):
        return prev.row.start, end
    options = [n for n in (by_pos.get((row.article_id, row.ordinal + d)) for d in (1, -1)) if n]
    best_n = max(options, key=lambda n: n.score, default=None)
    if best_n is not None and best_n.score >= params.extend_ratio * s.score:
        ns, ne = min(start, best_n.row.start), max(end, best_n.row.end)
        if ne - ns <= params.max_chars:
            return ns, ne
    return start, end
