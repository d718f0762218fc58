"""The date prior: how well an article's publication date fits the time a question is about.

``date_prior`` returns a value in [0, 1]; the ranker adds ``weight * (prior - NEUTRAL_PRIOR)`` to a
candidate's score (or multiplies by a floor-capped factor; either way the effect is bounded by the
weight). Undated articles get exactly ``NEUTRAL_PRIOR``, so they neither gain nor lose: an unknown
date is no evidence, and a penalty would drop them from every time-aware answer.

Shape, and why:

- **Inside the range: 1.** Within "this week" or "in 2021" no day is preferred; the text decides.
- **Outside: exponential decay with the distance to the nearest bound**, ``0.5 ** (days / scale)``:
  an article just outside keeps most of its score, one a year away from "this week" (the same
  kind of event in another year, the typical retrieval miss on news-quiz questions) almost none.
- **The scale is the range's own width**, clamped to [``MIN_SCALE_DAYS``, ``MAX_SCALE_DAYS``]: a
  week outside "this week" is far (0.5), a week outside "in 2021" is nothing (0.99). Open ranges
  ("since March") use the width up to the asking date.
- **Slower after the range than before it** (``AFTER_FACTOR`` times the scale). News about a
  period is rarely published before it (previews) but goes on long after it: on realtimeqa-dev,
  of the 65 questions with a clear bound ("in 2019", "in July 2020", "between 2016 and 2017"), 30
  were asked, and their gold article published, after the period had ended, from 7 days to
  decades later ("spent in 2019, according to a report released this week"). ``AFTER_FACTOR`` = 4
  keeps an article published a year after "in 2021" at 0.84 and one a year before it at 0.5.
- **Recency without a range** ("the latest on the strike"): the same decay with the article's age
  at the asking date, half-life ``RECENCY_HALF_LIFE_DAYS``.
- **Published after the asking date: 0.** Callers should not answer with those at all.

Onyx's recency bias (``max(1 / (1 + decay * age_years), 0.75)`` as a score multiplier) is the model
for the bound; it decays with age alone, where here the decay is measured from the question's own
period, so "in 2019" favours 2019 rather than the newest articles. The weight is for the ranker to
tune on the dev set; these defaults set only the shape.
"""

from __future__ import annotations

from datetime import date

from retrieval.timeranges import DateRange

NEUTRAL_PRIOR = 0.5
MIN_SCALE_DAYS = 7.0
MAX_SCALE_DAYS = 365.0
RECENCY_HALF_LIFE_DAYS = 30.0
AFTER_FACTOR = 4.0


def prior_scale(r: DateRange, as_of: date | None = None) -> float:
    """The decay scale, in days, for articles outside ``r``: its width, clamped to
    [MIN_SCALE_DAYS, MAX_SCALE_DAYS]; for an open range, the width up to ``as_of`` (else the maximum)."""
    width = r.width_days()
    if width is None:
        width = (as_of - r.since).days + 1 if r.since is not None and as_of is not None else None
    if width is None:
        return MAX_SCALE_DAYS
    return min(MAX_SCALE_DAYS, max(MIN_SCALE_DAYS, float(width)))


def date_prior(
    published: date | None,
    range: DateRange | None,
    *,
    as_of: date | None = None,
    recency: bool = False,
    scale_days: float | None = None,
    after_factor: float = AFTER_FACTOR,
    recency_half_life_days: float = RECENCY_HALF_LIFE_DAYS,
    neutral: float = NEUTRAL_PRIOR,
) -> float:
    """How well ``published`` fits ``range`` (or, with ``recency`` and no range, how fresh it is at
    ``as_of``), in [0, 1]. See the module docstring for the shape.

    ``published is None`` (undated) gives ``neutral``; so does a question with neither a range nor
    a recency preference, for every article, so the prior then changes no ranking.
    """
    if published is None:
        return neutral
    if as_of is not None and published > as_of:
        return 0.0
    if range is not None:
        days = range.days_outside(published)
        if days == 0:
            return 1.0
        scale = scale_days if scale_days is not None else prior_scale(range, as_of)
        if range.until is not None and published > range.until:
            scale *= after_factor
        return float(0.5 ** (days / scale))
    if recency and as_of is not None:
        return float(0.5 ** ((as_of - published).days / recency_half_life_days))
    return neutral


__all__ = ["AFTER_FACTOR", "MAX_SCALE_DAYS", "MIN_SCALE_DAYS", "NEUTRAL_PRIOR", "RECENCY_HALF_LIFE_DAYS",
           "date_prior", "prior_scale"]
