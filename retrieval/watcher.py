"""The watcher: poll every due feed, fetch the entries not seen yet, index them in one commit.

A round polls the feeds whose time has come (each has its own schedule: ``interval`` after a
good poll, doubling backoff after failures), with conditional GET so an unchanged feed costs one
304. Every failure (feed down, slow, malformed, HTML; an entry 404, a PDF, a stub, a redirect
loop, robots.txt) is one line and stays with its feed or entry, to be retried later; it never
stops the other feeds. Feed and entry state is written after the round's commit, so a commit
that fails leaves everything to be fetched again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .errors import CitebotError, FetchError
from .feeds import FEED_TYPES, Entry, parse_feed
from .feedstore import Feed, FeedStore
from .fetch import FetchConfig, Fetcher
from .ingest import Ingestor
from .models import Article
from .pages import fetch_article

if TYPE_CHECKING:
    from .engine import Citebot

log = logging.getLogger("citebot.watch")
PAGE_CONCURRENCY = 8
# A feed's first poll takes at most this many entries (a sitemap may list thousands).
MAX_ENTRIES_PER_POLL = 1000


@dataclass
class FeedPoll:
    feed: Feed
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    fetched: list[tuple[Entry, Article]] = field(default_factory=list)
    failed: list[tuple[Entry, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class RoundReport:
    feeds: int
    new: int
    updated: int
    duplicates: int
    failed: int
    seconds: float

    def line(self) -> str:
        return (f"round: {self.feeds} feeds, new {self.new}, updated {self.updated}, "
                f"duplicates {self.duplicates}, failed {self.failed}, {self.seconds:.1f}s")


class Robots:
    """robots.txt per site, fetched once per round; unreadable or missing means allowed."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self._sites: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def allowed(self, url: str) -> bool:
        p = urlsplit(url)
        site = f"{p.scheme}://{p.netloc}"
        async with self._locks.setdefault(site, asyncio.Lock()):
            if site not in self._sites:
                self._sites[site] = await self._load(site)
        rules = self._sites[site]
        return rules is None or rules.can_fetch(self.fetcher.config.user_agent, url)

    async def _load(self, site: str) -> urllib.robotparser.RobotFileParser | None:
        try:
            r = await self.fetcher.get(f"{site}/robots.txt", accept=("text/",), what="robots.txt")
        except CitebotError:
            return None
        rules = urllib.robotparser.RobotFileParser()
        rules.parse(r.body.decode("utf-8", "replace").splitlines())
        return rules


class Watcher:
    def __init__(self, engine: Citebot, store: FeedStore, config: FetchConfig, *,
                 interval: float = 900.0, robots: bool = True, dedup_threshold: float = 0.7,
                 emit: Callable[[str], None] | None = None) -> None:
        self.engine, self.store, self.config = engine, store, config
        self.interval, self.robots = interval, robots
        self.emit = emit or log.info
        self.ingestor = Ingestor(engine, store, dedup_threshold)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Rounds until ``stop`` is set; sleeps until the next feed is due (at most ``interval``)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            await self.poll_round()
            pending = [f.next_poll for f in self.store.feeds()]
            wait = max(1.0, min([*pending, time.time() + self.interval]) - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    async def poll_round(self, now: float | None = None) -> RoundReport:
        t0 = time.perf_counter()
        now = time.time() if now is None else now
        feeds = self.store.due(now)
        async with Fetcher(self.config) as f:
            robots = Robots(f) if self.robots else None
            pages = asyncio.Semaphore(PAGE_CONCURRENCY)
            polls = await asyncio.gather(*(self._poll(f, feed, now, robots, pages) for feed in feeds))
        fetched = [(e.url, a) for p in polls for e, a in p.fetched]
        outcomes, articles, sigs = await asyncio.to_thread(self.ingestor.decide, fetched)
        try:
            await asyncio.to_thread(self.ingestor.commit, articles, sigs)
        except CitebotError as exc:
            self.emit(f"round: not committed, every entry is fetched again next round: {exc}")
            return RoundReport(len(feeds), 0, 0, 0, sum(len(p.fetched) for p in polls),
                               time.perf_counter() - t0)
        return self._record(polls, outcomes, now, t0)

    def _record(self, polls: list[FeedPoll], outcomes: list, now: float, t0: float) -> RoundReport:
        it = iter(outcomes)
        totals = {"indexed": 0, "updated": 0, "duplicate": 0, "failed": 0}
        for p in polls:
            counts = dict.fromkeys(totals, 0)
            if p.error is not None:
                self.store.feed_failed(p.feed, now, self.interval, p.error)
                self.emit(f"{p.feed.name}: {p.error}")
                counts["failed"] += 1
            else:
                self.store.feed_polled(p.feed, now, self.interval, etag=p.etag,
                                       last_modified=p.last_modified)
            for entry, _art in p.fetched:
                o = next(it)
                counts[o.status if o.status in counts else "indexed"] += o.status != "unchanged"
                self.store.entry_done(p.feed.id, entry.key, entry.url, o.article_id or "", now)
            for entry, error in p.failed:
                self.store.entry_failed(p.feed.id, entry.key, entry.url, error, now, self.interval)
                self.emit(f"{p.feed.name}: {error}")
                counts["failed"] += 1
            self.emit(f"{p.feed.name}: new {counts['indexed']}, updated {counts['updated']}, "
                      f"duplicates {counts['duplicate']}, failed {counts['failed']}, {p.seconds:.1f}s")
            for k in totals:
                totals[k] += counts[k]
        report = RoundReport(len(polls), totals["indexed"], totals["updated"], totals["duplicate"],
                             totals["failed"], time.perf_counter() - t0)
        self.emit(report.line())
        return report

    async def _poll(self, f: Fetcher, feed: Feed, now: float, robots: Robots | None,
                    pages: asyncio.Semaphore) -> FeedPoll:
        t0 = time.perf_counter()
        poll = FeedPoll(feed, feed.etag, feed.last_modified)
        try:
            r = await f.get(feed.url, accept=FEED_TYPES, etag=feed.etag,
                            last_modified=feed.last_modified, what="feed")
            if r.not_modified:
                # Unchanged feed: only the entries that failed before and are due again.
                wanted = [Entry(url, key) for key, url in self.store.retries_due(feed, now)]
            else:
                parsed = parse_feed(r.body, r.content_type, feed.url)
                poll.etag, poll.last_modified = r.etag, r.last_modified
                entries = list({e.key: e for e in parsed.entries}.values())
                todo = self.store.pending(feed, [e.key for e in entries], now)
                wanted = [e for e in entries if e.key in todo][:MAX_ENTRIES_PER_POLL]
        except CitebotError as exc:
            poll.error = str(exc)
            poll.seconds = time.perf_counter() - t0
            return poll

        async def one(e: Entry) -> None:
            async with pages:
                try:
                    if robots is not None and not await robots.allowed(e.url):
                        raise FetchError(f"page {e.url}: robots.txt disallows it "
                                         "(CITEBOT_RESPECT_ROBOTS=0 ignores robots.txt)")
                    poll.fetched.append((e, await fetch_article(f, e.url, e)))
                except CitebotError as exc:
                    poll.failed.append((e, str(exc)))
                except Exception as exc:  # one odd page must not stop its feed's round
                    poll.failed.append((e, f"page {e.url}: {type(exc).__name__}: {exc}"))

        await asyncio.gather(*(one(e) for e in wanted))
        poll.seconds = time.perf_counter() - t0
        return poll
