"""Feeds, the entries seen in them, url aliases and duplicate fingerprints, in state.sqlite.

Kept beside the index (``state.py``) so the CLI and a bot's watcher share them. Entries are
marked seen only after the commit that indexed them (``Watcher``): a crash between the two
fetches them again, never loses them. A failed entry is kept with its error and retried with
backoff, like a failing feed.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError, NotFoundError
from .state import open_state

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL UNIQUE,
    added REAL NOT NULL,
    etag TEXT, last_modified TEXT,
    last_poll REAL, last_ok REAL,
    next_poll REAL NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    failing_since REAL,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS feed_entries (
    feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    url TEXT NOT NULL,
    article_id TEXT,
    ok INTEGER NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    seen REAL NOT NULL,
    PRIMARY KEY (feed_id, key)
);
CREATE TABLE IF NOT EXISTS url_aliases (
    url TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    similarity REAL NOT NULL,
    added REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS fingerprints (
    article_id TEXT PRIMARY KEY,
    sig BLOB NOT NULL
);
"""

# A feed failing for this long is shown as "failing" (before that: "retrying").
FAILING_AFTER_S = 86_400.0
MAX_BACKOFF_S = 86_400.0


def backoff(interval: float, failures: int) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: doubling, at most a day."""
    return min(interval * 2 ** max(failures - 1, 0), MAX_BACKOFF_S)


@dataclass(frozen=True, slots=True)
class Feed:
    id: int
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    last_poll: float | None
    last_ok: float | None
    next_poll: float
    failures: int
    failing_since: float | None
    last_error: str | None
    entries: int = 0

    def status(self, now: float | None = None) -> str:
        if not self.failures:
            return "ok" if self.last_ok else "new"
        since = self.failing_since or time.time()
        return "failing" if (now or time.time()) - since >= FAILING_AFTER_S else "retrying"


_FEED_COLS = ("id, name, url, etag, last_modified, last_poll, last_ok, next_poll, failures, "
              "failing_since, last_error")


class FeedStore:
    def __init__(self, index_dir: str | Path) -> None:
        self.conn = open_state(index_dir, SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # -- feeds ------------------------------------------------------------------------------
    def add_feed(self, url: str, name: str | None = None) -> Feed:
        name = (name or url).strip()
        if not name:
            raise InputError("a feed name cannot be empty; leave --name out to use the url")
        try:
            self.conn.execute("INSERT INTO feeds(name, url, added) VALUES (?, ?, ?)",
                              (name, url, time.time()))
        except sqlite3.IntegrityError:
            other = self.find(url) or self.find(name)
            shown = other.name if other else name
            raise InputError(f"a feed with that url or name is already followed ({shown}); "
                             "`citebot feeds list` shows them") from None
        found = self.find(url)
        assert found is not None
        return found

    def find(self, name_or_url: str) -> Feed | None:
        row = self.conn.execute(f"SELECT {_FEED_COLS} FROM feeds WHERE name = ? OR url = ?",
                                (name_or_url, name_or_url)).fetchone()
        return Feed(*row) if row else None

    def remove_feed(self, name_or_url: str) -> Feed:
        feed = self.find(name_or_url)
        if feed is None:
            raise NotFoundError(f"no feed named {name_or_url!r}; `citebot feeds list` shows them")
        self.conn.execute("DELETE FROM feeds WHERE id = ?", (feed.id,))
        return feed

    def feeds(self) -> list[Feed]:
        rows = self.conn.execute(
            f"SELECT {_FEED_COLS}, (SELECT count(*) FROM feed_entries e WHERE e.feed_id = f.id"
            " AND e.ok) FROM feeds f ORDER BY name").fetchall()
        return [Feed(*r) for r in rows]

    def due(self, now: float) -> list[Feed]:
        return [f for f in self.feeds() if f.next_poll <= now]

    def feed_polled(self, feed: Feed, now: float, interval: float, *, etag: str | None,
                    last_modified: str | None) -> None:
        self.conn.execute(
            "UPDATE feeds SET etag = ?, last_modified = ?, last_poll = ?, last_ok = ?, next_poll = ?,"
            " failures = 0, failing_since = NULL, last_error = NULL WHERE id = ?",
            (etag, last_modified, now, now, now + interval, feed.id))

    def feed_failed(self, feed: Feed, now: float, interval: float, error: str) -> None:
        n = feed.failures + 1
        self.conn.execute(
            "UPDATE feeds SET last_poll = ?, next_poll = ?, failures = ?, last_error = ?,"
            " failing_since = coalesce(failing_since, ?) WHERE id = ?",
            (now, now + backoff(interval, n), n, error, now, feed.id))

    # -- entries ----------------------------------------------------------------------------
    def pending(self, feed: Feed, keys: list[str], now: float) -> set[str]:
        """Which of ``keys`` to fetch now: never seen, or failed and due for a retry."""
        done: set[str] = set()
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            marks = ",".join("?" * len(part))
            done.update(k for (k,) in self.conn.execute(
                f"SELECT key FROM feed_entries WHERE feed_id = ? AND key IN ({marks})"
                " AND (ok OR next_try > ?)", (feed.id, *part, now)))
        return {k for k in keys if k not in done}

    def retries_due(self, feed: Feed, now: float) -> list[tuple[str, str]]:
        """(key, url) of the feed's failed entries whose backoff is over."""
        return list(self.conn.execute(
            "SELECT key, url FROM feed_entries WHERE feed_id = ? AND NOT ok AND next_try <= ?",
            (feed.id, now)))

    def entry_done(self, feed_id: int, key: str, url: str, article_id: str, now: float) -> None:
        self.conn.execute(
            "INSERT INTO feed_entries(feed_id, key, url, article_id, ok, seen) VALUES (?,?,?,?,1,?)"
            " ON CONFLICT(feed_id, key) DO UPDATE SET ok = 1, article_id = excluded.article_id,"
            " last_error = NULL", (feed_id, key, url, article_id, now))

    def entry_failed(self, feed_id: int, key: str, url: str, error: str, now: float,
                     interval: float) -> None:
        row = self.conn.execute("SELECT failures FROM feed_entries WHERE feed_id = ? AND key = ?",
                                (feed_id, key)).fetchone()
        n = (row[0] if row else 0) + 1
        self.conn.execute(
            "INSERT INTO feed_entries(feed_id, key, url, ok, failures, next_try, last_error, seen)"
            " VALUES (?,?,?,0,?,?,?,?) ON CONFLICT(feed_id, key) DO UPDATE SET failures ="
            " excluded.failures, next_try = excluded.next_try, last_error = excluded.last_error",
            (feed_id, key, url, n, now + backoff(interval, n), error, now))

    # -- aliases and fingerprints -----------------------------------------------------------
    def add_alias(self, url: str, article_id: str, similarity: float) -> None:
        self.conn.execute("INSERT OR REPLACE INTO url_aliases VALUES (?, ?, ?, ?)",
                          (url, article_id, similarity, time.time()))

    def alias_of(self, url: str) -> str | None:
        row = self.conn.execute("SELECT article_id FROM url_aliases WHERE url = ?", (url,)).fetchone()
        return row[0] if row else None

    def aliases(self, article_id: str) -> list[str]:
        return [u for (u,) in self.conn.execute(
            "SELECT url FROM url_aliases WHERE article_id = ? ORDER BY url", (article_id,))]

    def save_fingerprint(self, article_id: str, sig: np.ndarray) -> None:
        self.conn.execute("INSERT OR REPLACE INTO fingerprints VALUES (?, ?)",
                          (article_id, sig.astype(np.uint64).tobytes()))

    def fingerprints(self) -> list[tuple[str, np.ndarray]]:
        return [(a, np.frombuffer(b, dtype=np.uint64))
                for a, b in self.conn.execute("SELECT article_id, sig FROM fingerprints")]
