"""The scope of one query: which articles it may answer from, and what its time phrases mean.

Every query is asked on some day, ``as_of`` (default: today, UTC): nothing published after it is
used, so replays and evaluations are honest, and it is what "this week" means. On top of that:

- explicit limits (``--since``/``--until``/``--source``, the API's arguments, Discord's options) are
  a filter, and drop undated articles, since nothing says they fall inside;
- a clear bound in the question is a filter too, but keeps undated articles (the question did not
  ask to leave them out), and what it filters depends on what the period dates:
  - what was *said* in it ("What did the SVR say in 2019?", "announced in March 2021"): a
    statement is news when it is made, so only articles published in the period answer;
  - anything else ("Who won the election in 2020?", "In 1803, the US purchased ..."): events are
    reported during and long after them (30 of the 65 clearly bounded realtimeqa-dev questions
    have their gold article published after the period, up to centuries), so articles from the
    period's start onwards answer, and the prior prefers the period itself;
- a soft period ("this week", "in March", "recently") is a ranking prior (see ``TIME_WEIGHT``);
- a bound relative to the asking date ("over the past three months", "since July", "last year")
  that holds no dated article at all is dropped, and the answer says so ("No articles from 3 Sep
  - 2 Dec 2026; all dates used"): such a question is usually asked of an archive that stops
  earlier (a replay, a stale index), and answering from nothing helps nobody. A bound that names
  its calendar dates ("in 2019") is what the user asked for and stays, even when it is empty;
- the time phrases are dropped from the keyword query ("week" is no evidence of a topic), except
  those naming a calendar date, which articles repeat ("in 2019", "on February 24").

Citation lookups read no time into the claim: its dates are content to match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from .errors import InputError
from .filters import ArticleFilter
from .timeparse import (
    DateRange,
    TimeIntent,
    as_of_date,
    parse_date_arg,
    parse_time,
    range_from_args,
    range_label,
)

DateLike = date | datetime | str | None


@dataclass(frozen=True, slots=True)
class Scope:
    as_of: date
    filter: ArticleFilter
    keyword_text: str  # the question as keyword search sees it
    intent: TimeIntent | None = None  # the question's time phrases (None for citation lookups)
    explicit: DateRange | None = None  # what --since/--until asked for
    dropped: DateRange | None = None  # the question's relative bound, dropped for holding nothing

    @property
    def prior_range(self) -> DateRange | None:
        return self.intent.range if self.intent is not None else None

    @property
    def recency(self) -> bool:
        return bool(self.intent and self.intent.recency)

    @property
    def has_prior(self) -> bool:
        # A dropped period held no article: nearness to it would favour dates arbitrarily.
        return self.dropped is None and (self.prior_range is not None or self.recency)

    def label(self) -> str | None:
        """What the answer says about the period it used ("Articles from 14-20 Nov 2021")."""
        if self.explicit is not None:
            return range_label(self.explicit)
        if self.dropped is not None:
            return f"No articles {range_label(self.dropped).removeprefix('Articles ')}; all dates used"
        if self.intent is not None and self.intent.range is not None:
            return self.intent.label()
        return None


def _day(value: DateLike, today: date, *, end: bool = False) -> date:
    if isinstance(value, str):
        return parse_date_arg(value, today, end=end)
    return as_of_date(value)


def scope_for(text: str, *, as_of: DateLike = None, since: DateLike = None, until: DateLike = None,
              source: str | tuple[str, ...] | list[str] | None = None,
              read_time: bool = True, question_bound: bool = True) -> Scope:
    """The scope of a query on ``text``; bad dates raise a one-line ``InputError``.
    ``question_bound=False``: the question's own bound is not a filter (see ``relative_bound``)."""
    today = as_of_date(None)
    day = _day(as_of, today) if as_of is not None else today
    explicit: DateRange | None = None
    if since is not None or until is not None:
        if isinstance(since, str | type(None)) and isinstance(until, str | type(None)):
            explicit = range_from_args(since, until, day)
        else:
            start = _day(since, day) if since is not None else None
            stop = _day(until, day, end=True) if until is not None else None
            if start is not None and stop is not None and start > stop:
                raise InputError(f"since {start} is after until {stop}: swap them")
            explicit = DateRange(start, stop)
    sources = (source,) if isinstance(source, str) else tuple(source or ())
    intent = parse_time(text, day) if read_time else None
    lo = explicit.since if explicit else None
    hi = min(explicit.until, day) if explicit and explicit.until else day
    if question_bound and intent is not None and intent.bounded and intent.filter_range is not None:
        fr = intent.filter_range
        if intent.range is not None and said_in(text, intent):
            fr = intent.range  # statements are published when made: the period itself
        lo = max(lo, fr.since) if lo and fr.since else (lo or fr.since)
        hi = min(hi, fr.until) if fr.until else hi
    filt = ArticleFilter(since=lo, until=hi, sources=sources, keep_undated=explicit is None)
    keyword_text = intent.without_time(text, keep_literal=True) if intent is not None else text
    return Scope(day, filt, keyword_text or text, intent, explicit)


def relative_bound(scope: Scope) -> DateRange | None:
    """The question's filtering period when every bounded phrase behind it is relative to the
    asking date (nothing names a calendar year): the one kind dropped when it holds no article."""
    intent = scope.intent
    if intent is None or not intent.bounded or intent.filter_range is None:
        return None
    bounded = [e for e in intent.expressions if e.bounded]
    if not bounded or any(not e.relative or e.literal for e in bounded):
        return None
    return intent.range or intent.filter_range


# Verbs of saying: a period attached to one dates a statement, hence its publication. Words that
# are as often nouns ("the United States", "a post", "calls for") are left out.
_SAYING = frozenset('''
    say says said saying tell tells told announce announces announced report reports reported
    claim claims claimed warn warns warned stated write writes wrote publish
    publishes published deny denies denied confirm confirms confirmed describe describes described
    reveal reveals revealed declare declares declared admit admits admitted insist insists insisted
    argue argues argued predict predicts predicted promise promises promised vow vows vowed urge
    urges urged tweet tweets tweeted posted comment comments commented respond responds
    responded ask asks asked accuse accuses accused dismiss dismisses dismissed
'''.split())
_WORD = re.compile(r"[A-Za-z']+")


def said_in(question: str, intent: TimeIntent) -> bool:
    """Whether the question's bounded time phrase dates something said: a verb of saying right
    before the phrase ("say in 2019", "said on Monday") or, for a phrase that opens the question,
    as the question's first verb-like word after it ("In 2019, what did the SVR say?")."""
    for e in intent.expressions:
        if not e.bounded:
            continue
        start, end = e.span
        before = _WORD.findall(question[:start])[-2:]
        if any(w.lower() in _SAYING for w in before):
            return True
        if not question[:start].strip():
            after = [w.lower() for w in _WORD.findall(question[end:])]
            words = [w for w in after if w not in ("what", "did", "does", "do", "the", "who", "how")]
            if any(w in _SAYING for w in words[:3]):
                return True
    return False


def describe_empty(scope: Scope) -> str:
    """The one line for a query whose explicit limits leave no article."""
    parts = []
    f = scope.filter
    if scope.explicit is not None:
        parts.append(f"published {range_label(scope.explicit).removeprefix('Articles ')}")
    if f.sources:
        parts.append("from " + " or ".join(f.sources))
    what = " and ".join(parts) if parts else f"published by {scope.as_of}"
    return (f"no indexed article was {what} (asking as of {scope.as_of}); widen --since/--until, "
            "check --source, or see `citebot sources`")
