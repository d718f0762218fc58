"""Measuring answer quality on a question set (the format of ../shared/data/README.md).

Metrics, per question then averaged:
- ``article_hit@1`` / ``article_hit@5``: a gold article among the first 1 / 5 distinct articles
  of the ranked retrieval;
- ``mrr@10``: 1 / rank of the first gold article among the first 10 distinct articles (0 if none);
- ``quote_hit@1`` / ``quote_hit@3``: over questions with answers, the first quote / any quote
  contains an answer string (case and white space aside); an abstention is a miss;
- ``answered``: share of questions answered rather than abstained;
- ``weak``: share of questions answered but marked weak (the best quote only loosely related);
- ``p50_ms`` / ``p95_ms``: per-question answer latency with the model warm.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .engine import Citebot
from .errors import InputError
from .textnorm import normalize


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    gold: tuple[str, ...]
    context: tuple[str, ...] = ()  # earlier questions of a follow-up (feedback sets)
    as_of: str | None = None  # when the question was asked (its "as_of" field), else today


@dataclass(frozen=True, slots=True)
class EvalReport:
    questions: int
    with_answers: int
    article_hit_at_1: float
    article_hit_at_5: float
    mrr_at_10: float
    quote_hit_at_1: float
    quote_hit_at_3: float
    answered: float
    weak: float
    p50_ms: float
    p95_ms: float

    def to_dict(self) -> dict[str, float | int]:
        d = asdict(self)
        return {k.replace("_at_", "@"): v for k, v in d.items()}


_ID_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})_")


def date_from_id(qid: str) -> str | None:
    """The asking date a question id begins with (realtimeqa: ``20220617_0``), as YYYY-MM-DD."""
    m = _ID_DATE.match(qid)
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None


def load_questions(path: str | Path, limit: int | None = None, *,
                   as_of: str | None = None) -> list[EvalQuestion]:
    """Question records; ``as_of``: a date for all of them, or ``"id"`` to take each one's from
    the date its id begins with (a record's own ``"as_of"`` field wins)."""
    out: list[EvalQuestion] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                when = d.get("as_of") or (date_from_id(str(d["id"])) if as_of == "id" else as_of)
                if as_of == "id" and when is None:
                    raise ValueError(f"id {d['id']!r} does not begin with a date (YYYYMMDD_)")
                out.append(EvalQuestion(str(d["id"]), str(d["question"]),
                                        tuple(d.get("answers") or ()), tuple(d.get("gold") or ()),
                                        as_of=when))
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(
                    f"{path}:{lineno} is not a question record ({exc}); "
                    'each line needs {"id", "question", "answers", "gold"}'
                ) from None
            if limit is not None and len(out) >= limit:
                break
    if not out:
        raise InputError(f"{path} holds no questions; give a JSON Lines file of question records")
    return out


def feedback_questions(index_dir: str | Path, limit: int | None = None) -> list[EvalQuestion]:
    """The answers users liked (retrieval/feedback.py) as questions: a liked quote's article is
    gold, its text an answer, and a follow-up keeps its conversation."""
    from .feedback import FeedbackStore, has_feedback_db

    liked = []
    if has_feedback_db(index_dir):
        with FeedbackStore(index_dir) as store:
            liked = store.question_set()
    if not liked:
        raise InputError(
            f"no liked answers in {index_dir} to evaluate yet; votes come from the 👍 / 👎 "
            "buttons under the Discord bot's answers (`citebot feedback` lists them)"
        )
    out = [EvalQuestion(q.id, q.question, q.answers, q.gold, q.context) for q in liked]
    return out[:limit] if limit is not None else out


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a system did with one question: the shape every system under test reports."""

    ranked: tuple[str, ...]  # distinct article ids, best first
    quotes: tuple[str, ...]  # quote texts, best first
    answered: bool
    ms: float
    weak: bool = False


def quote_hit(quotes: Sequence[str], answers: Sequence[str], n: int) -> bool:
    wanted = [normalize(a) for a in answers if a.strip()]
    return any(w in normalize(q) for q in quotes[:n] for w in wanted)


def summarize(questions: Sequence[EvalQuestion], outcomes: Sequence[Outcome]) -> EvalReport:
    """The metrics of the module docstring over one system's outcomes."""
    hit1 = hit5 = rr = q1 = q3 = answered = weak = 0.0
    with_answers = 0
    for q, o in zip(questions, outcomes, strict=True):
        gold = set(q.gold)
        first = next((r for r, aid in enumerate(o.ranked[:10]) if aid in gold), None)
        hit1 += first == 0
        hit5 += first is not None and first < 5
        rr += 1 / (first + 1) if first is not None else 0.0
        answered += o.answered
        weak += o.answered and o.weak
        if q.answers:
            with_answers += 1
            q1 += quote_hit(o.quotes, q.answers, 1)
            q3 += quote_hit(o.quotes, q.answers, 3)
    n = max(len(questions), 1)
    wa = max(with_answers, 1)
    lat = [o.ms for o in outcomes] or [0.0]
    return EvalReport(
        questions=len(questions), with_answers=with_answers,
        article_hit_at_1=round(hit1 / n, 4), article_hit_at_5=round(hit5 / n, 4),
        mrr_at_10=round(rr / n, 4), quote_hit_at_1=round(q1 / wa, 4), quote_hit_at_3=round(q3 / wa, 4),
        answered=round(answered / n, 4), weak=round(weak / n, 4),
        p50_ms=round(float(np.percentile(lat, 50)), 2), p95_ms=round(float(np.percentile(lat, 95)), 2),
    )


def evaluate(
    bot: Citebot, questions: Sequence[EvalQuestion], *,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    bot.open()  # latency is measured warm
    outcomes: list[Outcome] = []
    for i, q in enumerate(questions):
        t0 = time.perf_counter()
        if q.context:
            ans, ranked = bot.answer_followup(q.question, q.context, depth=10, as_of=q.as_of)
        else:
            ans, ranked = bot.answer_ranked(q.question, depth=10, as_of=q.as_of)
        ms = (time.perf_counter() - t0) * 1000
        quotes = tuple(x.text for x in ans.quotes)
        outcomes.append(Outcome(tuple(ranked), quotes, ans.answered, ms, ans.weak))
        if progress:
            progress(i + 1, len(questions))
    return summarize(questions, outcomes)
