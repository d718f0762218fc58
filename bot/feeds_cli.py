"""``citebot add``, ``citebot feeds add|list|remove`` and ``citebot watch``."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.errors import InputError

if TYPE_CHECKING:
    from retrieval.fetch import FetchConfig

    from .settings import Settings

EngineFactory = Callable[["Settings", Path | None], Any]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """``"15m"``, ``"10s"``, ``"1h"`` or plain seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not m or float(m.group(1)) * _UNITS[m.group(2) or "s"] < 1:
        raise InputError(f"--interval {text!r} is not a duration; use e.g. 10s, 15m or 1h")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def add_parsers(add: Any) -> None:
    sp = add("add", "fetch web pages, extract their articles and index them")
    sp.add_argument("urls", nargs="+", metavar="URL")
    sp.add_argument("--json", action="store_true")

    sp = add("feeds", "follow RSS, Atom, JSON Feed and news sitemap feeds (polled by `watch`)")
    fsub = sp.add_subparsers(dest="feeds_command", metavar="ACTION", required=True)
    fa = fsub.add_parser("add", help="follow a feed")
    fa.add_argument("url")
    fa.add_argument("--name", help="a short name for listings (default: the url)")
    fl = fsub.add_parser("list", help="the feeds followed, with their state and last error")
    fl.add_argument("--json", action="store_true")
    fr = fsub.add_parser("remove", help="stop following a feed (its articles stay indexed)")
    fr.add_argument("name_or_url")

    sp = add("watch", "poll the feeds and index new entries, one commit per round")
    sp.add_argument("--interval", default=None, help="time between polls of a feed (10s, 15m, 1h; "
                    "default CITEBOT_WATCH_INTERVAL)")
    sp.add_argument("--once", action="store_true", help="one round, then exit")


def fetch_config(settings: Settings) -> FetchConfig:
    from retrieval.fetch import FetchConfig

    return FetchConfig(allow_private=settings.allow_private_urls)


def cmd_add(args: argparse.Namespace, settings: Settings, make_engine: EngineFactory) -> int:
    from retrieval.feedstore import FeedStore
    from retrieval.ingest import add_urls
    from retrieval.urlguard import check_url

    for url in args.urls:  # refuse bad input before loading the model
        check_url(url, settings.allow_private_urls)
    engine = make_engine(settings, args.index)
    store = FeedStore(engine.index_dir)
    outcomes = asyncio.run(add_urls(engine, store, list(args.urls), fetch_config(settings),
                                    settings.dedup_threshold))
    for o in outcomes:
        if args.json:
            print(json.dumps({"url": o.url, "status": o.status, "article_id": o.article_id,
                              "title": o.title, "published": o.published, "passages": o.passages,
                              "detail": o.detail}))
        else:
            print(f"{o.url}: {o.line()}")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def cmd_feeds(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.feedstore import FeedStore
    from retrieval.urlguard import check_url

    store = FeedStore(args.index or settings.index_dir)
    if args.feeds_command == "add":
        feed = store.add_feed(check_url(args.url, settings.allow_private_urls), args.name)
        print(f"following {feed.name} ({feed.url}); `citebot watch` polls it")
    elif args.feeds_command == "remove":
        feed = store.remove_feed(args.name_or_url)
        print(f"stopped following {feed.name}; its articles stay indexed")
    else:
        feeds = store.feeds()
        if args.json:
            print(json.dumps({"feeds": [{"name": f.name, "url": f.url, "status": f.status(),
                                         "entries": f.entries, "last_poll": f.last_poll,
                                         "last_error": f.last_error} for f in feeds]}))
        elif not feeds:
            print("no feeds; add one with `citebot feeds add URL`")
        for f in feeds if not args.json else ():
            line = f"{f.name}  {f.status()}  {f.entries} entries"
            if f.name != f.url:
                line += f"  {f.url}"
            print(line + (f"\n    last error: {f.last_error}" if f.last_error else ""))
    return 0


def make_watcher(settings: Settings, engine: Any, interval: float | None = None,
                 emit: Any = None) -> Any:
    from retrieval.feedstore import FeedStore
    from retrieval.watcher import Watcher

    return Watcher(engine, FeedStore(engine.index_dir), fetch_config(settings),
                   interval=interval or settings.watch_interval, robots=settings.respect_robots,
                   dedup_threshold=settings.dedup_threshold, emit=emit)


def cmd_watch(args: argparse.Namespace, settings: Settings, make_engine: EngineFactory) -> int:
    interval = parse_interval(args.interval) if args.interval else None
    engine = make_engine(settings, args.index)

    def emit(line: str) -> None:
        print(line, flush=True)

    watcher = make_watcher(settings, engine, interval, emit)
    if not watcher.store.feeds():
        print("citebot: no feeds to watch; add one with `citebot feeds add URL`", file=sys.stderr)
        return 2
    if args.once:
        report = asyncio.run(watcher.poll_round())
        return 1 if report.failed else 0
    asyncio.run(watcher.run())
    return 0


def start_watch_thread(settings: Settings, engine: Any) -> Any:
    """The watcher on its own thread and event loop (``citebot discord --watch``): fetching and
    embedding never block the bot's loop, and readers see each commit on their next question."""
    import logging
    import threading

    log = logging.getLogger("citebot.watch")
    watcher = make_watcher(settings, engine, emit=log.info)

    def run() -> None:
        try:
            asyncio.run(watcher.run())
        except Exception as exc:  # the bot keeps answering from what is indexed
            log.error("the feed watcher stopped: %s", exc)

    thread = threading.Thread(target=run, name="citebot-watch", daemon=True)
    thread.start()
    return thread
