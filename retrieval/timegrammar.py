"""The grammar of time phrases in a question: finds them, with their exact spans, and resolves each
against the asking date to a ``DateRange``.

A small hand-written grammar rather than dateparser: on the 2,968 realtimeqa-dev questions
dateparser's ``search_dates`` took a median 1.9 ms per question (p95 8 ms), returned points rather
than periods ("in 2019" came back as 17 Jun 2019) and matched "$25", "we", "in an" and "About 90%
of" as dates; ``benchmarks/time_expressions.py`` has the comparison. The grammar takes tens of
microseconds and never reads a word as a date without a date context:

- a bare year needs a preposition ("in 2021", "since 2019"), so "Tokyo 2020", "the 2020 election",
  "Formula 1", "COVID-19" and "2 million" are not dates;
- a bare month name needs a capital and a preposition or modifier ("in March", "since May",
  "mid-August", "last October"), and is refused before a capitalised word, so "March Madness",
  "May Day", "Theresa May" and "may" the verb are not dates; with a day or a year it is a date
  ("May 4", "may 2021");
- a day and month used attributively ("the January 6 committee", "the September 11 attacks") are
  names of events, not dates; holidays ("Fourth of July") are left to the keyword search, since
  articles use the same words;
- weekdays need a capital and no capitalised neighbour ("Super Tuesday", "Black Friday",
  "Monday Night Football" are names);
- "week", "month", "year" only count with a determiner ("this week", "the past year"), so "The
  Week" magazine and "four-month long" are not periods.

Resolution is relative to the asking date ``as_of`` (a ``date``): see ``parse_time`` in
``retrieval.timeparse`` for the meaning of each phrase. Everything here is private to that module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from retrieval.timeranges import (
    DateRange,
    calendar_unit,
    last_n_days,
    month_part,
    month_range,
    month_year,
    nearest_day,
    safe_date,
    season_occurrence,
    season_range,
    step_back,
    step_forward,
    weekday_date,
    year_part,
)


@dataclass(frozen=True, slots=True)
class TimeExpression:
    """One time phrase of a question.

    ``span`` indexes the question (``question[start:end] == text``). ``range`` is what the phrase
    means, ``None`` for recency words ("latest", "now"). ``bounded``: the phrase on its own is a
    clear bound (a filter). ``relative``: resolved against the asking date ("this week", "in
    March", "on Monday"); absolute phrases name their year ("in 2021", "the 1990s") and may appear
    verbatim in articles. ``future``: the whole range lies after the asking date (plans, schedules:
    "next week", "by 2030"), so it says nothing about when the news was published. ``literal``:
    the words name a calendar date or period ("2021", "March", "16 November", "the 1990s"), which
    articles about it repeat, rather than one relative to the asking date ("this week", "on
    Monday", "last year", "two weeks ago").
    """

    span: tuple[int, int]
    text: str
    kind: str
    range: DateRange | None
    bounded: bool = False
    relative: bool = True
    future: bool = False
    literal: bool = False


# -- vocabulary -----------------------------------------------------------------------------------

_MONTH_NUM = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
    "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}
_WEEKDAY_NUM = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
                "sunday": 6}
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100,
    # Vague counts get a typical value; a prior does not need more.
    "few": 3, "a few": 3, "several": 7, "couple of": 2, "a couple of": 2,
}
# "N units ago" beyond these is history or geology ("600 years ago"), not news.
_MAX_AGO = {"day": 400, "week": 200, "month": 240, "year": 100, "decade": 10}
_MAX_PERIOD = {"day": 3660, "week": 520, "month": 240, "year": 100, "decade": 10}

_DETERMINERS = frozenset({"the", "a", "an", "its", "their", "his", "her", "our", "your", "my", "this",
                          "that", "these", "those", "whose", "initial", "annual"})

_MONTH_FULL = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_MONTH_CAP = rf"(?:{_MONTH_FULL}\b|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)(?:\.|\b))"
_MONTH_CI = rf"(?i:{_MONTH_FULL}\b|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)(?:\.|\b))"
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_YEAR = r"(?<![\d$£€#.,/-])(?:1[6-9]\d\d|20\d\d|21\d\d)(?![\d%]|[.,/]\d|-\d|s\b)"
# A day of the month: not a count ("May 2 million"), not part of another number.
_DAY_CORE = r"(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?"
_DAY_NUM = r"(?<![\w.,/-])" + _DAY_CORE
_DAY_AFTER = (r"(?![\d%]|[.,:/]\d|-|\s*(?i:percent|"
        r"million|billion|trillion|thousand|hundred|per\b|points?\b|people\b|years?\b|months?\b|"
        r"weeks?\b|days?\b|hours?\b|minutes?\b|times\b))")
_DAY = _DAY_NUM + _DAY_AFTER
_MOD = (r"(?:(?P<mod>(?i:early|mid|late))(?:[- ]|\s+in\s+)|(?i:the\s+)?(?P<pos>(?i:start|beginning|end|"
        r"middle|first\s+half|second\s+half))\s+(?i:of)\s+)")
_NUM = (r"(?P<n>\d{1,3}|(?i:a\s+few|a\s+couple\s+of|couple\s+of|an?|one|two|three|four|five|six|seven|"
        r"eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|"
        r"nineteen|twenty|thirty|forty|fifty|sixty|ninety|hundred|few|several))")
_UNIT = r"(?P<unit>(?i:days?|weeks?|months?|years?|decades?))"

# Atoms: one date or period each, with named groups; embedded unnamed in the composite rules.
_ATOMS: dict[str, str] = {
    "iso": (r"(?<![\d/.-])(?P<y>(?:1[6-9]|2[01])\d\d)[-/](?P<m>0?[1-9]|1[0-2])[-/]"
            r"(?P<d>3[01]|[12]\d|0?[1-9])(?![\d/.-])"),
    "us": r"(?<![\d/.-])(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>(?:1[6-9]|2[01])\d\d)(?![\d/.-])",
    "mdy": rf"(?P<m>{_MONTH_CI})\s*(?P<d>{_DAY}),?\s+(?P<y>{_YEAR})",
    "dmy": rf"(?P<d>{_DAY})\s+(?i:of\s+)?(?P<m>{_MONTH_CI}),?\s+(?P<y>{_YEAR})",
    "md": rf"(?P<m>{_MONTH_CAP})\s*(?P<d>{_DAY})",
    "dm": rf"(?P<d>{_DAY})\s+(?i:of\s+)?(?P<m>{_MONTH_CAP})(?!-)",
    "isomonth": r"(?<![\d/.-])(?P<y>(?:1[6-9]|2[01])\d\d)-(?P<m>0[1-9]|1[0-2])(?![\d/.-])",
    "my": rf"{_MOD}?(?P<m>{_MONTH_CI}),?\s+(?i:of\s+)?(?P<y>{_YEAR})",
    "m": (rf"(?:{_MOD}|(?P<rel>(?i:last|this|next))\s+)?(?P<m>{_MONTH_FULL})\b(?!-)"
          r"(?:\s+(?i:of\s+)?(?P<ry>(?i:last|this|next))\s+(?i:year)\b)?"),
    "seasony": r"(?P<s>(?i:spring|summer|fall|autumn|winter))\s+(?i:of\s+)?(?P<y>" + _YEAR + ")",
    "decade": r"(?i:the)\s+(?:(?P<mod>(?i:early|mid|late))[- ])?(?P<dec>(?:1[6-9]|20)\d0|['’‘]\d0)s\b",
    "y": rf"{_MOD}?(?P<y>{_YEAR})",
    "rel": (r"(?P<rel>(?i:last|this|next))\s+(?P<unit>(?i:week|month|year))\b"
            r"|(?P<word>(?i:yesterday|today))\b|(?i:the\s+)?(?i:start|beginning)\s+(?i:of)\s+(?i:the|this)\s+(?P<sunit>(?i:week|month|year))\b"),
    "wd": rf"(?P<wd>{_WEEKDAY})\b",
}
_ATOM_RE = {name: re.compile(p) for name, p in _ATOMS.items()}


def _unnamed(pattern: str) -> str:
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


def _alt(*names: str) -> str:
    return "(?:" + "|".join(_unnamed(_ATOMS[n]) for n in names) + ")"


# Longest alternatives first: the regex engine takes the first that matches.
_ANY_ATOM = _alt("iso", "us", "mdy", "dmy", "my", "isomonth", "seasony", "decade", "md", "dm", "m", "y",
                 "rel", "wd")
_RANGE_ATOM = _alt("iso", "us", "mdy", "dmy", "my", "isomonth", "md", "dm", "m", "y")


@dataclass(frozen=True, slots=True)
class _Atom:
    """A parsed date atom: its range, whether its year was inferred, and its kind."""

    range: DateRange
    kind: str
    relative: bool

    @property
    def literal(self) -> bool:
        return self.kind in ("day", "month", "year", "season", "decade")


# -- calendar helpers -----------------------------------------------------------------------------


def _number(text: str) -> int | None:
    t = " ".join(text.lower().split())
    if t.isdigit():
        return int(t)
    return _NUMBER_WORDS.get(t)


def _unit(text: str) -> str:
    u = text.lower()
    return u[:-1] if u.endswith("s") else u


# -- atoms ----------------------------------------------------------------------------------------

def _month_num(text: str) -> int:
    return _MONTH_NUM[text.lower().rstrip(".")]


def _day_num(text: str) -> int:
    return int(re.match(r"\d+", text).group())  # type: ignore[union-attr]


def _parse_atom(text: str, as_of: date, how: str, *, anchor: DateRange | None = None) -> _Atom | None:
    """The range of one date atom. ``how`` chooses among occurrences when the year is not given
    (see ``month_year``); ``anchor`` is the end of a "between X and Y", which a year-less start
    must precede ("between September and November of last year")."""
    for name, rx in _ATOM_RE.items():
        m = rx.fullmatch(text)
        if m is None:
            continue
        g = m.groupdict()
        if name == "iso":
            d = safe_date(int(g["y"]), int(g["m"]), int(g["d"]))
            return _Atom(DateRange(d, d), "day", False) if d else None
        if name == "us":
            a, b, y = int(g["a"]), int(g["b"]), int(g["y"])
            month, day = (b, a) if a > 12 else (a, b)  # US order unless the first cannot be a month
            d = safe_date(y, month, day)
            return _Atom(DateRange(d, d), "day", False) if d else None
        if name in ("mdy", "dmy"):
            d = safe_date(int(g["y"]), _month_num(g["m"]), _day_num(g["d"]))
            return _Atom(DateRange(d, d), "day", False) if d else None
        if name in ("md", "dm"):
            month, day = _month_num(g["m"]), _day_num(g["d"])
            if anchor is not None and anchor.since is not None:
                d = safe_date(anchor.since.year, month, day)
                if d is not None and d > anchor.since:
                    d = safe_date(anchor.since.year - 1, month, day)
            else:
                d = nearest_day(month, day, as_of)
            return _Atom(DateRange(d, d), "day", True) if d else None
        if name in ("my", "isomonth"):
            r = month_range(int(g["y"]), _month_num(g["m"]) if name == "my" else int(g["m"]))
            return _Atom(month_part(r, g.get("mod"), g.get("pos")), "month", False)
        if name == "m":
            month = _month_num(g["m"])
            if g["ry"]:
                year = as_of.year + {"last": -1, "this": 0, "next": 1}[g["ry"].lower()]
            elif g["rel"]:
                year = month_year(month, as_of, g["rel"].lower())
            elif anchor is not None and anchor.since is not None:
                year = anchor.since.year if month <= anchor.since.month else anchor.since.year - 1
            else:
                year = month_year(month, as_of, how)
            return _Atom(month_part(month_range(year, month), g["mod"], g["pos"]), "month", True)
        if name == "seasony":
            return _Atom(season_range(g["s"].lower(), int(g["y"])), "season", False)
        if name == "decade":
            return _decade_atom(g["dec"], g["mod"], as_of)
        if name == "y":
            return _Atom(year_part(int(g["y"]), g["mod"], g["pos"]), "year", False)
        if name == "rel":
            return _rel_atom(g, as_of)
        if name == "wd":
            d = weekday_date(_WEEKDAY_NUM[g["wd"].lower()], as_of, how if how != "this" else "past")
            return _Atom(DateRange(d, d), "weekday", True)
    return None


def _decade_atom(dec: str, mod: str | None, as_of: date) -> _Atom:
    if dec[0].isdigit():
        start = int(dec)
    else:  # 'the '90s': the most recent such decade that has begun
        start = (as_of.year // 100) * 100 + int(dec[1])  * 10
        if start > as_of.year:
            start -= 100
    part = (mod or "").lower()
    a, b = {"early": (0, 3), "mid": (3, 6), "late": (7, 9)}.get(part, (0, 9))
    return _Atom(DateRange(date(start + a, 1, 1), date(start + b, 12, 31)), "decade", not dec[0].isdigit())


def _rel_atom(g: dict[str, str | None], as_of: date) -> _Atom:
    word = (g.get("word") or "").lower()
    if word == "today":
        return _Atom(DateRange(as_of, as_of), "today", True)
    if word == "yesterday":
        d = as_of - timedelta(days=1)
        return _Atom(DateRange(d, d), "yesterday", True)
    if g.get("sunit"):  # the start of the week/month/year
        r = calendar_unit(str(g["sunit"]).lower(), as_of, 0)
        return _Atom(DateRange(r.since, r.since), "start-of-" + str(g["sunit"]).lower(), True)
    rel, unit = str(g["rel"]).lower(), str(g["unit"]).lower()
    r = calendar_unit(unit, as_of, {"last": -1, "this": 0, "next": 1}[rel])
    return _Atom(r, f"{rel}-{unit}", True)


# -- the question's context ---------------------------------------------------------------------------

_FUTURE_CUE = re.compile(
    r"\b(?:will|won['’]t|shall|going\s+to|set\s+to|is\s+to|are\s+to|scheduled|slated|expected\s+to|"
    r"plans?\s+to|planning|planned\s+to|aims?\s+to|aiming|upcoming|ahead\s+of|due\s+to\s+(?:be|open|"
    r"start|begin|launch|take|close|end|return|arrive|expire|hold)|poised\s+to)\b|\w['’]ll\b",
    re.IGNORECASE)
# Past tense: auxiliaries, common irregular verbs, and lower-case words in -ed.
_PAST_CUE = re.compile(
    r"\b(?:was|were|did|had|made|struck|won|took|said|told|came|went|gave|got|saw|found|held|left|led|"
    r"met|paid|ran|sent|shot|sold|spent|stood|wrote|began|broke|brought|built|bought|caught|chose|"
    r"drew|drove|fell|fought|flew|grew|kept|knew|lost|rose|sank|sat|spoke|stole|threw|wore|[a-z]{2,}ed)\b")
_SENTENCE_END = re.compile(r"[.?!](?=\s|$)")


def _sentence_bounds(text: str, pos: int) -> tuple[int, int]:
    """Start and end of the sentence of ``text`` that holds position ``pos``."""
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() <= pos:
            start = m.end()
        else:
            return start, m.end()
    return start, len(text)


def _future_context(text: str, pos: int) -> bool:
    """Whether the verb of the phrase at ``pos`` speaks of the future ("will", "set to", "is
    scheduled"): then a month or weekday without a year is the coming one ("Liverpool will face
    Real Madrid on Saturday"). The verb is the nearest tense cue before the phrase in its sentence
    ("Cohen was released on Thursday and is expected to..." is past), else the nearest after it
    ("On Sunday, the team will play")."""
    start, end = _sentence_bounds(text, pos)
    cues: dict[int, tuple[int, bool]] = {}
    for m in _PAST_CUE.finditer(text, start, end):
        cues[m.start()] = (m.end(), False)
    for m in _FUTURE_CUE.finditer(text, start, end):  # a future cue wins where both match ("planned to")
        for k in [k for k, (e, _) in cues.items() if k < m.end() and e > m.start()]:
            del cues[k]
        cues[m.start()] = (m.end(), True)
    before = [(s, fut) for s, (e, fut) in cues.items() if e <= pos]
    if before:
        return max(before)[1]
    after = [(s, fut) for s, (e, fut) in cues.items() if s >= pos]
    return min(after)[1] if after else False


def _prev_word(text: str, start: int) -> str:
    m = re.search(r"([\w'’]+)\W*$", text[:start])
    return m.group(1) if m else ""


def _next_word(text: str, end: int) -> str:
    m = re.match(r"\s+([\w'’]+)", text[end:])
    return m.group(1) if m else ""


def _sentence_start(text: str, start: int) -> bool:
    """Whether ``start`` begins a sentence (only quotes or brackets between it and the last stop)."""
    before = text[:start].rstrip(" \t\n\"'“‘(")
    return before == "" or before[-1] in ".?!:"


def _capitalised(word: str) -> bool:
    return bool(word) and word[0].isupper()


# -- rules ----------------------------------------------------------------------------------------
#
# Every rule's pattern begins at a word that only a time phrase would begin with (a month, a
# digit, "this", "ago", ...): patterns with an optional leading preposition are tried at every
# position and cost ten times as much. Prepositions and modifiers before that word are taken by
# ``_left``; rules run only when the question holds one of their gate words.

Rule = Callable[[re.Match[str], str, date], "TimeExpression | None"]


def _phrases(*options: str) -> tuple[str, ...]:
    return tuple(sorted(options, key=len, reverse=True))


def _left(text: str, start: int, options: tuple[str, ...]) -> tuple[str, int]:
    """The longest of ``options`` (lower-case phrases, longest first) written just before
    ``start``, and where it begins; ``("", start)`` when none is. An option ending in "-" joins
    without a space ("mid-August"); the others need white space before ``start``."""
    lo = max(0, start - 40)
    window = text[lo:start].lower()
    stripped = window.rstrip()
    spaced = len(stripped) < len(window)
    for opt in options:
        if opt.endswith("-"):
            if spaced or not window.endswith(opt):
                continue
            k = len(window) - len(opt)
        else:
            if not spaced or not stripped.endswith(opt):
                continue
            k = len(stripped) - len(opt)
        if k > 0 and (window[k - 1].isalnum() or window[k - 1] in "'’-"):
            continue  # "begin March" does not end with "in"
        return opt, lo + k
    return "", start


def _expr(start: int, end: int, text: str, kind: str, r: DateRange | None, as_of: date, *,
          bounded: bool = False, relative: bool = True, literal: bool = False) -> TimeExpression:
    future = r is not None and r.since is not None and r.since > as_of
    return TimeExpression((start, end), text[start:end], kind, r, bounded and not future, relative,
                          future, literal)


_MODS = _phrases("early", "mid", "late", "mid-", "early-", "late-", "the start of", "the beginning of",
                 "the end of", "the middle of", "the first half of", "the second half of", "start of",
                 "beginning of", "end of", "middle of", "first half of", "second half of")


def _mod_words(mod: str) -> tuple[str | None, str | None]:
    """(early/mid/late, start/beginning/end/middle/first half/second half) of a modifier phrase."""
    words = mod.removeprefix("the ").removesuffix(" of").rstrip("-")
    if words in ("early", "mid", "late"):
        return words, None
    return (None, words) if words else (None, None)


def _rule_between(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    b = _parse_atom(m["b"], as_of, "future" if _future_context(text, m.start()) else "past")
    if b is None:
        return None
    a = _parse_atom(m["a"], as_of, "past", anchor=b.range)
    if a is None or a.range.since is None or b.range.until is None or a.range.since > b.range.until:
        return None
    r = DateRange(a.range.since, b.range.until)
    return _expr(m.start(), m.end(), text, "between", r, as_of, bounded=True,
                 relative=a.relative or b.relative, literal=a.literal and b.literal)


def _rule_day_span(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    """"14-20 Nov 2021", "November 14-20", "between 1 and 5 March 2022"."""
    month_text = m["m"] or m["m2"]
    month = _month_num(month_text)
    d1, d2 = _day_num(m["d1"] or m["e1"]), _day_num(m["d2"] or m["e2"])
    year_text = m["y"] or m["y2"]
    if d2 <= d1:
        return None
    if year_text:
        end = safe_date(int(year_text), month, d2)
    elif month_text[0].isupper():
        end = nearest_day(month, d2, as_of)
    else:
        return None
    begin = safe_date(end.year, month, d1) if end else None
    if end is None or begin is None:
        return None
    word, start = _left(text, m.start(), _phrases("between", "from", "on"))
    # "between 1 and 5 March 2022" is a clear bound; "November 14-20" guesses its year.
    explicit = bool(year_text) or word in ("between", "from")
    return _expr(start, m.end(), text, "between", DateRange(begin, end), as_of, bounded=explicit,
                 relative=not year_text, literal=True)


def _rule_years_and(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    a, b = int(m["a"]), int(m["b"])
    if b < a:
        return None
    return _expr(m.start(), m.end(), text, "year", DateRange(date(a, 1, 1), date(b, 12, 31)), as_of,
                 bounded=True, relative=False, literal=True)


_FORWARD_WORDS = {"until", "till", "through", "thru", "by", "starting", "beginning", "up to"}


def _rule_bound(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    word = " ".join(m["w"].lower().split())
    forward = word in _FORWARD_WORDS or _future_context(text, m.start())
    atom = _parse_atom(m["a"], as_of, "future" if forward else "past")
    if atom is None or atom.range.since is None or atom.range.until is None:
        return None
    if word == "as of":
        return _expr(m.start(), m.end(), text, atom.kind, atom.range, as_of, relative=atom.relative,
                     literal=atom.literal)
    since, until = atom.range.since, atom.range.until
    future = since > as_of
    if word in ("since", "starting", "beginning"):
        out, kind = DateRange(since, None), "since"
    elif word == "after":
        out, kind = DateRange(until + timedelta(days=1), None), "since"
        future = until >= as_of
    elif word in ("before", "prior to"):
        out, kind = DateRange(None, since - timedelta(days=1)), "until"
    else:  # until, till, through, by, up to
        out, kind = DateRange(None, until), "until"
    # "Before this week, who held the record?" asks about this week's news: an end bound relative
    # to the asking date describes the past, it does not bound publication.
    bounded = not future and (kind == "since" or not atom.relative)
    return TimeExpression(m.span(), m.group(0), kind, out, bounded, atom.relative, future,
                          literal=atom.literal)


def _attributive(text: str, start: int) -> bool:
    """Whether a determiner or possessive precedes ``start`` ("the January 6 committee")."""
    prev = _prev_word(text, start)
    return prev.lower() in _DETERMINERS or prev.lower().endswith(("'s", "’s"))


_WEEKDAY_LEFT = re.compile(rf"\b(?P<wd>{_WEEKDAY}),?\s+$")
_DAY_PREPS = _phrases("on", "as of", "in", "from", "at", "for")


def _rule_day(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    atom_text = m.group(0)
    name = next((n for n in ("iso", "us", "mdy", "dmy", "md", "dm") if _ATOM_RE[n].fullmatch(atom_text)),
                None)
    if name is None:
        return None
    start = m.start()
    the = ""
    if atom_text[0].isdigit():
        the, start = _left(text, start, ("the",))  # "on the 16th of November"
    wdm = _WEEKDAY_LEFT.search(text, max(0, start - 12), start)
    if wdm:
        start = wdm.start()
    prep, start = _left(text, start, _DAY_PREPS)
    if name in ("md", "dm"):
        determined = bool(the) or _attributive(text, m.start())
        if determined and not prep and not wdm:
            return None  # "the January 6 committee", "its March 31 Opening Day": a name
        nxt = _next_word(text, m.end())
        if determined and nxt.islower() and nxt not in _FUNCTION_WORDS:
            return None  # "at the 4th of July parade"
        g = _ATOM_RE[name].fullmatch(atom_text).groupdict()  # type: ignore[union-attr]
        wd = _WEEKDAY_NUM[wdm["wd"].lower()] if wdm else None
        d = nearest_day(_month_num(g["m"]), _day_num(g["d"]), as_of, wd)
        if d is None:
            return None
        return _expr(start, m.end(), text, "day", DateRange(d, d), as_of, literal=True)
    atom = _parse_atom(atom_text, as_of, "past")
    if atom is None:
        return None
    if the and not prep and not wdm:
        start = m.start()  # "the 16 November 2021 summit": the date, not the article
    return _expr(start, m.end(), text, "day", atom.range, as_of, relative=False, literal=True)


_IN_PREPS = {"in", "during", "throughout"}
_MONTH_PREPS = _phrases("in", "during", "throughout", "around", "at", "for", "from", "in the month of",
                        "during the month of", "for the month of")


def _rule_month_year(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    if m["iy"]:
        year, month = int(m["iy"]), int(m["im"])
    else:
        year, month = int(m["y"]), _month_num(m["m"])
    mod, start = _left(text, m.start(), _MODS)
    prep, start = _left(text, start, _MONTH_PREPS)
    r = month_part(month_range(year, month), *_mod_words(mod))
    attributive = not prep and not mod and _attributive(text, m.start())
    bounded = prep.split()[0] in _IN_PREPS if prep else not attributive
    return _expr(start, m.end(), text, "month", r, as_of, bounded=bounded, relative=False, literal=True)


_BARE_MONTH_PREPS = _phrases("in", "during", "throughout", "around", "at", "in the month of",
                             "during the month of")
_MONTH_REL = _phrases("last", "this", "next", "this past", "this coming")


def _rule_month(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    month = _month_num(m["m"])
    mod, start = _left(text, m.start(), _MODS)
    rel = ""
    if not mod:
        rel, start = _left(text, start, _MONTH_REL)
    prep, start = _left(text, start, _BARE_MONTH_PREPS)
    if not prep and not mod and not rel:
        return None  # "March is Women's History Month": a bare month name is no date
    return _rule_month_tail(m, text, as_of, month, mod, rel, prep, start)


def _rule_month_tail(m: re.Match[str], text: str, as_of: date, month: int, mod: str, rel: str, prep: str,
                     start: int) -> TimeExpression | None:
    nxt = _next_word(text, m.end())
    if nxt and _capitalised(nxt) and not m["ry"]:
        return None  # "March Madness", "May Day", "June Carter"
    if m["ry"]:
        year = as_of.year + {"last": -1, "this": 0, "next": 1}[m["ry"].lower()]
    elif rel:
        year = month_year(month, as_of, {"this past": "last", "this coming": "next"}.get(rel, rel))
    else:
        year = month_year(month, as_of, "future" if _future_context(text, m.start()) else "past")
    r = month_part(month_range(year, month), *_mod_words(mod))
    return _expr(start, m.end(), text, "month", r, as_of, literal=True)


_YEAR_PREPS = _phrases("in", "during", "throughout", "for", "of", "around", "within", "over")
_YEAR_NOUN = _phrases("the year", "the fiscal year", "the calendar year")

# Words that may follow a year used as a time ("in 2019, according to", "of 2021 so far"); any
# other word makes it a label of what follows ("the class of 2020 graduates").
_FUNCTION_WORDS = frozenset({
    "and", "or", "but", "nor", "the", "a", "an", "to", "of", "in", "on", "at", "for", "with", "by",
    "from", "as", "than", "that", "which", "who", "whom", "whose", "when", "where", "while", "after",
    "before", "during", "since", "until", "amid", "despite", "following", "according", "compared",
    "because", "so", "is", "was", "were", "are", "will", "would", "had", "has", "have", "be", "been",
    "could", "can", "may", "might", "should", "if", "alone", "onwards", "onward", "ago", "yet",
})


def _rule_year(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    mod, start = _left(text, m.start(), _MODS)
    noun = ""
    if not mod:
        noun, start = _left(text, start, _YEAR_NOUN)
    prep, start = _left(text, start, _YEAR_PREPS)
    if not (prep or mod or noun):
        return None  # "Tokyo 2020", "the 2020 election": a name or a label
    nxt = _next_word(text, m.end())
    if nxt and nxt.lower() not in _FUNCTION_WORDS and (prep in ("of", "for") or nxt.islower()):
        return None  # "the list of 2020 inductees", "host of 2032 Olympic Games", "in 2020 polls"
    r = year_part(int(m.group(0)), *_mod_words(mod))
    return _expr(start, m.end(), text, "year", r, as_of, bounded=prep in _IN_PREPS, relative=False,
                 literal=True)


_SEASON_NOUNS = frozenset({
    "night", "nights", "sky", "pastime", "blockbuster", "blockbusters", "months", "solstice", "holiday",
    "holidays", "games", "olympics", "season", "storm", "storms", "weather", "fair", "fairs", "vacation",
    "break", "camp", "school", "time", "festival", "statement", "transfer", "window", "collection",
    "term", "semester", "palace", "wheat", "squash", "sale", "sales", "tour", "event", "league",
})
_SEASON_MODS = _phrases("this past", "this coming", "last", "this", "next", "the", "early", "late", "mid-",
                        "mid", "early-", "late-")
_SEASON_PREPS = _phrases("in", "during", "throughout", "over", "for", "by", "until", "through")


def _rule_season(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    season = m["s"].lower()
    mod, start = _left(text, m.start(), _SEASON_MODS)
    prep, start = _left(text, start, _SEASON_PREPS)
    if m["y"]:
        return _expr(start, m.end(), text, "season", season_range(season, int(m["y"])), as_of,
                     relative=False, literal=True)
    if not mod or (mod == "the" and not prep):
        return None  # "summer blockbuster", "the summer": no period named
    nxt = _next_word(text, m.end())
    if not m["poss"] and (nxt.lower() in _SEASON_NOUNS or _capitalised(nxt) or nxt.lower() == "of"):
        return None  # "the summer night sky", "Spring Statement", "the fall of Kabul"
    how = {"this": "this", "last": "last", "this past": "last", "next": "next",
           "this coming": "next"}.get(mod)
    if how is None:
        how = "future" if _future_context(text, m.start()) else "past"
    return _expr(start, m.end(), text, "season", season_occurrence(season, as_of, how), as_of)


_DECADE_MODS = _phrases("early", "mid", "late", "mid-", "early-", "late-")
_DECADE_PREPS = _phrases("in", "during", "throughout", "since", "from", "of", "by")


def _rule_decade(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    mod, start = _left(text, m.start(), _DECADE_MODS)
    the, start = _left(text, start, ("the",))
    if not the:
        return None  # "a 1990s sitcom": a label
    prep, start = _left(text, start, _DECADE_PREPS)
    atom = _decade_atom(m["dec"], mod.rstrip("-") or None, as_of)
    if prep == "since":
        return _expr(start, m.end(), text, "since", DateRange(atom.range.since, None), as_of, bounded=True,
                     relative=atom.relative, literal=True)
    return _expr(start, m.end(), text, "decade", atom.range, as_of, relative=atom.relative, literal=True)


_CENTURY_PREPS = _phrases("in", "during", "since", "of", "by")


def _rule_century(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    which = (m["which"] or "").lower()
    _, start = _left(text, m.start(), _DECADE_MODS)
    the, start = _left(text, start, ("the",))
    if which:
        c = (as_of.year - 1) // 100 + 1 - (1 if which in ("last", "past", "previous") else 0)
    elif the:
        c = int(m["c"])
    else:
        return None
    if not 0 < c < 31:
        return None
    _, start = _left(text, start, _CENTURY_PREPS)
    r = DateRange(date((c - 1) * 100 + 1, 1, 1), date(c * 100, 12, 31))
    return _expr(start, m.end(), text, "century", r, as_of, relative=bool(which), literal=not which)


def _is_title(m: re.Match[str], unit: str) -> bool:
    """"This Week", "The Week": a capitalised unit word names a title, unless all is in capitals."""
    return unit[0].isupper() and not m.group(0).isupper()


def _rule_this_unit(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    if _is_title(m, m["unit"]):
        return None
    unit = m["unit"].lower()
    pre, start = _left(text, m.start(), ("earlier", "later", "early", "late"))
    if unit == "decade":
        first_year = as_of.year // 10 * 10
        r = DateRange(date(first_year, 1, 1), date(first_year + 9, 12, 31))
        return _expr(start, m.end(), text, "this-decade", r, as_of)
    r = calendar_unit(unit, as_of, 0)
    assert r.since is not None and r.until is not None
    first, last = r.since, r.until
    if pre == "earlier":
        r = DateRange(first, max(first, as_of - timedelta(days=1)))
        return _expr(start, m.end(), text, f"earlier-this-{unit}", r, as_of)
    if pre in ("early", "late"):  # thirds: of the seven days, of the calendar month or year
        if unit == "week":
            r = DateRange(first, first + timedelta(days=2)) if pre == "early" else \
                DateRange(last - timedelta(days=2), last)
        elif unit == "month":
            r = month_part(r, pre, None)
        else:
            r = year_part(first.year, pre, None)
        return _expr(start, m.end(), text, f"{pre}-this-{unit}", r, as_of)
    if pre == "later":
        if unit == "week":
            r = DateRange(as_of + timedelta(days=1), as_of + timedelta(days=6))
        else:
            r = DateRange(min(last, as_of + timedelta(days=1)), last)
        return _expr(start, m.end(), text, f"later-this-{unit}", r, as_of)
    return _expr(start, m.end(), text, f"this-{unit}", r, as_of)


def _rule_this_past_week(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    return _expr(m.start(), m.end(), text, "this-week", calendar_unit("week", as_of, 0), as_of)


_PERIOD_PREPS = _phrases("in", "over", "during", "within", "for", "throughout")


def _rule_last_unit(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    if _is_title(m, m["unit"]):
        return None
    if _next_word(text, m.end()).lower() == "of":
        return None  # "the last week of the campaign"
    unit = m["unit"].lower()
    the, start = _left(text, m.start(), ("the",))
    if the or m["which"].lower() == "past":  # "the past week", "the last year": the period up to now
        _, start = _left(text, start, _PERIOD_PREPS)
        return _past_period(start, m.end(), text, as_of, 1, unit)
    if unit == "decade":
        first_year = as_of.year // 10 * 10 - 10
        r = DateRange(date(first_year, 1, 1), date(first_year + 9, 12, 31))
        return _expr(m.start(), m.end(), text, "last-decade", r, as_of)
    _, start = _left(text, m.start(), ("in", "over", "during"))
    return _expr(start, m.end(), text, f"last-{unit}", calendar_unit(unit, as_of, -1), as_of)


def _past_period(start: int, end: int, text: str, as_of: date, n: int, unit: str) -> TimeExpression | None:
    if n < 1 or n > _MAX_PERIOD[unit]:
        return None
    r = DateRange(step_back(as_of, n, unit) + timedelta(days=1), as_of)
    return _expr(start, end, text, "past-period", r, as_of, bounded=True)


def _rule_past_n(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    if _next_word(text, m.end()).lower() == "of":
        return None  # "the last three weeks of the season"
    the, start = _left(text, m.start(), ("the",))
    n = _number(m["n"])
    if not the or n is None:
        return None
    _, start = _left(text, start, _PERIOD_PREPS)
    return _past_period(start, m.end(), text, as_of, n, _unit(m["unit"]))


def _rule_next_unit(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    if _is_title(m, m["unit"]):
        return None
    _, start = _left(text, m.start(), ("the",))
    _, start = _left(text, start, _phrases("in", "over", "during", "within", "for"))
    unit = m["unit"].lower()
    if m["n"] or unit.endswith("s"):
        n = _number(m["n"]) if m["n"] else 3  # "in the coming weeks": a few
        unit = _unit(unit)
        if n is None or n > _MAX_PERIOD[unit]:
            return None
        r = DateRange(as_of + timedelta(days=1), step_forward(as_of, n, unit))
        return _expr(start, m.end(), text, "next-period", r, as_of)
    if unit == "decade":
        first_year = as_of.year // 10 * 10 + 10
        r = DateRange(date(first_year, 1, 1), date(first_year + 9, 12, 31))
        return _expr(start, m.end(), text, "next-decade", r, as_of)
    if unit == "week":  # the seven days after the asking date, mirroring "this week"
        r = DateRange(as_of + timedelta(days=1), as_of + timedelta(days=7))
        return _expr(start, m.end(), text, "next-week", r, as_of)
    return _expr(start, m.end(), text, f"next-{unit}", calendar_unit(unit, as_of, 1), as_of)


_AGO_LEFT = re.compile(rf"(?<![\d,.])\b{_NUM}\s+{_UNIT}\s+$")


def _rule_ago(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    left = _AGO_LEFT.search(text, max(0, m.start() - 32), m.start())
    if left is None:
        return None
    n = _number(left["n"])
    unit = _unit(left["unit"])
    if n is None or n < 1 or n > _MAX_AGO[unit]:
        return None
    centre = step_back(as_of, n, unit)
    if unit == "day":
        r = DateRange(centre, centre)
    else:  # a window of one unit around the point: "two weeks ago" is about 11-17 days back
        half = {"week": 3, "month": 15, "year": 182, "decade": 1826}[unit]
        r = DateRange(centre - timedelta(days=half), min(as_of, centre + timedelta(days=half)))
    return _expr(left.start(), m.end(), text, "ago", r, as_of)


def _rule_day_word(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    word = " ".join(m["w"].lower().split())
    start, end = m.span()
    if word == "today" and m.group(0)[-2:] in ("'s", "’s") and _next_word(text, end).islower():
        return TimeExpression((start, end), m.group(0), "recency", None)  # "today's teens": nowadays
    if word in ("today", "tonight", "this morning", "this afternoon", "this evening"):
        return _expr(start, end, text, "today", DateRange(as_of, as_of), as_of)
    if word == "tomorrow":
        d = as_of + timedelta(days=1)
        return _expr(start, end, text, "tomorrow", DateRange(d, d), as_of)
    if word == "the day before yesterday":
        d = as_of - timedelta(days=2)
        return _expr(start, end, text, "day", DateRange(d, d), as_of)
    if word == "last night":  # reported the same night or the next morning
        return _expr(start, end, text, "yesterday", DateRange(as_of - timedelta(days=1), as_of), as_of)
    d = as_of - timedelta(days=1)
    return _expr(start, end, text, "yesterday", DateRange(d, d), as_of)


_WEEKEND_MODS = _phrases("this past", "the past", "over the", "during the", "at the", "this", "last", "next")


def _rule_weekend(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    mod, start = _left(text, m.start(), _WEEKEND_MODS)
    if not mod:
        return None  # "the film's opening weekend", "Memorial Day weekend"
    wd = as_of.weekday()
    if mod == "this":  # the weekend of this Monday-to-Sunday week: coming on weekdays
        sat = as_of + timedelta(days=5 - wd) if wd < 5 else as_of - timedelta(days=wd - 5)
        return _expr(start, m.end(), text, "this-weekend", DateRange(sat, sat + timedelta(days=1)), as_of)
    if mod == "next":
        sat = as_of + timedelta(days=(5 - wd) % 7 + (7 if wd < 5 else 0) or 7)
        return _expr(start, m.end(), text, "next-weekend", DateRange(sat, sat + timedelta(days=1)), as_of)
    # last / this past / over the / the past: the latest weekend already over
    sun = as_of - timedelta(days=(wd - 6) % 7 or 7)
    return _expr(start, m.end(), text, "last-weekend", DateRange(sun - timedelta(days=1), sun), as_of)


# Words that make a weekday a name: "Super Tuesday", "Black Friday", "Easter Sunday".
_WEEKDAY_NAMES = frozenset({"super", "black", "cyber", "easter", "good", "ash", "giving", "palm", "bloody",
                            "holy", "maundy", "shrove", "fat", "mad", "blue", "manic", "red", "travel",
                            "freaky", "fan", "plough", "clean", "spy", "whit", "low", "rose", "mothering"})
_WEEKDAY_MODS = _phrases("this past", "this coming", "last", "this", "next", "coming", "early", "late")


def _rule_weekday(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    mod, start = _left(text, m.start(), _WEEKDAY_MODS)
    prep, start = _left(text, start, ("on", "as of"))
    if not (prep or mod) and _prev_word(text, m.start()).lower() in _WEEKDAY_NAMES:
        return None  # "Super Tuesday", "Black Friday", "Easter Sunday"
    nxt = _next_word(text, m.end())
    if nxt and _capitalised(nxt) and not m["poss"]:
        return None  # "Monday Night Football", "Sunday Times"
    how = {"last": "last", "this past": "last", "next": "next", "this coming": "next", "coming": "next",
           "this": "this"}.get(mod)
    if how is None:
        how = "future" if _future_context(text, m.start()) else "past"
    d = weekday_date(_WEEKDAY_NUM[m["wd"].lower()], as_of, how)
    return _expr(start, m.end(), text, "weekday", DateRange(d, d), as_of)


_RECENT_SPAN = {"days": 7, "weeks": 42, "months": 182, "years": 1826}


def _rule_recent_period(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    _, start = _left(text, m.start(), ("in", "over", "during"))
    r = last_n_days(as_of, _RECENT_SPAN[m["unit"].lower()])
    return _expr(start, m.end(), text, "recent-period", r, as_of)


def _rule_recency(m: re.Match[str], text: str, as_of: date) -> TimeExpression | None:
    word = m.group(0)
    if _capitalised(word) and not word.isupper() and not _sentence_start(text, m.start()):
        return None  # "Current Biology", "Latest Deals": names
    if re.match(r"-\w", text[m.end():]):
        return None  # "now-infamous", "current-generation": part of a compound
    return TimeExpression(m.span(), word, "recency", None)


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str]
    apply: Rule
    words: frozenset[str] | None  # the rule runs when the question has one of these words
    digit: bool = False  # ... and a digit


def _words(*groups: Iterable[str]) -> frozenset[str]:
    return frozenset(w for g in groups for w in g)


_MONTH_WORDS = frozenset(_MONTH_NUM)
_FULL_MONTH_WORDS = frozenset(k for k in _MONTH_NUM if len(k) > 4 or k in ("may", "june", "july"))
_WEEKDAY_WORDS = frozenset(_WEEKDAY_NUM)
_DAY_SEP = r"(?:[-–]|(?i:to|and|until|till|through|thru)\b)"
_DAY_ATOMS = _alt("iso", "us", "mdy", "dmy", "md", "dm")


def _at_word(pattern: str) -> re.Pattern[str]:
    """``pattern``, tried only where a word starts with a digit or a month's initial: without this
    quick test the regex engine works through every alternative at every position (5-9x slower)."""
    return re.compile(r"\b(?=[\dJjFfMmAaSsOoNnDd])(?:" + pattern + ")")


_RULES: tuple[_Rule, ...] = (
    _Rule(re.compile(rf"\b(?i:between|from)\s+(?:(?i:the)\s+)?(?P<a>{_RANGE_ATOM})\s*(?:(?i:and|to|through|"
                     rf"thru|until|till)|[-–])\s*(?:(?i:the)\s+)?(?P<b>{_RANGE_ATOM})"),
          _rule_between, frozenset({"between", "from"})),
    _Rule(re.compile(rf"(?P<a>{_MONTH_FULL})\s+(?:to|through|[-–])\s+(?P<b>{_unnamed(_ATOMS['my'])})"),
          _rule_between, _FULL_MONTH_WORDS, digit=True),
    _Rule(_at_word(rf"(?P<d1>{_DAY_NUM})\s*{_DAY_SEP}\s*(?P<d2>{_DAY_CORE}{_DAY_AFTER})\s+(?i:of\s+)?"
                     rf"(?P<m>{_MONTH_CI})(?:,?\s+(?P<y>{_YEAR}))?|(?P<m2>{_MONTH_CI})\s*(?P<e1>{_DAY_NUM})\s*"
                     rf"{_DAY_SEP}\s*(?P<e2>{_DAY_CORE}{_DAY_AFTER})(?:,?\s+(?P<y2>{_YEAR}))?"),
          _rule_day_span, _MONTH_WORDS, digit=True),
    _Rule(re.compile(rf"\b(?i:in|during)\s+(?P<a>{_YEAR})\s*(?:,|and|or|&)\s*(?P<b>{_YEAR})"),
          _rule_years_and, frozenset({"in", "during"}), digit=True),
    _Rule(re.compile(rf"\b(?P<w>(?i:since|after|before|until|till|through|thru|by|as\s+of|starting|beginning|"
                     rf"up\s+to|prior\s+to))\s+(?P<a>{_ANY_ATOM})"),
          _rule_bound, frozenset({"since", "after", "before", "until", "till", "through", "thru", "by", "as",
                                  "starting", "beginning", "up", "prior"})),
    _Rule(_at_word(_DAY_ATOMS), _rule_day, None, digit=True),
    _Rule(_at_word(rf"(?P<m>{_MONTH_CI}),?\s+(?i:of\s+)?(?P<y>{_YEAR})"
                     r"|(?<![\d/.-])(?P<iy>(?:1[6-9]|2[01])\d\d)-(?P<im>0[1-9]|1[0-2])(?![\d/.-])"),
          _rule_month_year, None, digit=True),
    _Rule(re.compile(rf"(?P<m>{_MONTH_FULL})\b(?!-)(?:\s+(?i:of\s+)?(?P<ry>(?i:last|this|next))\s+(?i:year)\b)?"),
          _rule_month, _FULL_MONTH_WORDS),
    _Rule(_at_word(_YEAR), _rule_year, None, digit=True),
    _Rule(re.compile(rf"(?P<s>(?i:spring|summer|fall|autumn|winter))\b(?P<poss>['’]s\b)?"
                     rf"(?:\s+(?i:of\s+)?(?P<y>{_YEAR}))?"),
          _rule_season, frozenset({"spring", "summer", "fall", "autumn", "winter"})),
    _Rule(re.compile(r"(?P<dec>(?:1[6-9]|20)\d0|['’‘]\d0)s\b"), _rule_decade, None, digit=True),
    _Rule(re.compile(r"(?:(?P<c>\d{1,2})(?:st|nd|rd|th)|\b(?P<which>(?i:this|last|past|previous)))[- ]"
                     r"(?i:century)\b"), _rule_century, frozenset({"century"})),
    _Rule(re.compile(r"\b(?i:this)\s+(?P<unit>(?i:week|month|year|decade))\b(?:['’]s\b|s\b)?"),
          _rule_this_unit, frozenset({"this"})),
    _Rule(re.compile(r"\b(?i:this\s+past\s+week)\b(?:['’]s\b)?"), _rule_this_past_week, frozenset({"past"})),
    _Rule(re.compile(r"\b(?P<which>(?i:last|past|previous))\s+(?P<unit>(?i:week|month|year|decade))\b"
                     r"(?:['’]s\b)?"), _rule_last_unit, frozenset({"last", "past", "previous"})),
    _Rule(re.compile(rf"\b(?i:past|last|previous)\s+{_NUM}\s+{_UNIT}\b"), _rule_past_n,
          frozenset({"last", "past", "previous"})),
    _Rule(re.compile(rf"\b(?i:next|coming)\s+(?:{_NUM}\s+)?(?P<unit>(?i:weeks?|months?|years?|decades?))\b"
                     r"(?:['’]s\b)?"), _rule_next_unit, frozenset({"next", "coming"})),
    _Rule(re.compile(r"\b(?i:ago)\b"), _rule_ago, frozenset({"ago"})),
    _Rule(re.compile(r"\b(?P<w>(?i:the\s+day\s+before\s+yesterday|yesterday|today|tonight|tomorrow|"
                     r"last\s+night|this\s+(?:morning|afternoon|evening)))\b(?:['’]s\b)?"),
          _rule_day_word, frozenset({"yesterday", "today", "tonight", "tomorrow", "night", "morning",
                                     "afternoon", "evening"})),
    _Rule(re.compile(r"\b(?i:weekend)\b(?:['’]s\b)?"), _rule_weekend, frozenset({"weekend"})),
    _Rule(re.compile(rf"(?P<wd>{_WEEKDAY})(?!s\b)(?:\s+(?i:night|morning|afternoon|evening)\b)?"
                     r"(?P<poss>['’]s\b)?"), _rule_weekday, _WEEKDAY_WORDS),
    _Rule(re.compile(r"\b(?i:recent)\s+(?P<unit>(?i:days|weeks|months|years))\b"), _rule_recent_period,
          frozenset({"recent"})),
    _Rule(re.compile(r"\b(?i:most\s+recent(?:ly)?|recent(?:ly)?|latest|newest|current(?:ly)?|right\s+now|"
                     r"nowadays|now|these\s+days|still|so\s+far|to\s+date|up\s+to\s+date|ongoing)\b"),
          _rule_recency, frozenset({"recent", "recently", "latest", "newest", "current", "currently", "now",
                                    "nowadays", "days", "still", "far", "date", "ongoing"})),
)
_TOKEN = re.compile(r"[a-z]+|\d")


def find_expressions(text: str, as_of: date) -> list[TimeExpression]:
    """Every time phrase of ``text``, the longest where two overlap, in text order."""
    tokens = set(_TOKEN.findall(text.lower()))
    has_digit = any(t.isdigit() for t in tokens)
    found: list[tuple[int, int, TimeExpression]] = []
    for order, rule in enumerate(_RULES):
        if (rule.digit and not has_digit) or (rule.words is not None and rule.words.isdisjoint(tokens)):
            continue
        for m in rule.pattern.finditer(text):
            expr = rule.apply(m, text, as_of)
            if expr is not None:
                found.append((expr.span[0] - expr.span[1], order, expr))
    found.sort(key=lambda t: (t[0], t[1], t[2].span[0]))
    chosen: list[TimeExpression] = []
    for _, _, expr in found:
        s, e = expr.span
        if all(e <= c.span[0] or s >= c.span[1] for c in chosen):
            chosen.append(expr)
    return sorted(chosen, key=lambda x: x.span)


__all__ = ["TimeExpression", "find_expressions"]
