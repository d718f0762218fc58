"""One immutable segment: the articles of one build step with their passages, sentences,
keyword index, vectors and hubness. Written once by ``SegmentWriter``, never changed after.

Files of ``seg-NNNNNN/``::

    segment.sqlite         articles, passages, sentences, FTS5 keyword index (see below)
    passage_vectors.npy    float32 unit vectors, row i is passage passage_ids[i]
    passage_ids.npy        int64, ascending       passage_articles.npy  int32 article number
    passage_hub.npy        float32 hubness        sentence_*.npy        the same for sentences
    sentence_vectors.npy   float16 (sentences are three times as many, and only looked up)
    article_days.npy       int32 days since 1970-01-01 of each article's date (NO_DATE if none)
    passage_tokens.npy     int32 tokens FTS5 counted in each passage (title and text): BM25's
                           length norm, so that scores can use the whole index's average
    passages.faiss         approximate passage index, only in large segments (see vectors.py)

Articles are numbered 1..n in the segment (``articles.ord``); deletions name those numbers.
Passage and sentence ids are global: allocated from the commit's counters, never reused, and
one contiguous range per segment, so an id finds its segment by bisection.

Readers open the SQLite file with ``immutable=1``: nothing locks, nothing is written, and a
read-only mount or another user's index serves as well as one's own. Everything a segment
needs is opened in ``Segment.__init__``, so a segment that a later commit drops can be
unlinked while a reader still answers from it (POSIX keeps open files alive).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .commit import SegmentInfo
from .integrity import problems

SEGMENT_DB = "segment.sqlite"
NO_DATE = np.iinfo(np.int32).min
EPOCH = dt.date(1970, 1, 1)

ARRAYS = {
    "passage_vectors": np.float32, "passage_ids": np.int64, "passage_articles": np.int32,
    "passage_hub": np.float32, "sentence_vectors": np.float16, "sentence_ids": np.int64,
    "sentence_articles": np.int32, "sentence_hub": np.float32, "article_days": np.int32,
    "passage_tokens": np.int32,
}

SCHEMA = """
CREATE TABLE articles (
    ord INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    url TEXT,
    published TEXT,
    source TEXT,
    author TEXT,
    path TEXT,
    content_hash TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX articles_url ON articles(url);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY,
    article INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    first_sentence INTEGER NOT NULL,
    last_sentence INTEGER NOT NULL
);
CREATE TABLE sentences (
    id INTEGER PRIMARY KEY,
    article INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX sentences_article ON sentences(article, ordinal);
-- Contentless: the passage text is a span of its article's text, so storing it twice buys
-- nothing. bm25() needs only the index and the row sizes, which contentless tables keep.
CREATE VIRTUAL TABLE passages_fts USING fts5(
    title, text, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
"""


def date_days(published: str | None) -> int:
    """Days since 1970-01-01 of an ISO ``YYYY-MM-DD`` date; ``NO_DATE`` for anything else."""
    if not published or len(published) < 10:
        return int(NO_DATE)
    try:
        return (dt.date.fromisoformat(published[:10]) - EPOCH).days
    except ValueError:
        return int(NO_DATE)


class DamagedSegmentError(ValueError):
    """A segment file does not match what its commit recorded (size or checksum)."""

    def __init__(self, segment: str, damage: list[str]) -> None:
        super().__init__("; ".join(damage))
        self.segment, self.damage = segment, damage


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
    path: str | None = None


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


ARTICLE_COLUMNS = "id, title, url, published, source, author, text, content_hash, path"


def sqlite_uri(path: Path, **params: str) -> str:
    """A ``file:`` URI for ``path`` (percent-encoded, so '?' or '#' in a folder name is safe)."""
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return path.absolute().as_uri() + (f"?{query}" if query else "")


def connect_readonly(path: Path) -> sqlite3.Connection:
    # The file never changes once committed, so SQLite may skip locking and change detection.
    conn = sqlite3.connect(sqlite_uri(path, mode="ro", immutable="1"), uri=True,
                           check_same_thread=False, isolation_level=None)
    conn.execute("SELECT count(*) FROM articles").fetchone()  # opens the file now, not later
    return conn


class Segment:
    """A committed segment opened for reading; safe to share between threads."""

    def __init__(self, index_dir: Path, info: SegmentInfo, *, mmap: bool = True) -> None:
        """``mmap=False`` (writers) reads vectors with ``pread`` instead (see npyfile.py)."""
        from .npyfile import NpyRows
        from .vectors import load_ann

        self.info = info
        self.dir = index_dir / info.name
        if not self.dir.is_dir():
            raise FileNotFoundError(f"{self.dir} is missing")
        if damage := problems(index_dir, info.files):
            raise DamagedSegmentError(info.name, damage)
        self.conn = connect_readonly(self.dir / SEGMENT_DB)
        arrays: dict[str, Any] = {}
        for name in ARRAYS:
            # Vectors are memory-mapped: a question touches only the rows it scores.
            path = self.dir / f"{name}.npy"
            if name == "passage_tokens" and not path.exists():
                arrays[name] = fts_lengths(self.conn)  # a segment written before the file existed
            elif not name.endswith("_vectors"):
                arrays[name] = np.load(path, allow_pickle=False)
            elif mmap:
                arrays[name] = np.load(path, mmap_mode="r", allow_pickle=False)
            else:
                arrays[name] = NpyRows(path)
        self.passage_vectors: Any = arrays["passage_vectors"]
        self.passage_ids: np.ndarray = arrays["passage_ids"]
        self.passage_articles: np.ndarray = arrays["passage_articles"]
        self.passage_hub: np.ndarray = arrays["passage_hub"]
        self.sentence_vectors: Any = arrays["sentence_vectors"]
        self.sentence_ids: np.ndarray = arrays["sentence_ids"]
        self.sentence_articles: np.ndarray = arrays["sentence_articles"]
        self.sentence_hub: np.ndarray = arrays["sentence_hub"]
        self.article_days: np.ndarray = arrays["article_days"]
        self.passage_tokens: np.ndarray = arrays["passage_tokens"]
        self.total_tokens = int(self.passage_tokens.sum())
        self.ann = load_ann(self.dir, info.ann)
        self._sources: list[frozenset[str]] | None = None
        self._check_shapes()

    def _check_shapes(self) -> None:
        # Costs nothing and catches a file from another segment or a truncated array.
        i = self.info
        n_p, n_s = len(self.passage_ids), len(self.sentence_ids)
        problems = []
        if n_p != i.passages or self.passage_vectors.shape[0] != n_p or len(self.passage_articles) != n_p \
                or len(self.passage_hub) != n_p:
            problems.append(f"passage arrays do not hold {i.passages} rows")
        if n_s != i.sentences or self.sentence_vectors.shape[0] != n_s \
                or len(self.sentence_articles) != n_s or len(self.sentence_hub) != n_s:
            problems.append(f"sentence arrays do not hold {i.sentences} rows")
        if len(self.passage_tokens) != n_p:
            problems.append(f"passage lengths do not hold {i.passages} rows")
        if len(self.article_days) != i.articles:
            problems.append(f"article dates do not hold {i.articles} rows")
        if n_p and (int(self.passage_ids[0]) != i.first_passage or int(self.passage_ids[-1]) != i.last_passage
                    or bool(np.any(np.diff(self.passage_ids) <= 0))):
            problems.append("passage ids are not the commit's ascending range")
        if n_s and (int(self.sentence_ids[0]) != i.first_sentence
                    or int(self.sentence_ids[-1]) != i.last_sentence
                    or bool(np.any(np.diff(self.sentence_ids) <= 0))):
            problems.append("sentence ids are not the commit's ascending range")
        if problems:
            raise ValueError("; ".join(problems))

    def article_sources(self) -> list[frozenset[str]]:
        """Source names of each article (by number - 1), read once on first use."""
        if self._sources is None:
            from .filters import source_names

            rows = self.conn.execute("SELECT source, url FROM articles ORDER BY ord")
            self._sources = [source_names(src, url) for src, url in rows]
        return self._sources

    @property
    def dim(self) -> int:
        return int(self.passage_vectors.shape[1])

    def close(self) -> None:
        self.conn.close()

    # -- rows --------------------------------------------------------------------------
    def passage_rows(self, rows: np.ndarray) -> np.ndarray:
        """Row numbers -> passage ids (vectorised)."""
        return self.passage_ids[rows]

    def passage_row_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row of each passage id, and which ids this segment really holds."""
        return _rows(self.passage_ids, ids)

    def sentence_row_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _rows(self.sentence_ids, ids)


def fts_lengths(conn: sqlite3.Connection) -> np.ndarray:
    """Tokens FTS5 counted in each passage (all columns), in passage id order, from its
    ``docsize`` table: one SQLite varint per column."""
    out = []
    for (blob,) in conn.execute("SELECT sz FROM passages_fts_docsize ORDER BY id"):
        total, value = 0, 0
        for byte in blob:
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:  # the last byte of this varint (counts never need the 9-byte form)
                total, value = total + value, 0
        out.append(total)
    return np.asarray(out, np.int32)


def _rows(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    want = np.asarray(ids, np.int64)
    if not len(sorted_ids) or not len(want):
        return np.zeros(len(want), np.int64), np.zeros(len(want), bool)
    rows = np.clip(np.searchsorted(sorted_ids, want), 0, len(sorted_ids) - 1)
    return rows, sorted_ids[rows] == want
