"""From a question to an ``Answer``: retrieve, score sentences, quote, number the sources, or abstain."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .models import Answer, Quote, Source
from .quotes import QuoteParams, keyword_overlap, score_sentences, select_quotes, stem
from .retriever import Candidate, FusionParams, period_used, ranked_articles, retrieve
from .scope import Scope
from .terms import content_words
from .view import View

MAX_QUESTION_CHARS = 1000


@dataclass(frozen=True, slots=True)
class AbstainParams:
    """The articles answer when the best sentence is this close in meaning to the question.

    Calibrated in benchmarks/calibrate_abstention.py: with an index of seeds/ alone, 95% of the
    realtimeqa-dev questions (other news) abstain and every seed question in the tests is
    answered; on realtimeqa's own corpus abstention costs 1 point of ``answered``.
    """

    min_sentence_cos: float = 0.35
    min_passage_cos: float = 0.45
    # An answer is marked weak when its best sentence is below this cosine and its first quote
    # holds under this share of the question's content words. Calibrated in the same script:
    # about 85% of the answers given to off-topic questions are marked, no seed answer, and about
    # a fifth of the answers on realtimeqa's own corpus, whose marked quotes are right less often.
    # The word share spares short questions ("What did NATO's chief say?"), whose cosine with
    # any one long sentence stays low even when that sentence answers them.
    strong_sentence_cos: float = 0.5
    strong_keyword_share: float = 0.75


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(text: str, what: str = "question") -> str:
    # Bytes that were not UTF-8 (argv and stdin decode them to lone surrogates) become U+FFFD,
    # which every later step (the tokenizer included) accepts.
    clean = _SURROGATE.sub("\ufffd", text).strip()
    if not clean:
        raise InputError(f"the {what} is empty; type a {what} of a few words")
    if len(clean) > MAX_QUESTION_CHARS:
        raise InputError(
            f"the {what} is {len(clean)} characters long, over the limit of {MAX_QUESTION_CHARS}; "
            "shorten it"
        )
    if not content_words(clean):
        raise InputError(
            f"the {what} has no words to look for (only words such as 'what' or 'the'); "
            "ask about something in the articles"
        )
    return clean


def answer_question(
    view: View, question: str, qvec: np.ndarray, *, k: int, fusion: FusionParams,
    quotes: QuoteParams, abstain: AbstainParams, scope: Scope | None = None,
) -> tuple[Answer, list[Candidate]]:
    """The answer, and the ranked candidates it came from (evaluations rank articles by them)."""
    words = scope.keyword_text if scope is not None else question
    cands = retrieve(view, words, qvec, max(k, quotes.top_passages), fusion, scope=scope)
    scored, texts = score_sentences(view, words, qvec, cands, quotes)
    period = period_used(view, cands, scope, fusion)
    if not scored or not _answers(scored[0].cos, cands, abstain):
        return Answer(question, False, (), (), closest=_closest(view, cands), period=period), cands
    picks = select_quotes(scored, texts, quotes)[: min(quotes.max_quotes, max(k, 1))]
    numbers: dict[str, int] = {}
    for p in picks:
        numbers.setdefault(p.article_id, len(numbers) + 1)
    arts = view.articles(numbers)
    out_quotes = tuple(
        Quote(
            n=numbers[p.article_id], text=texts[p.article_id][p.start:p.end],
            article_id=p.article_id, title=arts[p.article_id].title, url=arts[p.article_id].url,
            published=arts[p.article_id].published, start=p.start, end=p.end,
            score=round(p.score, 4),
        )
        for p in picks
    )
    sources = tuple(
        Source(n, aid, arts[aid].title, arts[aid].url, arts[aid].published)
        for aid, n in numbers.items()
    )
    weak = is_weak(words, scored[0].cos, out_quotes[0].text, abstain)
    return Answer(question, True, out_quotes, sources, weak=weak, period=period), cands


def is_weak(question: str, best_sentence_cos: float, first_quote: str, p: AbstainParams) -> bool:
    """Whether an answer is only a loose match (see ``AbstainParams``)."""
    if best_sentence_cos >= p.strong_sentence_cos:
        return False
    terms = {stem(w) for w in content_words(question)}
    return keyword_overlap(terms, first_quote) < p.strong_keyword_share


def _answers(best_sentence_cos: float, cands: list[Candidate], p: AbstainParams) -> bool:
    best_passage = max((c.dense for c in cands[:5]), default=0.0)
    return best_sentence_cos >= p.min_sentence_cos or best_passage >= p.min_passage_cos


def _closest(view: View, cands: list[Candidate], n: int = 3) -> tuple[Source, ...]:
    order = ranked_articles(view, cands[:20], n)
    arts = view.articles(order)
    return tuple(
        Source(i + 1, aid, arts[aid].title, arts[aid].url, arts[aid].published)
        for i, aid in enumerate(order)
    )
