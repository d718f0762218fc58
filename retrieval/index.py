"""The on-disk index: one directory, swapped in whole so a crash never leaves half an index.

Layout::

    INDEX_DIR/
      CURRENT                 name of the live generation (replaced atomically)
      gen-000007/
        manifest.json         model, dimension, passage settings, schema version, counts
        citebot.sqlite        articles, passages, sentences, FTS5 (see store.py)
        passages.faiss        passage vectors keyed by passage id (see vectors.py)
        sentences.npy         float16 sentence vectors, row i is sentence ids[i]
        sentence_ids.npy
        hubness.npz           how generic each passage and sentence is (see hubness.py)

A build copies the live generation, applies the changes to the copy, writes it out, then
replaces CURRENT. Killing it at any point leaves CURRENT pointing at the old, complete one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import vectors as vec
from .chunker import chunk_text
from .embedder import Embedder, encoder_id
from .errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from .models import Article, IndexReport
from .store import SCHEMA_VERSION, Store

log = logging.getLogger("citebot.index")

CURRENT = "CURRENT"
DB_NAME = "citebot.sqlite"
FAISS_NAME = "passages.faiss"
SENT_VECS = "sentences.npy"
SENT_IDS = "sentence_ids.npy"
HUBNESS = "hubness.npz"
MANIFEST = "manifest.json"

# (done, total) units of build work: a passage embedded is one, a sentence a quarter, and the
# hubness step at the end a share of the whole index's size
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class IndexConfig:
    """What an index is built with; a query must use the same."""

    model: str
    passage_tokens: int = 128
    passage_overlap: int = 1


@dataclass(frozen=True, slots=True)
class Manifest:
    schema_version: int
    model: str
    dim: int
    passage_tokens: int
    passage_overlap: int
    articles: int
    passages: int
    sentences: int
    approximate: bool
    built_at: str
    encoder: str = "sentence-transformers"  # any encoder of the same model gives compatible vectors

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def current_generation(index_dir: Path) -> Path | None:
    try:
        name = (index_dir / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    gen = index_dir / name
    return gen if gen.is_dir() else None


def read_manifest(gen: Path) -> Manifest:
    try:
        data = json.loads((gen / MANIFEST).read_text())
        return Manifest(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorruptError(
            f"index manifest in {gen} is unreadable ({exc}); run `citebot index --rebuild`"
        ) from exc


def check_compatible(manifest: Manifest, config: IndexConfig, model_id: str, index_dir: Path) -> None:
    problems = []
    if manifest.schema_version != SCHEMA_VERSION:
        problems.append(f"schema {manifest.schema_version}, this citebot uses {SCHEMA_VERSION}")
    if manifest.model != model_id:
        problems.append(f"model {manifest.model!r}, settings ask for {model_id!r}")
    if (manifest.passage_tokens, manifest.passage_overlap) != (config.passage_tokens, config.passage_overlap):
        problems.append(
            f"passages of {manifest.passage_tokens} tokens/overlap {manifest.passage_overlap}, "
            f"settings ask for {config.passage_tokens}/{config.passage_overlap}"
        )
    if problems:
        raise IndexMismatchError(
            f"the index in {index_dir} was built with {'; '.join(problems)}; "
            f"run `citebot index --rebuild --index {index_dir}` (or change the settings back)"
        )


def require_generation(index_dir: Path) -> Path:
    gen = current_generation(index_dir)
    if gen is None:
        raise IndexMissingError(
            f"no index in {index_dir}; build one with `citebot index --index {index_dir}`"
        )
    return gen


# -- building ---------------------------------------------------------------------------

def build_index(
    paths: Sequence[str | Path],
    index_dir: str | Path,
    config: IndexConfig,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    approximate_above: int = vec.APPROXIMATE_ABOVE,
) -> IndexReport:
    """Bring the index in ``index_dir`` in line with the articles under ``paths``.

    Only new or changed articles are embedded; articles no longer present are removed.
    """
    t0 = time.perf_counter()
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    from .loaders import load_articles  # only builds parse files

    loaded = load_articles(paths)
    _clean_stale(index_dir)

    live = current_generation(index_dir)
    old_gen = None if rebuild else live
    if old_gen is not None:
        check_compatible(read_manifest(old_gen), config, embedder.model_id, index_dir)
    new_gen = index_dir / f".building-{os.getpid()}-{time.time_ns()}"
    new_gen.mkdir()
    try:
        report, manifest = _build_into(
            new_gen, old_gen, loaded.articles, config, embedder, progress, approximate_above
        )
        final = index_dir / _next_gen_name(index_dir)
        _fsync_tree(new_gen)
        os.rename(new_gen, final)
        _write_atomic(index_dir / CURRENT, final.name + "\n")
    except BaseException:
        shutil.rmtree(new_gen, ignore_errors=True)
        raise
    # Readers that still have the old generation open keep their open files (POSIX semantics)
    # until they refresh; a rebuild replaces the live generation just as an update does.
    if live is not None and live != final:
        shutil.rmtree(live, ignore_errors=True)
    log.info("index %s: %d articles, %d passages", final, manifest.articles, manifest.passages)
    return IndexReport(
        added=report[0], updated=report[1], removed=report[2], unchanged=report[3],
        skipped=len(loaded.skipped), passages=manifest.passages,
        seconds=time.perf_counter() - t0, skipped_files=loaded.skipped,
    )


def _build_into(
    gen: Path, old_gen: Path | None, articles: Sequence[Article], config: IndexConfig,
    embedder: Embedder, progress: Progress | None, approximate_above: int,
) -> tuple[tuple[int, int, int, int], Manifest]:
    if old_gen is not None:
        _copy_db(old_gen / DB_NAME, gen / DB_NAME)
        index = vec.load(old_gen / FAISS_NAME)
        sent_ids = np.load(old_gen / SENT_IDS)
        sent_vecs = np.load(old_gen / SENT_VECS)
    else:
        index = vec.new_index(embedder.dim, np.zeros((0, embedder.dim), np.float32),
                              np.zeros(0, np.int64), approximate_above=approximate_above)
        sent_ids = np.zeros(0, np.int64)
        sent_vecs = np.zeros((0, embedder.dim), np.float16)

    store = Store(gen / DB_NAME)
    try:
        known = store.hashes()
        incoming = {a.id: a for a in articles}
        new = [a for a in articles if a.id not in known]
        changed = [a for a in articles if a.id in known and known[a.id] != a.content_hash]
        gone = [aid for aid in known if aid not in incoming]
        unchanged = len(articles) - len(new) - len(changed)

        todo = new + changed
        plans = _plan(todo, config, embedder)
        # The hubness step at the end is part of the bar, so that it does not sit at 100% while
        # that runs: about one unit of embedding work per 64 vectors of the whole index (measured
        # on the BBC corpus), counted before removals since it is only an estimate.
        tail = 1 + (store.count("passages") + store.count("sentences")
                    + sum(len(chunks) + len(sents) for _, chunks, sents in plans)) // 64
        total = _work_units(plans) + tail
        p_vecs, s_vecs = _embed(plans, embedder, progress, total)

        drop_p: list[int] = []
        drop_s: list[int] = []
        with store.transaction():
            for aid in gone + [a.id for a in changed]:
                pids, sids = store.remove_article(aid)
                drop_p += pids
                drop_s += sids
            add_pids: list[int] = []
            add_sids: list[int] = []
            for art, chunks, sentences in plans:
                pid0 = store.next_ids("passage", len(chunks))
                sid0 = store.next_ids("sentence", len(sentences))
                pids = list(range(pid0, pid0 + len(chunks)))
                sids = list(range(sid0, sid0 + len(sentences)))
                store.add_article(art, chunks, sids, pids)
                add_pids += pids
                add_sids += sids
        index = vec.update(index, drop_p, np.asarray(add_pids, np.int64), p_vecs,
                           approximate_above=approximate_above)
        keep = ~np.isin(sent_ids, np.asarray(drop_s, np.int64))
        sent_ids = np.concatenate([sent_ids[keep], np.asarray(add_sids, np.int64)])
        sent_vecs = np.concatenate([sent_vecs[keep], s_vecs.astype(np.float16)])
        order = np.argsort(sent_ids, kind="stable")
        sent_ids, sent_vecs = sent_ids[order], sent_vecs[order]
        np.save(gen / SENT_IDS, sent_ids)
        np.save(gen / SENT_VECS, sent_vecs)
        vec.save(index, gen / FAISS_NAME)
        _save_hubness(gen / HUBNESS, store, index, sent_ids, sent_vecs)
        if progress:
            progress(total, total)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        manifest = Manifest(
            schema_version=SCHEMA_VERSION, model=embedder.model_id, dim=embedder.dim,
            passage_tokens=config.passage_tokens, passage_overlap=config.passage_overlap,
            articles=store.count("articles"), passages=store.count("passages"),
            sentences=store.count("sentences"), approximate=vec.is_approximate(index),
            encoder=encoder_id(embedder),
            built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
    finally:
        store.close()
    (gen / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n")
    return (len(new), len(changed), len(gone), unchanged), manifest


def _save_hubness(
    path: Path, store: Store, index: Any, sent_ids: np.ndarray, sent_vecs: np.ndarray
) -> None:
    # Hubness is relative to the whole corpus, so every build recomputes it for every vector
    # (about 5 s for 14k passages and 39k sentences on two cores), not just for new articles.
    from .hubness import hub_scores

    pids, pvecs = vec.all_vectors(index)
    p_owner = store.owners("passages")
    s_owner = store.owners("sentences")
    p_hub = hub_scores(pvecs, np.array([p_owner[int(i)] for i in pids], dtype=object))
    s_hub = hub_scores(sent_vecs, np.array([s_owner[int(i)] for i in sent_ids], dtype=object))
    order = np.argsort(pids, kind="stable")
    np.savez(path, passage_ids=pids[order], passage=p_hub[order], sentence=s_hub)


Plan = tuple[Article, list[Any], list[tuple[int, int]]]


def _plan(articles: Sequence[Article], config: IndexConfig, embedder: Embedder) -> list[Plan]:
    plans: list[Plan] = []
    for art in articles:
        title_tokens = embedder.count_tokens([art.title])[0] + 1 if art.title else 0
        chunks = chunk_text(
            art.text, embedder.count_tokens, max_tokens=config.passage_tokens,
            overlap=config.passage_overlap, reserved_tokens=title_tokens,
        )
        seen: dict[tuple[int, int], None] = {}
        for c in chunks:
            for s in c.sentences:
                seen.setdefault((s.start, s.end), None)
        plans.append((art, chunks, list(seen)))
    return plans


def passage_text(title: str, body: str) -> str:
    """What gets embedded for a passage: the title gives every passage its article's topic."""
    return f"{title}\n{body}" if title else body


def _work_units(plans: Sequence[Plan]) -> int:
    # Sentences are shorter; count them as a fraction of a passage each for the bar.
    passages = sum(len(chunks) for _, chunks, _ in plans)
    return passages + sum(len(sents) for _, _, sents in plans) // 4


def _embed(
    plans: Sequence[Plan], embedder: Embedder, progress: Progress | None, total: int
) -> tuple[np.ndarray, np.ndarray]:
    """Passage and sentence vectors, reporting progress in ``_work_units`` out of ``total``."""
    p_texts = [passage_text(a.title, a.text[c.start:c.end]) for a, chunks, _ in plans for c in chunks]
    s_texts = [a.text[s:e] for a, _, sents in plans for s, e in sents]
    dim = embedder.dim
    out_p = np.zeros((len(p_texts), dim), np.float32)
    done = 0
    step = 256
    for i in range(0, len(p_texts), step):
        out_p[i:i + step] = embedder.encode(p_texts[i:i + step])
        done += len(p_texts[i:i + step])
        if progress:
            progress(done, total)
    out_s = np.zeros((len(s_texts), dim), np.float32)
    for i in range(0, len(s_texts), step * 4):
        out_s[i:i + step * 4] = embedder.encode(s_texts[i:i + step * 4])
        done += len(s_texts[i:i + step * 4]) // 4
        if progress:
            progress(min(done, total), total)
    return out_p, out_s


def _copy_db(src: Path, dst: Path) -> None:
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    d = sqlite3.connect(dst)
    try:
        s.backup(d)
    finally:
        s.close()
        d.close()


def _next_gen_name(index_dir: Path) -> str:
    nums = [int(p.name[4:]) for p in index_dir.glob("gen-*") if p.name[4:].isdigit()]
    return f"gen-{max(nums, default=0) + 1:06d}"


def _clean_stale(index_dir: Path) -> None:
    """Remove what interrupted builds left behind (never the live generation)."""
    live = current_generation(index_dir)
    for p in index_dir.iterdir():
        if p.name.startswith(".building-") or (p.name.startswith("gen-") and p != live):
            pid = p.name.split("-")[1] if p.name.startswith(".building-") else ""
            if pid.isdigit() and _alive(int(pid)) and int(pid) != os.getpid():
                continue  # another build is running right now
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_tree(root: Path) -> None:
    for p in root.iterdir():
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
