"""Citation lookup: which article said this, where, and was it said word for word?

Verbatim means the text occurs in the article once case, white space, typographic quotes,
apostrophes and dashes are folded away. Candidates come from keyword search and meaning
search; each candidate article is then checked character by character, so a verbatim match
is never a guess. Otherwise the best sentences by meaning are returned as paraphrases, when
they are close enough to count as saying the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .models import Match
from .quotes import QuoteParams, score_sentences
from .retriever import FusionParams, ranked_articles, retrieve
from .scope import Scope
from .segment import SentenceRow
from .textnorm import normalize, normalize_with_map, strip_quote_marks
from .view import View


@dataclass(frozen=True, slots=True)
class CiteParams:
    max_matches: int = 5
    # A sentence paraphrases the claim when meaning and shared words are both strong enough.
    min_paraphrase_cos: float = 0.55
    min_paraphrase_mixed: float = 0.62  # cos + 0.3 * keyword overlap


def cite_text(
    view: View, text: str, qvec: np.ndarray, *, fusion: FusionParams, params: CiteParams,
    scope: Scope | None = None,
) -> tuple[Match, ...]:
    claim = strip_quote_marks(text) or text.strip()
    cands = retrieve(view, claim, qvec, 10, fusion, scope=scope)
    arts_seen = ranked_articles(view, cands[:30], 30)
    matches: list[Match] = []
    needle = normalize(claim)
    for aid in arts_seen:
        art = view.article(aid)
        if art is None:
            continue
        # The cheap C-speed check first; the offset map is built only for a real hit.
        if not needle or needle not in normalize(art.text):
            continue
        norm, where = normalize_with_map(art.text)
        at = norm.find(needle)
        while at >= 0 and len(matches) < params.max_matches:
            start = where[at]
            end = where[at + len(needle) - 1] + 1
            s, e = _sentence_bounds(view.article_sentences(aid), start, end)
            matches.append(Match(
                text=art.text[s:e], article_id=aid, title=art.title, url=art.url,
                published=art.published, start=s, end=e, score=1.0, verbatim=True,
            ))
            at = norm.find(needle, at + len(needle))
    if matches:
        return tuple(matches[: params.max_matches])

    qp = QuoteParams(top_passages=8, keyword_weight=0.3, context_weight=0.0, cue_weight=0.0)
    scored, _ = score_sentences(view, claim, qvec, cands, qp)
    out: list[Match] = []
    for sc in scored:
        row = sc.row
        # score_sentences already measured the shared words against the same claim.
        mixed = sc.cos + 0.3 * sc.keyword
        if sc.cos < params.min_paraphrase_cos and mixed < params.min_paraphrase_mixed:
            continue
        art = view.article(row.article_id)
        if art is None:
            continue
        out.append(Match(
            text=art.text[row.start:row.end], article_id=art.id, title=art.title, url=art.url,
            published=art.published, start=row.start, end=row.end, score=round(mixed, 4),
            verbatim=False,
        ))
        if len(out) >= params.max_matches:
            break
    out.sort(key=lambda m: -m.score)
    return tuple(out)


def _sentence_bounds(sentences: list[SentenceRow], start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) to the whole sentences it touches."""
    touched = [s for s in sentences if s.start < end and start < s.end]
    if not touched:
        return start, end
    return min(s.start for s in touched), max(s.end for s in touched)
