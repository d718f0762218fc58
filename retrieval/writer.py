"""The one writer of an index: adds, replaces and deletes articles, commits, merges.

A write costs what changed: new and changed articles are split, embedded and written into a
new segment; replaced and removed ones become deletions, each a small file beside its segment;
the commit that lists it all is one small JSON file. Nothing already written is read back
except to find the new vectors' nearest neighbours (hubness).

Memory is bounded: articles are embedded ``BATCH_CHARS`` of text at a time and streamed into the
segment being written, which is finished and committed (when the build is not a rebuild) every
``segment_passages`` passages, so a large build commits as it goes and an interrupted one keeps
what it committed. A rebuild commits once, at the end: readers keep the old index until the new
one is whole.

Crash safety: segments are written under temporary names and renamed when complete; commits
are atomic (commit.py). Whatever a killed writer leaves (temporary folders, segments or
deletion files no commit lists) is removed by the next writer, which alone may remove files:
it holds the write lock (lock.py). Files of the previous commit are kept until the next commit
replaces it, so a damaged live commit can fall back to its predecessor.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

import numpy as np

from .commit import (
    POINTER,
    Commit,
    Manifest,
    SegmentInfo,
    commit_generations,
    commit_name,
    fsync_dir,
    live_commit_name,
    read_commit_file,
    read_live_commit,
    write_commit,
)
from .embedder import Embedder, encoder_id
from .errors import IndexCorruptError, IndexMismatchError
from .faults import crash_point
from .hubness import Base, hub_from, neighbour_topk
from .integrity import record
from .lock import WriteLock
from .mergepolicy import MergePolicy
from .models import Article
from .prepare import LocalPreparer, Prepared, Preparer
from .reader import load_deletes
from .segment import DamagedSegmentError, Segment
from .segwriter import SegmentWriter
from .vectors import build_ann

log = logging.getLogger("citebot.index")

SEGMENT_PASSAGES = 20_000
BATCH_CHARS = 150_000  # about 256 passages of news text per embedding round
_SEG_NAME = re.compile(r"^seg-(\d{6,})$")


@dataclass(frozen=True, slots=True)
class IndexConfig:
    """What an index is built with; a query must use the same."""

    model: str
    passage_tokens: int = 128
    passage_overlap: int = 1


@dataclass
class WriteStats:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    passages_written: int = 0
    commits: int = 0
    merges: int = 0


@dataclass(frozen=True, slots=True)
class BuildProgress:
    """What a build has done so far (the total is unknown while articles stream in)."""

    articles: int  # read so far
    embedded: int  # articles split and embedded so far
    passages: int  # passages embedded so far
    phase: str  # "embedding", "hubness", "merging", "done"


ProgressFn = Callable[[BuildProgress], None]


@dataclass(slots=True)
class _Entry:
    segment: str  # where the live version is (a committed or a finished, pending segment)
    ord: int
    content_hash: str
    path: str | None


@dataclass
class _Pending:
    queue: list[Article] = field(default_factory=list)
    chars: int = 0
    # Old versions of queued articles: deleted in the commit that adds the new version.
    replaces: dict[str, tuple[str, int]] = field(default_factory=dict)


def check_manifest(manifest: Manifest, config: IndexConfig, model_id: str, index_dir: Path) -> None:
    problems = []
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


def live_commit_name_safe(index_dir: Path) -> str | None:
    """What the pointer names, or None when it is missing or damaged."""
    try:
        return live_commit_name(index_dir)
    except IndexCorruptError:
        return None


def segment_number(name: str) -> int:
    m = _SEG_NAME.match(name)
    return int(m.group(1)) if m else -1


def group_keys(name: str, ords: np.ndarray) -> np.ndarray:
    """Article keys unique across the index: segment number and article number in one int64."""
    return (np.int64(segment_number(name)) << np.int64(32)) | np.asarray(ords, np.int64)


class IndexWriter:
    """Holds the write lock from construction to ``close()``; use it as a context manager."""

    def __init__(
        self, index_dir: str | Path, config: IndexConfig, embedder: Embedder, *, rebuild: bool = False,
        wait: bool = True, notice: Callable[[str], None] | None = None,
        policy: MergePolicy | None = None, segment_passages: int = SEGMENT_PASSAGES,
        preparer: Preparer | None = None, progress: ProgressFn | None = None, repair: bool = False,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.config, self.embedder = config, embedder
        self.rebuild = rebuild
        self.repair = repair
        self.policy = policy or MergePolicy()
        self.segment_passages = segment_passages
        self.preparer = preparer or LocalPreparer(embedder, config.passage_tokens, config.passage_overlap)
        # A preparer with many workers asks for bigger rounds so that each worker gets one.
        self._batch_chars = int(getattr(self.preparer, "batch_chars", BATCH_CHARS))
        self.progress = progress
        self.stats = WriteStats()
        self._seen = 0
        self._embedded = 0
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self.lock = WriteLock(self.index_dir)
        self.lock.acquire(wait=wait, notice=notice)
        try:
            self._open()
        except BaseException:
            self.lock.release()
            raise

    # -- opening -------------------------------------------------------------------------
    def _open(self) -> None:
        from .upgrade import upgrade_if_needed

        upgrade_if_needed(self.index_dir, self.embedder, self.config)
        live = read_live_commit(self.index_dir)
        manifest = Manifest(
            model=self.embedder.model_id, dim=self.embedder.dim,
            passage_tokens=self.config.passage_tokens, passage_overlap=self.config.passage_overlap,
            encoder=encoder_id(self.embedder),
        )
        if live is not None and not self.rebuild:
            check_manifest(live.manifest, self.config, self.embedder.model_id, self.index_dir)
        self._cleanup(live)
        if live is None:
            self.commit_point = Commit(generation=0, manifest=manifest)
        elif self.rebuild:
            # Counters go on, so ids and names are never reused, not even across rebuilds.
            self.commit_point = replace(live, manifest=manifest, segments=())
        else:
            self.commit_point = live
        self._previous = live
        self.segments: dict[str, Segment] = {}
        self.deleted: dict[str, np.ndarray] = {}
        self.live: dict[str, _Entry] = {}
        self._force_commit = live is not None and live.name != live_commit_name_safe(self.index_dir)
        intact = []
        for info in self.commit_point.segments:
            try:
                self._adopt(Segment(self.index_dir, info, mmap=False), load_deletes(self.index_dir, info))
            except (DamagedSegmentError, OSError, sqlite3.Error) as exc:
                n = info.articles - info.deleted_articles
                if not self.repair:
                    raise IndexCorruptError(
                        f"segment {info.name} of the index in {self.index_dir} is damaged ({exc}); run "
                        f"`citebot index --repair PATH --index {self.index_dir}` to drop it and index "
                        f"its {n} articles again from PATH (articles that came only from urls or feeds "
                        f"are lost), or `citebot index --rebuild`"
                    ) from exc
                # Repair: the segment leaves the index, so its articles are unknown and this build
                # indexes them again from their files.
                log.warning("segment %s of the index in %s is damaged (%s); dropping it: its %d "
                            "articles are indexed again from the files given", info.name,
                            self.index_dir, exc, n)
                self._force_commit = True
                continue
            intact.append(info)
        self.commit_point = replace(self.commit_point, segments=tuple(intact))
        self._infos: list[SegmentInfo] = list(self.commit_point.segments)
        self._new_deletes: dict[str, set[int]] = {}
        self._pending = _Pending()
        self._writer: SegmentWriter | None = None
        self._writer_replaces: dict[str, tuple[str, int]] = {}
        self._uncommitted: list[str] = []  # finished segments no commit lists yet
        self._next_passage = self.commit_point.next_passage_id
        self._next_sentence = self.commit_point.next_sentence_id
        self._next_segment = self.commit_point.next_segment

    def _adopt(self, seg: Segment, deleted: np.ndarray) -> None:
        self.segments[seg.info.name] = seg
        self.deleted[seg.info.name] = deleted
        gone = set(deleted.tolist())
        for ord_, aid, h, path in seg.conn.execute("SELECT ord, id, content_hash, path FROM articles"):
            if ord_ not in gone:
                self.live[aid] = _Entry(seg.info.name, ord_, h, path)

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(discard=kind is not None)

    def close(self, *, discard: bool = False) -> None:
        """Release the lock. Uncommitted work is discarded (call ``commit()`` first to keep it)."""
        del discard  # uncommitted work is always dropped; the flag documents the caller's intent
        try:
            if self._writer is not None:
                self._writer.abort()
                self._writer = None
            self.segments = {}
            for name in self._uncommitted:  # finished, but no commit lists them: leftovers
                _remove(self.index_dir / name)
            self._uncommitted = []
        finally:
            self.lock.release()

    # -- changes -------------------------------------------------------------------------
    def upsert(self, article: Article) -> str:
        """Queue ``article``: "added", "updated" (it replaces an indexed version) or "unchanged"."""
        self._seen += 1
        entry = self.live.get(article.id)
        if entry is not None and entry.content_hash == article.content_hash:
            self.stats.unchanged += 1
            return "unchanged"
        queued = next((i for i, a in enumerate(self._pending.queue) if a.id == article.id), None)
        if queued is not None:  # the same id twice before it was embedded: the last one wins
            self._pending.chars -= len(self._pending.queue[queued].text)
            del self._pending.queue[queued]
        status = "updated" if entry is not None or queued is not None else "added"
        if entry is not None:
            self._pending.replaces[article.id] = (entry.segment, entry.ord)
            del self.live[article.id]
        self._pending.queue.append(article)
        self._pending.chars += len(article.text)
        if status == "added":
            self.stats.added += 1
        else:
            self.stats.updated += 1
        if self._pending.chars >= self._batch_chars:
            self._embed_queue()
        return status

    def delete(self, article_id: str) -> bool:
        """Remove an article; False when it is not indexed."""
        queued = next((i for i, a in enumerate(self._pending.queue) if a.id == article_id), None)
        if queued is not None:
            self._pending.chars -= len(self._pending.queue.pop(queued).text)
            old = self._pending.replaces.pop(article_id, None)
            if old is not None:
                self._mark_deleted(*old)
            self.stats.removed += 1
            return True
        entry = self.live.pop(article_id, None)
        if entry is None:
            return False
        self._mark_deleted(entry.segment, entry.ord)
        self.stats.removed += 1
        return True

    def _mark_deleted(self, segment: str, ord_: int) -> None:
        self._new_deletes.setdefault(segment, set()).add(ord_)

    def live_articles(self) -> dict[str, str | None]:
        """Every indexed article id with the path it was loaded from (queued ones included)."""
        out = {aid: e.path for aid, e in self.live.items()}
        out.update((a.id, a.path) for a in self._pending.queue)
        return out

    # -- embedding and segments ------------------------------------------------------------
    def _embed_queue(self) -> None:
        queue, replaces = self._pending.queue, self._pending.replaces
        self._pending = _Pending()
        if not queue:
            return
        prepared = self.preparer.prepare(queue)
        for item in prepared:
            self._write(item, replaces.pop(item.split.article.id, None))
        for aid, old in replaces.items():  # articles whose new version had nothing to embed
            self._writer_replaces[aid] = old
        self._embedded += len(queue)
        self._report("embedding")

    def _write(self, item: Prepared, replaces: tuple[str, int] | None) -> None:
        if self._writer is None:
            name = f"seg-{self._next_segment:06d}"
            self._next_segment += 1
            self._writer = SegmentWriter(self.index_dir, name, self.embedder.dim,
                                         self._next_passage, self._next_sentence)
        w = self._writer
        sp = item.split
        w.add(sp.article, sp.chunks, sp.sentences, item.passage_vecs, item.sentence_vecs)
        self.live[sp.article.id] = _Entry(w.name, w.counts.articles, sp.article.content_hash, sp.article.path)
        if replaces is not None:
            self._writer_replaces[sp.article.id] = replaces
        self.stats.passages_written += len(sp.chunks)
        self._next_passage, self._next_sentence = w.next_passage, w.next_sentence
        if w.counts.passages >= self.segment_passages:
            self._finish_segment()
            if not self.rebuild:
                self._commit()

    def _finish_segment(self) -> None:
        w = self._writer
        if w is None:
            return
        self._writer = None
        if w.empty:
            w.abort()
            return
        self._report("hubness")
        info = w.finish(lambda pv, pa, sv, sa: self._hubness(w.name, pv, pa, sv, sa), ann=build_ann)
        self._uncommitted.append(info.name)
        crash_point("segment-written")
        self._infos.append(info)
        self._adopt_new(info)
        for old in self._writer_replaces.values():
            self._mark_deleted(*old)
        self._writer_replaces = {}

    def _adopt_new(self, info: SegmentInfo) -> None:
        self.segments[info.name] = Segment(self.index_dir, info, mmap=False)
        self.deleted[info.name] = np.zeros(0, np.int64)

    def _bases(self, exclude: Iterable[str] = ()) -> tuple[list[Base], list[Base]]:
        """Passage and sentence neighbour bases over the live rows of every segment."""
        skip = set(exclude)
        p_bases, s_bases = [], []
        for info in self._infos:
            if info.name in skip:
                continue
            seg = self.segments[info.name]
            gone = self._deleted_now(info.name)
            p_keep = ~np.isin(seg.passage_articles, gone) if len(gone) else None
            s_keep = ~np.isin(seg.sentence_articles, gone) if len(gone) else None
            p_bases.append(Base(seg.passage_vectors, group_keys(info.name, seg.passage_articles), p_keep))
            s_bases.append(Base(seg.sentence_vectors, group_keys(info.name, seg.sentence_articles), s_keep))
        return p_bases, s_bases

    def _deleted_now(self, name: str) -> np.ndarray:
        extra = self._new_deletes.get(name)
        base = self.deleted.get(name, np.zeros(0, np.int64))
        if not extra:
            return base
        return np.union1d(base, np.fromiter(extra, np.int64, len(extra)))

    def _hubness(self, name: str, p_vecs: np.ndarray, p_art: np.ndarray, s_vecs: np.ndarray,
                 s_art: np.ndarray, exclude: Iterable[str] = ()) -> tuple[np.ndarray, np.ndarray]:
        """Hubness of a segment's rows against itself and every other live segment."""
        p_bases, s_bases = self._bases(exclude)
        pg, sg = group_keys(name, p_art), group_keys(name, s_art)
        p_hub = hub_from(neighbour_topk(p_vecs, pg, [*p_bases, Base(p_vecs, pg)]))
        s_hub = hub_from(neighbour_topk(s_vecs, sg, [*s_bases, Base(s_vecs, sg)]))
        return p_hub, s_hub

    # -- commits -------------------------------------------------------------------------
    def commit(self) -> Commit:
        """Make everything queued so far durable and visible to readers, in one commit."""
        self._embed_queue()
        self._finish_segment()
        for old in self._writer_replaces.values():
            self._mark_deleted(*old)
        self._writer_replaces = {}
        return self._commit()

    def _commit(self) -> Commit:
        gen = self.commit_point.generation + 1
        infos = []
        for info in self._infos:
            extra = self._new_deletes.get(info.name)
            if extra:
                info = self._write_deletes(info, gen, self._deleted_now(info.name))
            infos.append(info)
        new = self.commit_point.next(
            tuple(infos), next_passage_id=self._next_passage, next_sentence_id=self._next_sentence,
            next_segment=self._next_segment,
        )
        if new.segments == self.commit_point.segments and self.commit_point.generation > 0 \
                and not self.rebuild and not self._force_commit:
            return self.commit_point  # nothing changed: no commit
        self._force_commit = False
        write_commit(self.index_dir, new)
        self._uncommitted = []
        self.stats.commits += 1
        self._previous, self.commit_point = self.commit_point, new
        self._infos = list(new.segments)
        for info in new.segments:
            self.deleted[info.name] = load_deletes(self.index_dir, info)
        self._new_deletes = {}
        self.rebuild = False  # from here on the new index is the live one
        self._drop_unreferenced()
        return new

    def _write_deletes(self, info: SegmentInfo, gen: int, ords: np.ndarray) -> SegmentInfo:
        name = f"{info.name}/del-{gen:06d}.npy"
        path = self.index_dir / name
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(ords, np.int64))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
        crash_point("deletes-written")
        seg = self.segments[info.name]
        deleted_passages = int(np.isin(seg.passage_articles, ords).sum())
        files = (*(f for f in info.files if f.name != info.deletes), record(self.index_dir, path))
        return replace(info, deletes=name, deleted_articles=len(ords),
                       deleted_passages=deleted_passages, files=files)

    # -- merging -------------------------------------------------------------------------
    def maybe_merge(self) -> int:
        """Apply the merge policy until it has nothing to merge; returns the merges done."""
        done = 0
        while (run := self.policy.plan(self._infos)) is not None:
            self._merge([self._infos[i] for i in run])
            done += 1
        return done

    def compact(self) -> Commit:
        """Merge every segment into one, dropping deleted rows and refreshing all hubness."""
        self.commit()
        if self._infos:  # even one clean segment: the merge refreshes its hubness
            self._merge(list(self._infos))
        return self.commit_point

    def _merge(self, run: list[SegmentInfo]) -> None:
        self._report("merging")
        name = f"seg-{self._next_segment:06d}"
        self._next_segment += 1
        w = SegmentWriter(self.index_dir, name, self.embedder.dim, 0, 0)
        try:
            for info in run:
                w.copy_from(self.segments[info.name], self._deleted_now(info.name))
        except BaseException:
            w.abort()
            raise
        names = [i.name for i in run]
        if w.empty:
            w.abort()
            merged: list[SegmentInfo] = []
        else:
            info = w.finish(lambda pv, pa, sv, sa: self._hubness(name, pv, pa, sv, sa, exclude=names),
                            ann=build_ann)
            merged = [info]
            self._uncommitted.append(info.name)
            crash_point("merge-written")
        at = self._infos.index(run[0])
        self._infos[at:at + len(run)] = merged
        for n in names:
            self._new_deletes.pop(n, None)
        if merged:
            self._adopt_new(merged[0])
            self._relocate(names, merged[0].name)
        self.stats.merges += 1
        self._commit()
        for n in names:
            self.segments.pop(n, None)
            self.deleted.pop(n, None)

    def _relocate(self, old_names: list[str], new_name: str) -> None:
        """Point the live map at the merged segment's article numbers."""
        seg = self.segments[new_name]
        where = {aid: ord_ for ord_, aid in seg.conn.execute("SELECT ord, id FROM articles")}
        olds = set(old_names)
        for aid, e in self.live.items():
            if e.segment in olds:
                e.segment, e.ord = new_name, where[aid]

    # -- files -------------------------------------------------------------------------
    def _cleanup(self, live: Commit | None) -> None:
        """Remove what killed writers left: temporary files, and segment or deletion files that
        neither the live commit nor its predecessor lists."""
        keep_commits = [c for c in (live, self._predecessor(live)) if c is not None]
        self._remove_unreferenced(keep_commits)

    def _predecessor(self, live: Commit | None) -> Commit | None:
        if live is None:
            return None
        for gen in commit_generations(self.index_dir):
            if gen < live.generation:
                with contextlib.suppress(Exception):
                    return read_commit_file(self.index_dir / commit_name(gen))
        return None

    def _drop_unreferenced(self) -> None:
        keep = [self.commit_point] + ([self._previous] if self._previous is not None else [])
        self._remove_unreferenced(keep)

    def _remove_unreferenced(self, keep: list[Commit]) -> None:
        needed = {f.name for c in keep for f in c.files()}
        needed_dirs = {n.split("/", 1)[0] for n in needed}
        needed_commits = {c.name for c in keep}
        for p in self.index_dir.iterdir():
            name = p.name
            if name.startswith(".tmp-") or (name.startswith(".") and name.endswith(".tmp")):
                _remove(p)
            elif _SEG_NAME.match(name):
                if name not in needed_dirs:
                    _remove(p)
                    continue
                for f in p.iterdir():
                    rel = f"{name}/{f.name}"
                    if (f.name.startswith("del-") or f.name.startswith(".")) and rel not in needed:
                        _remove(f)
            elif name.startswith("commit-") and name.endswith(".json") and name not in needed_commits:
                _remove(p)

    def _report(self, phase: str) -> None:
        if self.progress is not None:
            self.progress(BuildProgress(self._seen, self._embedded, self.stats.passages_written, phase))


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


__all__ = ["POINTER", "BuildProgress", "IndexConfig", "IndexWriter", "WriteStats", "check_manifest"]
