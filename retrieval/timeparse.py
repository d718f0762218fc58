"""Time in the question: what period a question is about, how sure that is, and where it says so.

    intent = parse_time("What did the Kremlin say this week?", as_of=date(2021, 11, 20))
    intent.range            # DateRange(2021-11-14, 2021-11-20): the seven days up to as_of
    intent.bounded          # False: a ranking prior, not a filter
    intent.without_time(q)  # "What did the Kremlin say?": the keyword query without the phrase
    intent.label()          # "Articles from 14-20 Nov 2021"
    intent.prior(article.published)  # in [0, 1], see retrieval.timeprior

Pure and fast (tens of microseconds a question; ``benchmarks/time_expressions.py``). The asking
date ``as_of`` is what relative phrases mean; an aware datetime (Discord's timestamps) is taken at
its UTC date, a naive one as it stands, ``None`` as today in UTC. Ranges are calendar periods and
are not clipped to ``as_of``: "this year" is the whole year. Callers never answer with articles
published after ``as_of`` whatever the range says.

What the phrases mean (``D`` = as_of)
-------------------------------------

=========================================  ================================================  =======
phrase                                     range                                             bounded
=========================================  ================================================  =======
today, tonight; yesterday; last night      D; D-1; D-1 to D
this week, this past week                  the 7 days up to D (a news quiz's "this week")
earlier this week; early / late this week  D-6 to D-1; D-6 to D-4 / D-2 to D
last week                                  the 7 days before those: D-13 to D-7
the past week, the past N days/weeks/...   the N units up to D                               yes
this/last month, this/last year            calendar month / year (last = the previous one)
earlier this month / year                  from its first day to D-1
early / late this month / year             its days 1-10 / 21-end; Jan-Apr / Sep-Dec
next week / month / year, tomorrow,        after D: ``future`` (no range, but ``recency``)
later this month, the coming weeks
N days/weeks/months/years ago              that day; a window of one unit around the point
this weekend; last / over the weekend      Sat-Sun of this week (coming on weekdays); the
                                           latest one over
(on) Monday; last / next / this Monday     the latest Monday (D included); before / after
                                           D; the nearest
in March; last March; March last year      the latest March begun by D (the coming one if
                                           the sentence speaks of the future); strictly
                                           before this month; of D's year - 1
early / mid / late March, end of March     days 1-10 / 11-20 / 21-end
on 16 November, November 16th              the nearest 16 Nov, past or at most half a year
                                           ahead (with a weekday, the year that fits it)
in 2021; in November 2021                  the year; the month                               yes
early / mid / late 2021                    Jan-Apr / May-Aug / Sep-Dec
on 16 Nov 2021, 2021-11-16, 11/16/2021     that day (month first unless the first number
                                           cannot be a month)
between X and Y, from X to Y, 14-20 Nov    X's start to Y's end                              yes [1]_
since X, after X; before X, until X, by X  open ranges                                       yes [2]_
this summer, last winter, summer 2021      meteorological seasons, northern hemisphere
in the 1990s, the '90s; the 19th century   the decade; the century
in recent weeks                            the last 6 weeks (days 7 d, months 6 m, years 5 y)
latest, most recent, current, now, still   no range: ``recency``
=========================================  ================================================  =======

.. [1] Not when the year is guessed and no "between"/"from" says so ("November 14-20").
.. [2] An end bound relative to D ("before this week") is soft: it describes the past of this
   week's news. Bounds after D ("by 2030", "until June" said in April) are ``future``.

Not recognised, by design: bare years ("the 2020 election", "Tokyo 2020": names and event labels,
and good keywords), holidays ("Fourth of July", "May Day": the same words are in the articles),
durations ("four decades", "a 10-month investigation"), events ("before the election").

How to use an intent
--------------------

- ``bounded``: filter publication dates to ``filter_range`` (the question has a clear bound: "in
  2021", "in November 2021", "between X and Y", "since March", "in the past 3 days", "before
  2020"), and rank with ``prior`` inside it. For a period ("in 2021") the filter is open-ended
  after it: news about a period is published from its start on, and goes on after its end ("how
  much was spent in 2019, according to a report released this week"). On realtimeqa-dev a filter
  on the period itself would have excluded the gold article's date for 30 of the 65 bounded
  questions (7 days to decades after the period), the open-ended one for none; the prior still
  prefers the period itself. ``range`` is the strict period, for a caller that wants it. A filter
  that leaves nothing should fall back to the prior rather than answer nothing.
- otherwise, with a ``range``: rank with ``prior`` ("this week", "on Monday", "in March", "last
  year": soft, since news about a period is also published after it, and the year of "in March"
  is a guess).
- ``recency``: prefer newer articles ("latest", "now", or a question about what comes "next
  week": the news about it is the latest). With a range as well, the range decides the prior.
- several phrases whose ranges overlap are intersected ("this week, on Monday"); phrases that
  contradict each other ("spent in 2019, according to a report released this week") are an event
  time and a reporting time, so the phrase resolved against the asking date and nearest to it is
  kept, as a prior only.
- future phrases ("next month", "by 2030", "in 2024" asked in 2023) give no range: publication
  is always before the asking date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from retrieval.errors import InputError
from retrieval.timegrammar import TimeExpression, find_expressions
from retrieval.timeprior import NEUTRAL_PRIOR, date_prior
from retrieval.timeranges import (
    DateRange,
    month_range,
    period_text,
    range_label,
    shift_months,
    shift_years,
    utc_date,
    year_range,
)


@dataclass(frozen=True, slots=True)
class TimeIntent:
    """What a question says about time, resolved against the asking date ``as_of``.

    ``range``: the period the question's time phrases mean together (``None`` without one).
    ``bounded``: a clear bound, so filter (with ``filter_range``); otherwise use ``range`` as a
    prior. ``recency``: the question prefers the newest articles. ``kind``: the phrase behind the
    range, for statistics ("year", "month", "day", "this-week", "since", ..., "recency", "future",
    "none"). ``spans``: every time phrase, ``(start, end)`` into the question, in order.
    ``expressions``: the phrases themselves, with their own ranges. ``filter_range``: set when
    ``bounded``, the publication dates to keep (see "How to use an intent" in the module docstring).
    """

    as_of: date
    range: DateRange | None
    bounded: bool
    recency: bool
    kind: str
    spans: tuple[tuple[int, int], ...]
    expressions: tuple[TimeExpression, ...] = ()
    filter_range: DateRange | None = None

    def without_time(self, question: str, *, keep_literal: bool = False) -> str:
        """``question`` with its time phrases removed and the spacing and punctuation left tidy:
        "What did the Kremlin say this week?" -> "What did the Kremlin say?". Words such as "week"
        are no evidence of a topic. With ``keep_literal``, phrases that name a calendar date or
        period ("in 2019", "on February 24", "the 1990s") stay, since articles about what happened
        then repeat them; only those relative to the asking date go ("this week", "on Monday")."""
        spans = [e.span for e in self.expressions if not e.literal] if keep_literal else list(self.spans)
        if spans and spans[-1][1] > len(question):
            raise ValueError("without_time needs the question this intent was parsed from")
        pieces, last = [], 0
        for start, end in spans:
            pieces.append(question[last:start])
            last = end
        pieces.append(question[last:])
        return _tidy("".join(pieces))

    def prior(self, published: date | None, **kwargs: float) -> float:
        """``date_prior`` of an article's publication date for this question, in [0, 1]."""
        return date_prior(published, self.range, as_of=self.as_of, recency=self.recency, **kwargs)

    def label(self) -> str | None:
        """The answer's note on the range it used ("Articles from 2021"), ``None`` without one."""
        return range_label(self.range) if self.range is not None else None


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:?!])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"[,;:]+(?=[.?!]|$)", "", text)
    text = re.sub(r"^[\s,;:.\-–—]+", "", text)
    text = re.sub(r"\(\s*\)", "", text)
    return text.strip()


def as_of_date(value: date | datetime | None = None) -> date:
    """The asking date: a date as it is, an aware datetime at its UTC date (a Discord message sent
    at 23:30 in New York on 5 Jan is 6 Jan), a naive datetime as it stands, ``None`` today in UTC."""
    if value is None:
        return datetime.now(UTC).date()
    return utc_date(value)


def parse_time(question: str, as_of: date | datetime | None = None) -> TimeIntent:
    """The time intent of ``question`` asked on ``as_of`` (see the module docstring)."""
    day = as_of_date(as_of)
    exprs = tuple(find_expressions(question, day))
    spans = tuple(e.span for e in exprs)
    recency = any(e.kind in ("recency", "recent-period") or (e.future and e.relative) for e in exprs)
    timed = [e for e in exprs if e.range is not None and not e.future]
    if not timed:
        kind = "recency" if any(e.kind == "recency" for e in exprs) else \
            "future" if any(e.future for e in exprs) else "none"
        return TimeIntent(day, None, False, recency, kind, spans, exprs)
    together: DateRange | None = timed[0].range
    for e in timed[1:]:
        assert e.range is not None
        together = together.intersect(e.range) if together is not None else None
    if together is not None:
        narrowest = min(timed, key=lambda e: _width(e.range, day))
        bounds = [_publication_bound(e) for e in timed if e.bounded]
        filt: DateRange | None = None
        if bounds:
            filt = bounds[0]
            for b in bounds[1:]:
                filt = filt.intersect(b) if filt is not None else None
        return TimeIntent(day, together, filt is not None, recency, narrowest.kind, spans, exprs, filt)
    # Contradictory phrases: an event's time and the time it was reported. The reporting time is
    # the one resolved against the asking date, and the latest of those.
    candidates = [e for e in timed if e.relative] or timed
    chosen = max(candidates, key=lambda e: _end(e.range, day))
    return TimeIntent(day, chosen.range, False, recency, chosen.kind, spans, exprs)


def _publication_bound(e: TimeExpression) -> DateRange:
    """The publication dates a bounded phrase allows: its own open bound ("since March", "before
    2020", "the past 3 days"), or for a period ("in 2021", "between X and Y") its start onwards,
    since reporting on a period goes on after it."""
    assert e.range is not None
    if e.kind in ("since", "until", "past-period"):
        return e.range
    return DateRange(e.range.since, None)


def _width(r: DateRange | None, as_of: date) -> int:
    if r is None:
        return 10**9
    since = r.since or date.min
    until = r.until or max(as_of, since)
    return (until - since).days


def _end(r: DateRange | None, as_of: date) -> date:
    return as_of if r is None or r.until is None else min(r.until, as_of)


# -- command-line and API date arguments ----------------------------------------------------------

_ACCEPTED = ("use YYYY-MM-DD, YYYY-MM or YYYY, a count back from the asking date (7d, 2w, 3m, 1y), "
             "or words such as today, yesterday, last week, March 2021")
_AGO_ARG = re.compile(r"(\d{1,4})\s*(d|days?|w|wks?|weeks?|m|mos?|months?|y|yrs?|years?)(?:\s+ago)?", re.I)
_ISO_ARG = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_NAMES = re.compile(r"\b(january|february|march|april|may|june|july|august|september|october|november|"
                    r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", re.I)


def parse_range_arg(text: str, as_of: date | datetime | None = None) -> DateRange:
    """The period an argument such as ``--since``/``--until`` names, relative to ``as_of``.

    Accepts ``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY``; ``7d``/``2w``/``3m``/``1y`` (also ``7 days ago``):
    that day; and any phrase ``parse_time`` reads on its own, whole: "yesterday", "last week",
    "March 2021", "march", "since March", "1 Mar 2022". Bad input raises a one-line ``InputError``
    naming the accepted forms.
    """
    day = as_of_date(as_of)
    raw = " ".join(str(text).split())
    if not raw:
        raise InputError(f"empty date: {_ACCEPTED}")
    m = _ISO_ARG.fullmatch(raw)
    if m:
        y, mo, d = (int(g) if g else None for g in m.groups())
        try:
            if d is not None and mo is not None:
                return DateRange(date(y, mo, d), date(y, mo, d))  # type: ignore[arg-type]
            if mo is not None:
                return month_range(y, mo)  # type: ignore[arg-type]
            return year_range(y)  # type: ignore[arg-type]
        except ValueError:
            raise InputError(f"no such date: {raw!r}: {_ACCEPTED}") from None
    m = _AGO_ARG.fullmatch(raw)
    if m:
        n, unit = int(m.group(1)), m.group(2)[0].lower()
        try:
            back = {"d": lambda: day - timedelta(days=n), "w": lambda: day - timedelta(days=7 * n),
                    "m": lambda: shift_months(day, -n), "y": lambda: shift_years(day, -n)}[unit]()
        except (ValueError, OverflowError):
            raise InputError(f"{raw!r} is too far back: {_ACCEPTED}") from None
        return DateRange(back, back)
    capitalised = _NAMES.sub(lambda x: x.group(1).capitalize(), raw)
    for prefix in ("", "in ", "on "):
        candidate = prefix + capitalised
        exprs = [e for e in find_expressions(candidate, day) if e.range is not None]
        if len(exprs) == 1 and exprs[0].span[0] <= len(prefix) and exprs[0].span[1] == len(candidate):
            r = exprs[0].range
            assert r is not None
            return r
    raise InputError(f"cannot read the date {raw!r}: {_ACCEPTED}")


def parse_date_arg(text: str, as_of: date | datetime | None = None, *, end: bool = False) -> date:
    """The date an argument names: the first day of its period, or the last with ``end=True``
    (``--until 2021`` means up to 31 Dec 2021). See ``parse_range_arg`` for the forms; an open
    period whose wanted side is open ("since March" with ``end=True``) raises ``InputError``."""
    r = parse_range_arg(text, as_of)
    d = r.until if end else r.since
    if d is None:
        side = "end" if end else "start"
        raise InputError(f"{' '.join(str(text).split())!r} has no {side} date: {_ACCEPTED}")
    return d


def range_from_args(since: str | None, until: str | None,
                    as_of: date | datetime | None = None) -> DateRange | None:
    """The range of ``--since SINCE --until UNTIL`` (either may be ``None``); ``None`` when both are.
    ``InputError`` when a date is unreadable or since comes after until."""
    if since is None and until is None:
        return None
    start = parse_date_arg(since, as_of) if since is not None else None
    stop = parse_date_arg(until, as_of, end=True) if until is not None else None
    if start is not None and stop is not None and start > stop:
        raise InputError(f"--since {since} ({start}) is after --until {until} ({stop}): swap them")
    return DateRange(start, stop)


__all__ = [
    "NEUTRAL_PRIOR",
    "DateRange",
    "TimeExpression",
    "TimeIntent",
    "as_of_date",
    "date_prior",
    "parse_date_arg",
    "parse_range_arg",
    "parse_time",
    "period_text",
    "range_from_args",
    "range_label",
]
