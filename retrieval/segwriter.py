"""Writing segments: a new one from embedded articles, or one merged from several.

A segment is written into a hidden temporary folder (``.tmp-seg-NNNNNN-PID``), flushed to disk
and only then renamed to ``seg-NNNNNN``; a commit that lists it is written after that. A build
killed at any moment leaves at worst a temporary folder, or a finished segment that no commit
lists, and the next writer removes both (writer.py).

Rows stream through: vectors are appended to their ``.npy`` files as batches arrive and SQLite
writes its pages as it goes, so a segment costs memory for one batch, not for the segment.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .commit import SegmentInfo, fsync_dir
from .integrity import record
from .models import Article, Chunk
from .npyfile import NpyAppender, NpyRows
from .segment import ARRAYS, SCHEMA, SEGMENT_DB, Segment, date_days, fts_lengths, sqlite_uri

# Hubness of a finished segment's vectors: (folder, passage vectors, passage article numbers,
# sentence vectors, sentence article numbers) -> (passage hubness, sentence hubness).
# Vectors come as row sources (an ndarray, a memory map or an ``NpyRows``), hence ``Any``.
HubFn = Callable[[Any, np.ndarray, Any, np.ndarray], tuple[np.ndarray, np.ndarray]]
# Writes the approximate passage index of a large segment into the folder; returns its kind.
AnnFn = Callable[[Path, Any], str]


@dataclass
class _Counts:
    articles: int = 0
    passages: int = 0
    sentences: int = 0


class SegmentWriter:
    """Builds one segment. ``add`` articles (already split and embedded), then ``finish``."""

    def __init__(self, index_dir: Path, name: str, dim: int, first_passage: int,
                 first_sentence: int) -> None:
        self.index_dir, self.name, self.dim = index_dir, name, dim
        self.next_passage, self.next_sentence = first_passage, first_sentence
        self.first_passage, self.first_sentence = first_passage, first_sentence
        self.tmp = index_dir / f".tmp-{name}-{os.getpid()}"
        self.tmp.mkdir()
        self.counts = _Counts()
        self._days: list[int] = []
        self._out: dict[str, NpyAppender] = {}
        try:
            # A new file in a temporary folder: a crash discards it whole, so no journal.
            self.db = sqlite3.connect(sqlite_uri(self.tmp / SEGMENT_DB), uri=True, isolation_level=None)
            self.db.execute("PRAGMA journal_mode = OFF")
            self.db.execute("PRAGMA synchronous = OFF")
            self.db.executescript(SCHEMA)
            self.db.execute("BEGIN")
            for key in ("passage_vectors", "sentence_vectors"):
                self._out[key] = NpyAppender(self.tmp / f"{key}.npy", ARRAYS[key], dim)
            for key in ("passage_ids", "passage_articles", "sentence_ids", "sentence_articles"):
                self._out[key] = NpyAppender(self.tmp / f"{key}.npy", ARRAYS[key])
        except BaseException:
            self.abort()
            raise

    @property
    def empty(self) -> bool:
        return self.counts.articles == 0

    def add(self, article: Article, chunks: Sequence[Chunk], sentences: Sequence[tuple[int, int]],
            passage_vecs: np.ndarray, sentence_vecs: np.ndarray) -> None:
        """One article with its passages (``chunks``), unique sentence spans in text order, and
        their vectors (rows in the same order)."""
        a = article
        self.counts.articles += 1
        ord_ = self.counts.articles
        self.db.execute(
            "INSERT INTO articles(ord, id, title, url, published, source, author, path, content_hash,"
            " text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ord_, a.id, a.title, a.url, a.published, a.source, a.author, a.path, a.content_hash, a.text),
        )
        self._days.append(date_days(a.published))
        sid0 = self.next_sentence
        sentence_at = {span: sid0 + i for i, span in enumerate(sentences)}
        self.db.executemany(
            "INSERT INTO sentences(id, article, ordinal, start, end) VALUES (?, ?, ?, ?, ?)",
            [(sid0 + i, ord_, i, s, e) for i, (s, e) in enumerate(sentences)],
        )
        pid0 = self.next_passage
        rows = []
        fts = []
        for i, c in enumerate(chunks):
            first = sentence_at[(c.sentences[0].start, c.sentences[0].end)]
            last = sentence_at[(c.sentences[-1].start, c.sentences[-1].end)]
            rows.append((pid0 + i, ord_, i, c.start, c.end, first, last))
            fts.append((pid0 + i, a.title, a.text[c.start:c.end]))
        self.db.executemany(
            "INSERT INTO passages(id, article, ordinal, start, end, first_sentence, last_sentence)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", rows,
        )
        self.db.executemany("INSERT INTO passages_fts(rowid, title, text) VALUES (?, ?, ?)", fts)
        n_p, n_s = len(chunks), len(sentences)
        self._out["passage_vectors"].append(passage_vecs)
        self._out["passage_ids"].append(np.arange(pid0, pid0 + n_p, dtype=np.int64))
        self._out["passage_articles"].append(np.full(n_p, ord_, np.int32))
        self._out["sentence_vectors"].append(sentence_vecs)
        self._out["sentence_ids"].append(np.arange(sid0, sid0 + n_s, dtype=np.int64))
        self._out["sentence_articles"].append(np.full(n_s, ord_, np.int32))
        self.next_passage += n_p
        self.next_sentence += n_s
        self.counts.passages += n_p
        self.counts.sentences += n_s

    def copy_from(self, seg: Segment, deleted: np.ndarray) -> None:
        """Append the live articles of ``seg`` (a merge), renumbering them after those added so
        far. ``deleted`` holds the segment's deleted article numbers."""
        base = self.counts.articles
        live = np.setdiff1d(np.arange(1, seg.info.articles + 1, dtype=np.int64), deleted)
        renumber = np.zeros(seg.info.articles + 1, np.int64)
        renumber[live] = base + 1 + np.arange(len(live))
        # ATTACH is not allowed inside a transaction.
        self.db.execute("COMMIT")
        src = sqlite_uri(seg.dir / SEGMENT_DB, mode="ro", immutable="1")
        self.db.execute("ATTACH DATABASE ? AS src", (src,))
        self.db.execute("BEGIN")
        try:
            self.db.execute("CREATE TEMP TABLE keep(old INTEGER PRIMARY KEY, new INTEGER)")
            self.db.executemany("INSERT INTO keep VALUES (?, ?)",
                                [(int(o), int(renumber[o])) for o in live])
            self.db.execute(
                "INSERT INTO articles(ord, id, title, url, published, source, author, path,"
                " content_hash, text) SELECT k.new, a.id, a.title, a.url, a.published, a.source,"
                " a.author, a.path, a.content_hash, a.text FROM src.articles a JOIN keep k ON"
                " k.old = a.ord ORDER BY k.new")
            self.db.execute(
                "INSERT INTO passages SELECT p.id, k.new, p.ordinal, p.start, p.end,"
                " p.first_sentence, p.last_sentence FROM src.passages p JOIN keep k ON k.old = p.article"
                " ORDER BY p.id")
            self.db.execute(
                "INSERT INTO sentences SELECT s.id, k.new, s.ordinal, s.start, s.end"
                " FROM src.sentences s JOIN keep k ON k.old = s.article ORDER BY s.id")
            # SQLite's substr counts characters, as Python's offsets do.
            self.db.execute(
                "INSERT INTO passages_fts(rowid, title, text) SELECT p.id, a.title,"
                " substr(a.text, p.start + 1, p.end - p.start) FROM src.passages p"
                " JOIN keep k ON k.old = p.article JOIN src.articles a ON a.ord = p.article"
                " ORDER BY p.id")
            self.db.execute("DROP TABLE temp.keep")
        finally:
            self.db.execute("COMMIT")
            self.db.execute("DETACH DATABASE src")
            self.db.execute("BEGIN")
        self._days.extend(int(d) for d in seg.article_days[live - 1])
        p_keep = renumber[seg.passage_articles] > 0
        s_keep = renumber[seg.sentence_articles] > 0
        _copy_rows(self._out["passage_vectors"], seg.passage_vectors, p_keep)
        _copy_rows(self._out["sentence_vectors"], seg.sentence_vectors, s_keep)
        self._out["passage_ids"].append(seg.passage_ids[p_keep])
        self._out["passage_articles"].append(renumber[seg.passage_articles[p_keep]])
        self._out["sentence_ids"].append(seg.sentence_ids[s_keep])
        self._out["sentence_articles"].append(renumber[seg.sentence_articles[s_keep]])
        self.counts.articles += len(live)
        self.counts.passages += int(p_keep.sum())
        self.counts.sentences += int(s_keep.sum())

    def finish(self, hub: HubFn, ann: AnnFn | None = None) -> SegmentInfo:
        """Close the files, compute hubness (and the approximate index of a large segment),
        make everything durable and give the segment its final name."""
        try:
            self.db.execute("COMMIT")
            # One b-tree per term instead of a level per batch: smaller and faster to search.
            self.db.execute("INSERT INTO passages_fts(passages_fts) VALUES ('optimize')")
            np.save(self.tmp / "passage_tokens.npy", fts_lengths(self.db))
            self.db.close()
            for out in self._out.values():
                out.close()
            np.save(self.tmp / "article_days.npy", np.asarray(self._days, np.int32))
            p_vecs = NpyRows(self.tmp / "passage_vectors.npy")
            s_vecs = NpyRows(self.tmp / "sentence_vectors.npy")
            p_hub, s_hub = hub(p_vecs, np.load(self.tmp / "passage_articles.npy"),
                               s_vecs, np.load(self.tmp / "sentence_articles.npy"))
            np.save(self.tmp / "passage_hub.npy", np.asarray(p_hub, np.float32))
            np.save(self.tmp / "sentence_hub.npy", np.asarray(s_hub, np.float32))
            kind = ann(self.tmp, p_vecs) if ann is not None else "flat"
            p_vecs.close()
            s_vecs.close()
            for p in self.tmp.iterdir():
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
            final = self.index_dir / self.name
            os.rename(self.tmp, final)
            fsync_dir(self.index_dir)
        except BaseException:
            self.abort()
            raise
        p_ids = np.load(final / "passage_ids.npy")
        s_ids = np.load(final / "sentence_ids.npy")
        files = tuple(record(self.index_dir, p) for p in sorted(final.iterdir()))
        return SegmentInfo(
            name=self.name, articles=self.counts.articles, passages=self.counts.passages,
            sentences=self.counts.sentences,
            first_passage=int(p_ids[0]) if len(p_ids) else -1,
            last_passage=int(p_ids[-1]) if len(p_ids) else -1,
            first_sentence=int(s_ids[0]) if len(s_ids) else -1,
            last_sentence=int(s_ids[-1]) if len(s_ids) else -1,
            files=files, ann=kind,
        )

    def abort(self) -> None:
        for out in self._out.values():
            out.discard()
        with contextlib.suppress(Exception):
            self.db.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _copy_rows(out: NpyAppender, src: Any, keep: np.ndarray, block: int = 65536) -> None:
    for lo in range(0, len(src), block):
        sel = keep[lo:lo + block]
        if sel.any():
            out.append(np.asarray(src[lo:lo + block][sel]))
