"""The SQLite half of an index: articles, passages, sentences, and FTS5 keyword search.

Passage and sentence ids are integers that never get reused within an index's life, so the
FAISS ids and the rows of the sentence-vector file stay valid across incremental updates.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .models import Article, ArticleInfo, Chunk

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    url TEXT,
    published TEXT,
    source TEXT,
    author TEXT,
    path TEXT,
    content_hash TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_url ON articles(url);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL,
    last_sentence INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sentences_article ON sentences(article_id, ordinal);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    title, text, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class StoredArticle:
    id: str
    title: str
    url: str | None
    published: str | None
    source: str | None
    author: str | None
    text: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class PassageRow:
    id: int
    article_id: str
    start: int
    end: int
    first_sentence: int
    last_sentence: int


@dataclass(frozen=True, slots=True)
class SentenceRow:
    id: int
    article_id: str
    ordinal: int
    start: int
    end: int


class Store:
    """A thin, typed wrapper around one SQLite file."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
        # The bot answers from worker threads; reads are serialised by SQLite itself.
        self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- ids ---------------------------------------------------------------------------
    def next_ids(self, name: str, count: int) -> int:
        """Reserve ``count`` consecutive ids; returns the first."""
        row = self.conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        first = int(row[0]) if row else 0
        self.conn.execute(
            "INSERT INTO counters(name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, first + count),
        )
        return first

    # -- writes ------------------------------------------------------------------------
    def add_article(
        self, article: Article, chunks: Sequence[Chunk], sentence_ids: Sequence[int],
        passage_ids: Sequence[int],
    ) -> None:
        """Insert one article with its passages and sentences (inside a transaction)."""
        a = article
        self.conn.execute(
            "INSERT INTO articles(id, title, url, published, source, author, path, content_hash, text)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (a.id, a.title, a.url, a.published, a.source, a.author, a.path, a.content_hash, a.text),
        )
        sentence_at: dict[tuple[int, int], int] = {}
        rows = []
        ordinal = 0
        for chunk in chunks:
            for sp in chunk.sentences:
                if (sp.start, sp.end) not in sentence_at:
                    sid = sentence_ids[ordinal]
                    sentence_at[(sp.start, sp.end)] = sid
                    rows.append((sid, a.id, ordinal, sp.start, sp.end))
                    ordinal += 1
        self.conn.executemany(
            "INSERT INTO sentences(id, article_id, ordinal, start, end) VALUES (?, ?, ?, ?, ?)", rows
        )
        for pid, (i, chunk) in zip(passage_ids, enumerate(chunks), strict=True):
            first = sentence_at[(chunk.sentences[0].start, chunk.sentences[0].end)]
            last = sentence_at[(chunk.sentences[-1].start, chunk.sentences[-1].end)]
            self.conn.execute(
                "INSERT INTO passages(id, article_id, ordinal, start, end, first_sentence, last_sentence)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (pid, a.id, i, chunk.start, chunk.end, first, last),
            )
            self.conn.execute(
                "INSERT INTO passages_fts(rowid, title, text) VALUES (?, ?, ?)",
                (pid, a.title, a.text[chunk.start : chunk.end]),
            )

    def remove_article(self, article_id: str) -> tuple[list[int], list[int]]:
        """Delete an article; returns the (passage ids, sentence ids) it had."""
        pids = [r[0] for r in self.conn.execute(
            "SELECT id FROM passages WHERE article_id = ?", (article_id,))]
        sids = [r[0] for r in self.conn.execute(
            "SELECT id FROM sentences WHERE article_id = ?", (article_id,))]
        self.conn.executemany("DELETE FROM passages_fts WHERE rowid = ?", [(p,) for p in pids])
        self.conn.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        return pids, sids

    # -- reads -------------------------------------------------------------------------
    def hashes(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT id, content_hash FROM articles"))

    def count(self, table: str) -> int:
        assert table in ("articles", "passages", "sentences")
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def article(self, article_id: str) -> StoredArticle | None:
        row = self.conn.execute(
            "SELECT id, title, url, published, source, author, text, content_hash"
            " FROM articles WHERE id = ?", (article_id,),
        ).fetchone()
        return StoredArticle(*row) if row else None

    def article_by_url(self, url: str) -> StoredArticle | None:
        row = self.conn.execute(
            "SELECT id FROM articles WHERE url = ? OR rtrim(url, '/') = rtrim(?, '/')", (url, url)
        ).fetchone()
        return self.article(row[0]) if row else None

    def articles(self, ids: Iterable[str]) -> dict[str, StoredArticle]:
        out: dict[str, StoredArticle] = {}
        for aid in set(ids):
            art = self.article(aid)
            if art is not None:
                out[aid] = art
        return out

    def owners(self, table: str) -> dict[int, str]:
        """Article id of every passage or sentence."""
        assert table in ("passages", "sentences")
        return dict(self.conn.execute(f"SELECT id, article_id FROM {table}"))

    def list_articles(self) -> list[ArticleInfo]:
        rows = self.conn.execute(
            "SELECT a.id, a.title, a.url, a.published, a.source, count(p.id)"
            " FROM articles a LEFT JOIN passages p ON p.article_id = a.id"
            " GROUP BY a.id ORDER BY a.published DESC, a.title"
        )
        return [ArticleInfo(*r) for r in rows]

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            "SELECT id, article_id, start, end, first_sentence, last_sentence"
            f" FROM passages WHERE id IN ({marks})", list(ids),
        )
        return {r[0]: PassageRow(*r) for r in rows}

    def sentences_between(self, first: int, last: int) -> list[SentenceRow]:
        rows = self.conn.execute(
            "SELECT id, article_id, ordinal, start, end FROM sentences"
            " WHERE id BETWEEN ? AND ? ORDER BY id", (first, last),
        )
        return [SentenceRow(*r) for r in rows]

    def article_sentences(self, article_id: str) -> list[SentenceRow]:
        rows = self.conn.execute(
            "SELECT id, article_id, ordinal, start, end FROM sentences"
            " WHERE article_id = ? ORDER BY ordinal", (article_id,),
        )
        return [SentenceRow(*r) for r in rows]

    def sentences_by_id(self, ids: Sequence[int]) -> dict[int, SentenceRow]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            f"SELECT id, article_id, ordinal, start, end FROM sentences WHERE id IN ({marks})",
            list(ids),
        )
        return {r[0]: SentenceRow(*r) for r in rows}

    def keyword_scores(self, query: str) -> dict[int, float]:
        """bm25 (higher is better) of every passage holding any of the query's words.

        SQLite computes bm25 for every match even under ORDER BY ... LIMIT, so one scan that
        returns them all costs the same as the top few, and answers later look-ups for free.
        """
        match = fts_query(query)
        if not match:
            return {}
        rows = self.conn.execute(
            "SELECT rowid, bm25(passages_fts, 2.0, 1.0) FROM passages_fts WHERE passages_fts MATCH ?",
            (match,),
        )
        return {rowid: -score for rowid, score in rows}


_WORD = re.compile(r"[^\W_]+", re.UNICODE)

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    yourself yourselves s t don said says say tell told according
    """.split()
)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS]


def fts_query(text: str) -> str:
    """An FTS5 OR-query of the question's content words, each quoted so none is an operator."""
    terms = list(dict.fromkeys(content_words(text)))
    return " OR ".join(f'"{t}"' for t in terms)
