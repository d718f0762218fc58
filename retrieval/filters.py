"""Which articles a query may answer from: a date range and sources.

Dates are whole days (an article's ``published`` is a date). An explicit range (``since`` /
``until`` given by the user) drops undated articles, since nothing says they fall inside it;
the asking date alone (``as_of``, which every query has) keeps them: nothing says they were
published after it either.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

if TYPE_CHECKING:
    from .segment import Segment

EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    since: dt.date | None = None  # inclusive
    until: dt.date | None = None  # inclusive
    sources: tuple[str, ...] = ()  # matched case-insensitively against source names and url hosts
    keep_undated: bool = True

    @property
    def is_empty(self) -> bool:
        return self.since is None and self.until is None and not self.sources

    def article_mask(self, seg: Segment) -> np.ndarray:
        """One bool per article of ``seg`` (article number - 1): may it be answered from?"""
        from .segment import NO_DATE

        days = seg.article_days
        ok = np.ones(len(days), bool)
        undated = days == NO_DATE
        if self.since is not None:
            ok &= (days >= (self.since - EPOCH).days) | undated
        if self.until is not None:
            ok &= (days <= (self.until - EPOCH).days) | undated
        if not self.keep_undated and (self.since is not None or self.until is not None):
            ok &= ~undated
        if self.sources:
            want = {s.lower() for s in self.sources}
            names = seg.article_sources()
            ok &= np.fromiter((bool(want & n) for n in names), bool, len(names))
        return ok


def source_names(source: str | None, url: str | None) -> frozenset[str]:
    """The names an article answers to for ``--source``: its source and its url's host, with
    and without ``www.``."""
    names: set[str] = set()
    if source:
        names.add(source.strip().lower())
    if url:
        host = (urlsplit(url).hostname or "").lower()
        if host:
            names.add(host)
            names.add(host.removeprefix("www."))
    return frozenset(names)
