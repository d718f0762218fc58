"""Pieces of the Discord bot that need no client: options, the per-user cooldown, the log
filter that keeps secrets out of every log line, the IDENTIFY pacing of shards, and the
memory of the threads the bot opened."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from retrieval.feedback import open_state_db

from . import render_discord as render

if TYPE_CHECKING:
    from .settings import Settings

REDACTED = "[redacted]"
# Interaction tokens are webhook credentials for 15 minutes; at DEBUG discord.py logs them in
# callback and follow-up URLs and inside the gateway events it received.
_TOKEN_PATTERNS = (
    re.compile(r"(/(?:interactions|webhooks)/\d+/)[A-Za-z0-9_.~%-]+"),
    re.compile(r"""(["']token["']\s*:\s*["'])[^"']+"""),
)


# -- secrets in logs ----------------------------------------------------------------------
class RedactFilter(logging.Filter):
    """Replaces the bot token, and every interaction or webhook token, in a record's message,
    arguments and traceback. Nothing of citebot's logs them; this catches a library's debug
    lines (discord.py logs request URLs and gateway payloads) and the day something else does."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def redact(self, text: str) -> str:
        if self.secret:
            text = text.replace(self.secret, REDACTED)
        for pattern in _TOKEN_PATTERNS:
            text = pattern.sub(rf"\g<1>{REDACTED}", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = str(record.msg)
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when set, so the redacted text is what gets printed.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install_redaction(secret: str) -> Callable[[], None]:
    """Put a ``RedactFilter`` on every handler that exists now; returns the undo."""
    filt = RedactFilter(secret)
    known = logging.Logger.manager.loggerDict.values()
    loggers = [logging.getLogger(), *(x for x in known if isinstance(x, logging.Logger))]
    handlers = {h for lg in loggers for h in lg.handlers}
    for h in handlers:
        h.addFilter(filt)

    def remove() -> None:
        for h in handlers:
            h.removeFilter(filt)

    return remove


# -- options ------------------------------------------------------------------------------
ReplyIn = Literal["channel", "thread"]


@dataclass(frozen=True, slots=True)
class BotOptions:
    guild_id: int | None = None
    channels: frozenset[int] = frozenset()
    cooldown_seconds: float = 5.0
    cooldown_burst: int = 3
    sync: bool = False
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str | None = None
    sources_per_page: int = render.SOURCES_PER_PAGE
    reply_in: ReplyIn = "channel"
    shards: int | None = None  # None: as many as Discord recommends
    feedback: bool = True
    allow_private_urls: bool = False  # /add and /feeds add (urlguard.py)
    dedup_threshold: float = 0.7

    @classmethod
    def from_settings(cls, settings: Settings, *, sync: bool = False) -> BotOptions:
        shards = settings.discord_shards
        return cls(
            guild_id=settings.discord_guild_id, channels=frozenset(settings.discord_channels),
            cooldown_seconds=settings.discord_cooldown_seconds,
            cooldown_burst=settings.discord_cooldown_burst, sync=sync,
            api_base=settings.discord_api_base.rstrip("/"),
            gateway_url=settings.discord_gateway_url or None,
            sources_per_page=render.SOURCES_PER_PAGE,
            reply_in=settings.discord_reply_in,
            shards=None if shards == "auto" else int(shards),
            feedback=settings.discord_feedback,
            allow_private_urls=settings.allow_private_urls,
            dedup_threshold=settings.dedup_threshold,
        )


class Cooldown:
    """Per-user token bucket: ``burst`` requests at once, then one more every ``seconds``."""

    def __init__(self, seconds: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.burst, self.clock = seconds, max(1, burst), clock
        self._buckets: dict[int, tuple[float, float]] = {}

    def hit(self, user_id: int) -> float:
        """0 when the request may go ahead (and is counted), else the seconds to wait."""
        if self.seconds <= 0:
            return 0.0
        now = self.clock()
        if len(self._buckets) > 10_000:  # forget users whose bucket has refilled anyway
            full = self.seconds * self.burst
            self._buckets = {u: b for u, b in self._buckets.items() if now - b[1] < full}
        tokens, last = self._buckets.get(user_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) / self.seconds)
        if tokens >= 1:
            self._buckets[user_id] = (tokens - 1, now)
            return 0.0
        self._buckets[user_id] = (tokens, now)
        return (1 - tokens) * self.seconds


# -- shards -------------------------------------------------------------------------------
IDENTIFY_INTERVAL_S = 5.0


class IdentifyLimiter:
    """Discord allows ``max_concurrency`` IDENTIFYs per 5 seconds, one per rate-limit bucket
    (``shard_id % max_concurrency``). discord.py's default waits 5 s before every shard but the
    first; this waits only when the shard's own bucket identified less than 5 s ago, so large
    bots with a higher concurrency start their shards in parallel batches."""

    def __init__(self, max_concurrency: int = 1, *, clock: Callable[[], float] = time.monotonic,
                 interval: float = IDENTIFY_INTERVAL_S) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self.clock, self.interval = clock, interval
        self._last: dict[int, float] = {}
        self._lock = asyncio.Lock()

    def delay(self, shard_id: int | None) -> float:
        """Seconds shard ``shard_id`` must wait before it may identify (0: go now)."""
        last = self._last.get((shard_id or 0) % self.max_concurrency)
        return 0.0 if last is None else max(0.0, last + self.interval - self.clock())

    async def wait(self, shard_id: int | None) -> None:
        async with self._lock:
            wait = self.delay(shard_id)
            if wait:
                await asyncio.sleep(wait)
            self._last[(shard_id or 0) % self.max_concurrency] = self.clock()


# -- threads ------------------------------------------------------------------------------
THREAD_CONTEXT = 10  # earlier questions of a thread kept as a follow-up's context

THREAD_SCHEMA = """
CREATE TABLE IF NOT EXISTS discord_threads (
    thread_id INTEGER PRIMARY KEY,
    parent_id INTEGER,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS discord_thread_questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id INTEGER NOT NULL REFERENCES discord_threads(thread_id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    asked REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS discord_thread_questions_thread ON discord_thread_questions(thread_id, id);
"""


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    parent_id: int | None
    questions: tuple[str, ...]  # oldest first, at most THREAD_CONTEXT


class ThreadMemory:
    """The threads citebot opened and the questions asked in them, in the index's state
    database, so a follow-up after a restart still has its thread's earlier questions. Reads
    are served from a small cache; every method may block on SQLite, so the bot calls them from
    worker threads."""

    def __init__(self, index_dir: str | Path, cache_size: int = 2048) -> None:
        self._conn = open_state_db(index_dir, THREAD_SCHEMA)
        self._lock = threading.Lock()
        self._cache: OrderedDict[int, ThreadInfo | None] = OrderedDict()
        self._cache_size = cache_size

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _remember(self, thread_id: int, info: ThreadInfo | None) -> None:
        self._cache[thread_id] = info
        self._cache.move_to_end(thread_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def get(self, thread_id: int) -> ThreadInfo | None:
        """The thread if citebot opened it, else None."""
        with self._lock:
            if thread_id in self._cache:
                self._cache.move_to_end(thread_id)
                return self._cache[thread_id]
            row = self._conn.execute("SELECT parent_id FROM discord_threads WHERE thread_id = ?",
                                     (thread_id,)).fetchone()
            info = None
            if row is not None:
                asked = self._conn.execute(
                    "SELECT question FROM discord_thread_questions WHERE thread_id = ?"
                    " ORDER BY id DESC LIMIT ?", (thread_id, THREAD_CONTEXT)).fetchall()
                info = ThreadInfo(row[0], tuple(q for (q,) in reversed(asked)))
            self._remember(thread_id, info)
            return info

    def opened(self, thread_id: int, parent_id: int | None, questions: tuple[str, ...]) -> None:
        """A thread citebot just opened, with the questions it was opened for (oldest first)."""
        now = time.time()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute("INSERT OR IGNORE INTO discord_threads VALUES (?, ?, ?)",
                                   (thread_id, parent_id, now))
                self._conn.executemany(
                    "INSERT INTO discord_thread_questions (thread_id, question, asked) VALUES (?, ?, ?)",
                    [(thread_id, q, now) for q in questions])
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._cache.pop(thread_id, None)

    def asked(self, thread_id: int, question: str) -> None:
        """A question answered in a thread citebot opened."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO discord_thread_questions (thread_id, question, asked) VALUES (?, ?, ?)",
                (thread_id, question, time.time()))
            info = self._cache.get(thread_id)
            if info is not None:
                self._cache[thread_id] = ThreadInfo(info.parent_id,
                                                    (*info.questions, question)[-THREAD_CONTEXT:])


class SeenSet:
    """The last ``size`` keys seen (answers already shared), forgetting the oldest first."""

    def __init__(self, size: int = 10_000) -> None:
        self._keys: OrderedDict[int, None] = OrderedDict()
        self._size = size

    def add(self, key: int) -> bool:
        """True the first time ``key`` is added."""
        if key in self._keys:
            return False
        self._keys[key] = None
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return True
