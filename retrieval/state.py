"""The index's mutable side: one SQLite file beside the segments, outside every commit.

Segments and commits are immutable snapshots of articles (see ``segments.py``). What a running
install changes in place lives here instead: the feeds it follows, the votes people give
answers, the urls under which a story was also seen. Each module that keeps something here
declares its own tables with ``CREATE TABLE IF NOT EXISTS`` through ``open_state``, so no
module has to know the others' schemas.

WAL mode lets the bot write votes while a watcher writes feed state and readers read; every
connection waits up to ``BUSY_TIMEOUT_S`` for a lock instead of failing at once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

STATE_DB = "state.sqlite"
BUSY_TIMEOUT_S = 10.0


def state_path(index_dir: str | Path) -> Path:
    return Path(index_dir) / STATE_DB


def open_state(index_dir: str | Path, schema: str = "") -> sqlite3.Connection:
    """A connection to the index's state database, with ``schema`` (idempotent DDL) applied.

    Usable from any thread (``check_same_thread=False``); callers serialise their own writes
    with transactions, as SQLite itself serialises writers across processes.
    """
    path = state_path(index_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False,
                           isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    if schema:
        conn.executescript(schema)
    return conn
