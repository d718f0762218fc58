"""Upgrading an index of the single-generation layout (``CURRENT`` + ``gen-N/``) to segments.

The old layout held one SQLite database, a FAISS file, sentence vectors and hubness; all of it
becomes one segment with the same passage and sentence ids and the same vectors and hubness,
so answers do not change and nothing is embedded again. It runs once, under the write lock,
the first time any citebot command opens such an index, and says so in one line.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .commit import Commit, Manifest, write_commit
from .errors import IndexCorruptError, IndexMismatchError
from .models import Article, Chunk, Span
from .segment import sqlite_uri

log = logging.getLogger("citebot.reader")

OLD_POINTER = "CURRENT"


def has_old_layout(index_dir: Path) -> bool:
    return (index_dir / OLD_POINTER).is_file() and not (index_dir / "COMMIT").exists()


def upgrade_with_lock(index_dir: Path) -> None:
    """Upgrade now if needed (for readers: takes and releases the write lock)."""
    from .lock import WriteLock

    if not has_old_layout(index_dir):
        return
    lock = WriteLock(index_dir)
    try:
        lock.acquire(wait=True)
    except PermissionError:
        raise IndexMismatchError(
            f"the index in {index_dir} has the layout of an older citebot and cannot be upgraded "
            f"here (the folder is read-only); run `citebot index --rebuild --index {index_dir}` "
            "where it can be written"
        ) from None
    try:
        upgrade_if_needed(index_dir)
    finally:
        lock.release()


def upgrade_if_needed(index_dir: Path, *_: Any) -> None:
    """Convert the old layout in ``index_dir`` into one segment (caller holds the write lock)."""
    if not has_old_layout(index_dir):
        return
    name = (index_dir / OLD_POINTER).read_text().strip()
    gen = index_dir / name
    try:
        commit = _convert(index_dir, gen)
    except (OSError, ValueError, KeyError, sqlite3.Error, RuntimeError, zipfile.BadZipFile) as exc:
        raise IndexCorruptError(
            f"the index in {index_dir} has the layout of an older citebot and cannot be read to "
            f"upgrade it ({exc}); run `citebot index --rebuild --index {index_dir}`"
        ) from exc
    write_commit(index_dir, commit)
    (index_dir / OLD_POINTER).unlink()
    for p in index_dir.glob("gen-*"):
        shutil.rmtree(p, ignore_errors=True)
    log.warning("upgraded the index in %s to the segment layout (%d articles, %d passages)",
                index_dir, commit.articles, commit.passages)


def _convert(index_dir: Path, gen: Path) -> Commit:
    from .hubness import Base, hub_from, neighbour_topk
    from .segwriter import SegmentWriter

    m = json.loads((gen / "manifest.json").read_text())
    manifest = Manifest(model=m["model"], dim=int(m["dim"]), passage_tokens=int(m["passage_tokens"]),
                        passage_overlap=int(m["passage_overlap"]),
                        encoder=m.get("encoder", "sentence-transformers"))
    db = sqlite3.connect(sqlite_uri(gen / "citebot.sqlite", mode="ro"), uri=True)
    p_ids, p_vecs = _old_vectors(gen / "passages.faiss")
    s_ids = np.load(gen / "sentence_ids.npy")
    s_vecs = np.load(gen / "sentence_vectors.npy" if (gen / "sentence_vectors.npy").exists()
                     else gen / "sentences.npy", mmap_mode="r")
    p_order = np.argsort(p_ids)
    p_ids, p_vecs = p_ids[p_order], p_vecs[p_order]
    old_hub = _old_hubness(gen, len(s_ids))
    counters = dict(db.execute("SELECT name, value FROM counters"))
    w = SegmentWriter(index_dir, "seg-000001", manifest.dim, 0, 0)
    try:
        arts = db.execute("SELECT a.id, a.title, a.url, a.published, a.source, a.author, a.path,"
                          " a.content_hash, a.text, min(p.id) FROM articles a LEFT JOIN passages p"
                          " ON p.article_id = a.id GROUP BY a.id ORDER BY min(p.id), a.id").fetchall()
        for *fields, _first in arts:
            art = Article(id=fields[0], title=fields[1], text=fields[8], url=fields[2],
                          published=fields[3], source=fields[4], author=fields[5], path=fields[6],
                          content_hash=fields[7])
            sents = db.execute("SELECT id, start, end FROM sentences WHERE article_id = ? ORDER BY id",
                               (art.id,)).fetchall()
            span_of = {sid: (s, e) for sid, s, e in sents}
            chunks, pids = [], []
            for pid, start, end, first, last in db.execute(
                    "SELECT id, start, end, first_sentence, last_sentence FROM passages"
                    " WHERE article_id = ? ORDER BY id", (art.id,)):
                spans = tuple(Span(*span_of[s]) for s in range(first, last + 1) if s in span_of)
                chunks.append(Chunk(start, end, spans))
                pids.append(pid)
            if pids:
                w.next_passage = pids[0]
            if sents:
                w.next_sentence = sents[0][0]
            prow = np.searchsorted(p_ids, np.asarray(pids, np.int64))
            srow = np.searchsorted(s_ids, np.asarray([s[0] for s in sents], np.int64))
            w.add(art, chunks, [(s, e) for _, s, e in sents], p_vecs[prow],
                  np.asarray(s_vecs[srow], np.float32))

        def hub(pv: np.ndarray, pa: np.ndarray, sv: np.ndarray,
                sa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if old_hub is not None:
                hp_ids, hp, hs = old_hub
                new_p = np.load(w.tmp / "passage_ids.npy")
                new_s = np.load(w.tmp / "sentence_ids.npy")
                ph = hp[np.clip(np.searchsorted(hp_ids, new_p), 0, max(len(hp_ids) - 1, 0))] \
                    if len(hp_ids) else np.zeros(len(new_p), np.float32)
                sh = hs[np.searchsorted(s_ids, new_s)] if len(s_ids) else np.zeros(0, np.float32)
                return ph, sh
            return (hub_from(neighbour_topk(pv, pa.astype(np.int64), [Base(pv, pa.astype(np.int64))])),
                    hub_from(neighbour_topk(sv, sa.astype(np.int64), [Base(sv, sa.astype(np.int64))])))

        info = w.finish(hub)
    except BaseException:
        w.abort()
        raise
    finally:
        db.close()
    segments = (info,) if info.articles else ()
    return Commit(generation=1, manifest=manifest, segments=segments,
                  next_passage_id=max(int(counters.get("passage", 0)), info.last_passage + 1),
                  next_sentence_id=max(int(counters.get("sentence", 0)), info.last_sentence + 1),
                  next_segment=2)


def _old_hubness(gen: Path, n_sent: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    path = gen / "hubness.npz"
    if not path.exists():
        return None
    with np.load(path) as z:
        p_ids, p_hub, s_hub = z["passage_ids"], z["passage"], z["sentence"]
    if len(p_ids) != len(p_hub) or len(s_hub) != n_sent:
        return None
    return p_ids, p_hub, s_hub


def _old_vectors(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every (id, vector) of the old FAISS file: an IDMap2 over a flat index, or an IVF-Flat."""
    import faiss

    index: Any = faiss.read_index(str(path))
    if hasattr(index, "nlist"):
        index = faiss.extract_index_ivf(index)
        inv = index.invlists
        ids_l, vec_l = [], []
        for lst in range(index.nlist):
            size = inv.list_size(lst)
            if size:
                ids_l.append(faiss.rev_swig_ptr(inv.get_ids(lst), size).copy())
                codes = faiss.rev_swig_ptr(inv.get_codes(lst), size * index.code_size).copy()
                vec_l.append(codes.view(np.float32).reshape(size, index.d))
        if not ids_l:
            return np.zeros(0, np.int64), np.zeros((0, index.d), np.float32)
        return np.concatenate(ids_l).astype(np.int64), np.concatenate(vec_l)
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    vecs = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), np.float32)
    return ids, np.asarray(vecs, np.float32)
