"""Date ranges: inclusive calendar spans of publication dates, their arithmetic and their labels.

Pure and dependency-free. A ``DateRange`` has inclusive bounds; ``None`` is open on that side.
Labels follow the answer's wording: ``range_label`` gives "Articles from 14-20 Nov 2021",
"Articles from November 2021", "Articles from 2021", "Articles since 1 Mar 2022".
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_MONTH_ABBR = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NAME = ("", "January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")


@dataclass(frozen=True, slots=True)
class DateRange:
    """Publication dates from ``since`` to ``until``, both inclusive; ``None`` leaves that side open."""

    since: date | None
    until: date | None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since > self.until:
            raise ValueError(f"DateRange since {self.since} is after until {self.until}")

    def contains(self, d: date) -> bool:
        return (self.since is None or d >= self.since) and (self.until is None or d <= self.until)

    def days_outside(self, d: date) -> int:
        """0 inside the range, else the number of days from ``d`` to the nearest bound."""
        if self.since is not None and d < self.since:
            return (self.since - d).days
        if self.until is not None and d > self.until:
            return (d - self.until).days
        return 0

    def width_days(self) -> int | None:
        """Number of days covered, ``None`` when open on either side."""
        if self.since is None or self.until is None:
            return None
        return (self.until - self.since).days + 1

    def intersect(self, other: DateRange) -> DateRange | None:
        """The dates in both ranges; ``None`` when they do not meet."""
        since = _max_opt(self.since, other.since)
        until = _min_opt(self.until, other.until)
        if since is not None and until is not None and since > until:
            return None
        return DateRange(since, until)

    def hull(self, other: DateRange) -> DateRange:
        """The smallest range holding both (open if either is open on that side)."""
        since = None if self.since is None or other.since is None else min(self.since, other.since)
        until = None if self.until is None or other.until is None else max(self.until, other.until)
        return DateRange(since, until)

    def clipped(self, until: date) -> DateRange | None:
        """This range with nothing after ``until`` (say, the asking date); ``None`` if all of it is later."""
        return self.intersect(DateRange(None, until))

    def label(self) -> str:
        return range_label(self)


def _max_opt(a: date | None, b: date | None) -> date | None:
    return b if a is None else a if b is None else max(a, b)


def _min_opt(a: date | None, b: date | None) -> date | None:
    return b if a is None else a if b is None else min(a, b)


# -- calendar arithmetic --------------------------------------------------------------------------

def utc_date(value: date | datetime) -> date:
    """The calendar date of ``value``: an aware datetime in UTC, a naive one as it stands, a date itself."""
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() is not None:
            value = value.astimezone(UTC)
        return value.date()
    return value


def day_range(d: date) -> DateRange:
    return DateRange(d, d)


def month_range(year: int, month: int) -> DateRange:
    return DateRange(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))


def year_range(year: int) -> DateRange:
    return DateRange(date(year, 1, 1), date(year, 12, 31))


def add_months(year: int, month: int, n: int) -> tuple[int, int]:
    """(year, month) ``n`` months after (or before, for negative ``n``) the given month."""
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def shift_months(d: date, n: int) -> date:
    """``d`` moved by ``n`` calendar months, the day clamped to the target month (31 Mar - 1 = 28/29 Feb)."""
    y, m = add_months(d.year, d.month, n)
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def shift_years(d: date, n: int) -> date:
    """``d`` moved by ``n`` years; 29 Feb becomes 28 Feb in a common year."""
    y = d.year + n
    return date(y, d.month, min(d.day, calendar.monthrange(y, d.month)[1]))


def last_n_days(as_of: date, n: int) -> DateRange:
    """The ``n`` days up to and including ``as_of``."""
    return DateRange(as_of - timedelta(days=n - 1), as_of)


# -- labels ---------------------------------------------------------------------------------------

def _day(d: date) -> str:
    return f"{d.day} {_MONTH_ABBR[d.month]} {d.year}"


def _is_month_start(d: date) -> bool:
    return d.day == 1


def _is_month_end(d: date) -> bool:
    return d.day == calendar.monthrange(d.year, d.month)[1]


def period_text(r: DateRange) -> str:
    """The range in words: "2021", "2016-2017", "November 2021", "September-November 2021",
    "14-20 Nov 2021", "28 Nov-4 Dec 2021", "16 Nov 2021", "since 1 Mar 2022", "until 31 Dec 2019",
    "any date"."""
    s, u = r.since, r.until
    if s is None and u is None:
        return "any date"
    if u is None:
        assert s is not None
        return f"since {_day(s)}"
    if s is None:
        return f"until {_day(u)}"
    if s == u:
        return _day(s)
    if (s.month, s.day) == (1, 1) and (u.month, u.day) == (12, 31):
        return str(s.year) if s.year == u.year else f"{s.year}-{u.year}"
    if _is_month_start(s) and _is_month_end(u):
        if (s.year, s.month) == (u.year, u.month):
            return f"{_MONTH_NAME[s.month]} {s.year}"
        if s.year == u.year:
            return f"{_MONTH_NAME[s.month]}-{_MONTH_NAME[u.month]} {s.year}"
        return f"{_MONTH_NAME[s.month]} {s.year}-{_MONTH_NAME[u.month]} {u.year}"
    if (s.year, s.month) == (u.year, u.month):
        return f"{s.day}-{u.day} {_MONTH_ABBR[s.month]} {s.year}"
    if s.year == u.year:
        return f"{s.day} {_MONTH_ABBR[s.month]}-{_day(u)}"
    return f"{_day(s)}-{_day(u)}"


def range_label(r: DateRange) -> str:
    """What the answer says about the range it used: "Articles from 14-20 Nov 2021", "Articles from
    2021", "Articles from November 2021", "Articles since 1 Mar 2022", "Articles until 31 Dec 2019"."""
    text = period_text(r)
    if r.since is None and r.until is None:
        return "Articles of any date"
    if r.since is None or r.until is None:
        return f"Articles {text}"
    return f"Articles from {text}"


__all__ = [
    "DateRange",
    "add_months",
    "day_range",
    "last_n_days",
    "month_range",
    "period_text",
    "range_label",
    "shift_months",
    "shift_years",
    "utc_date",
    "year_range",
]


# -- calendar arithmetic for the grammar (timegrammar.py) ------------------------------------

def month_year(month: int, as_of: date, how: str) -> int:
    """The year of the ``month`` meant: "past" the most recent one starting on or before ``as_of``,
    "future" the next one ending on or after it, "last"/"next" strictly before/after this month,
    "this" this calendar year's."""
    y = as_of.year
    if how == "past":
        return y if month <= as_of.month else y - 1
    if how == "future":
        return y if month >= as_of.month else y + 1
    if how == "last":
        return y if month < as_of.month else y - 1
    if how == "next":
        return y if month > as_of.month else y + 1
    return y


MAX_AHEAD_DAYS = 183


def nearest_day(month: int, day: int, as_of: date, weekday: int | None = None) -> date | None:
    """The occurrence of ``day month`` nearest to ``as_of``, past or up to half a year ahead (a
    launch "on December 14" asked on 11 December is three days ahead; "February 29" asked in March
    2023 is 2020's); with a weekday, the nearest year on which that date falls on it ("Monday,
    February 3" asked in January 2020 is 3 Feb 2020)."""
    candidates = []
    for y in range(as_of.year - 8, as_of.year + 2):
        c = safe_date(y, month, day)  # None for 29 Feb in a common year, 31 Apr
        if c is not None and (c - as_of).days <= MAX_AHEAD_DAYS:
            candidates.append(c)
    if not candidates:
        return None
    if weekday is not None:
        matching = [c for c in candidates if c.weekday() == weekday]
        candidates = matching or candidates
    return min(candidates, key=lambda c: (abs((c - as_of).days), c > as_of))


def month_part(r: DateRange, mod: str | None, pos: str | None) -> DateRange:
    """Early/mid/late thirds of a month (1-10, 11-20, 21-end); start/beginning as early, end as late."""
    part = (mod or pos or "").lower().split()[0] if (mod or pos) else ""
    assert r.since is not None and r.until is not None
    s = r.since
    if part in ("early", "start", "beginning"):
        return DateRange(s, s.replace(day=10))
    if part in ("mid", "middle"):
        return DateRange(s.replace(day=11), s.replace(day=20))
    if part in ("late", "end"):
        return DateRange(s.replace(day=21), r.until)
    if part == "first":
        return DateRange(s, s.replace(day=15))
    if part == "second":
        return DateRange(s.replace(day=16), r.until)
    return r


def year_part(year: int, mod: str | None, pos: str | None) -> DateRange:
    """Early/mid/late thirds of a year; start/beginning the first quarter, end the last; halves."""
    part = (mod or pos or "").lower().split()[0] if (mod or pos) else ""
    spans = {"early": (1, 4), "mid": (5, 8), "middle": (5, 8), "late": (9, 12), "start": (1, 3),
             "beginning": (1, 3), "end": (10, 12), "first": (1, 6), "second": (7, 12)}
    if part not in spans:
        return year_range(year)
    a, b = spans[part]
    return DateRange(month_range(year, a).since, month_range(year, b).until)


SEASON_START = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}


def season_range(season: str, year: int) -> DateRange:
    """Meteorological seasons of the northern hemisphere; winter YEAR is December YEAR to February."""
    start = SEASON_START[season]
    ey, em = add_months(year, start, 2)
    return DateRange(date(year, start, 1), month_range(ey, em).until)


def season_occurrence(season: str, as_of: date, how: str) -> DateRange:
    """"this": the season of this year (the winter that has begun or is coming); "last": the most
    recent one already over; "next": the first one not yet begun; "past": the most recent one
    begun; "future": the first one not yet over."""
    years = [season_range(season, y) for y in range(as_of.year - 2, as_of.year + 2)]
    if how == "this":
        y = as_of.year - 1 if season == "winter" and as_of.month <= 2 else as_of.year
        return season_range(season, y)
    if how == "last":
        return [r for r in years if r.until is not None and r.until < as_of][-1]
    if how == "next":
        return next(r for r in years if r.since is not None and r.since > as_of)
    if how == "future":
        return next(r for r in years if r.until is not None and r.until >= as_of)
    return [r for r in years if r.since is not None and r.since <= as_of][-1]


def weekday_date(wd: int, as_of: date, how: str) -> date:
    """"past": the most recent such day, today included; "last": strictly before today; "next":
    strictly after; "future": today or later; "this": the nearest one (three days either way)."""
    back = (as_of.weekday() - wd) % 7
    if how == "past":
        return as_of - timedelta(days=back)
    if how == "last":
        return as_of - timedelta(days=back or 7)
    fwd = (wd - as_of.weekday()) % 7
    if how == "next":
        return as_of + timedelta(days=fwd or 7)
    if how == "future":
        return as_of + timedelta(days=fwd)
    return as_of - timedelta(days=back) if back <= 3 else as_of + timedelta(days=fwd)


def step_back(as_of: date, n: int, unit: str) -> date:
    """``as_of`` moved ``n`` units into the past."""
    if unit == "day":
        return as_of - timedelta(days=n)
    if unit == "week":
        return as_of - timedelta(days=7 * n)
    if unit == "month":
        return shift_months(as_of, -n)
    return shift_years(as_of, -n * (10 if unit == "decade" else 1))


def step_forward(as_of: date, n: int, unit: str) -> date:
    if unit == "day":
        return as_of + timedelta(days=n)
    if unit == "week":
        return as_of + timedelta(days=7 * n)
    if unit == "month":
        return shift_months(as_of, n)
    return shift_years(as_of, n * (10 if unit == "decade" else 1))


def safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def calendar_unit(unit: str, as_of: date, offset: int) -> DateRange:
    """This (0), the last (-1) or the next (1) week, calendar month or calendar year. Weeks are the
    seven days up to the asking date (a news quiz's "this week"), not calendar weeks."""
    if unit == "week":
        end = as_of + timedelta(days=7 * offset)
        return DateRange(end - timedelta(days=6), end)
    if unit == "month":
        y, m = add_months(as_of.year, as_of.month, offset)
        return month_range(y, m)
    return year_range(as_of.year + offset)
