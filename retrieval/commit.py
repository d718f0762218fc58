"""Commit points: which immutable segments make up the index, and what has been deleted from them.

Layout of an index directory::

    INDEX_DIR/
      COMMIT                 name of the live commit file (replaced atomically)
      commit-000012.json     the live commit: segments, deletions, id counters, checksums
      commit-000011.json     the previous commit, kept until a newer one is verified
      seg-000003/            an immutable segment (see segment.py)
      seg-000003/del-000012.npy   deletions in seg-000003 as of commit 12 (immutable too)
      write.lock             held by the one writer (see lock.py)
      state.sqlite           mutable state outside commits: feeds, votes (see state.py)

A commit is written to a new file, flushed to disk, then named in ``COMMIT`` by an atomic
rename, as Lucene writes ``segments_N`` and SQLite commits a transaction: a reader sees the old
commit or the new one, never half of either. Every file a commit references is recorded with
its size and checksum; the commit file carries a checksum of its own text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import IndexCorruptError
from .faults import crash_point
from .integrity import FileRecord, digest_bytes

log = logging.getLogger("citebot.reader")

POINTER = "COMMIT"
FORMAT = 2  # format 1 was the single-generation layout (CURRENT + gen-N/), upgraded on open
_COMMIT_NAME = re.compile(r"^commit-(\d{6,})\.json$")


@dataclass(frozen=True, slots=True)
class Manifest:
    """What every segment of an index was built with; queries must use the same."""

    model: str
    dim: int
    passage_tokens: int
    passage_overlap: int
    encoder: str = "sentence-transformers"  # any encoder of the same model gives compatible vectors

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "dim": self.dim, "passage_tokens": self.passage_tokens,
                "passage_overlap": self.passage_overlap, "encoder": self.encoder}


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """One segment as a commit lists it."""

    name: str
    articles: int
    passages: int
    sentences: int
    first_passage: int  # ids of a segment form one contiguous range (merges join neighbours)
    last_passage: int
    first_sentence: int
    last_sentence: int
    files: tuple[FileRecord, ...]
    # Deleted articles, by their number in the segment (see segment.py), in an npy file of
    # their own so that a delete rewrites that small file, never the segment.
    deletes: str | None = None
    deleted_articles: int = 0
    deleted_passages: int = 0
    ann: str = "flat"  # the passage vector index kind (see vectors.py)

    @property
    def live_passages(self) -> int:
        return self.passages - self.deleted_passages

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "articles": self.articles, "passages": self.passages,
            "sentences": self.sentences, "first_passage": self.first_passage,
            "last_passage": self.last_passage, "first_sentence": self.first_sentence,
            "last_sentence": self.last_sentence, "deletes": self.deletes,
            "deleted_articles": self.deleted_articles, "deleted_passages": self.deleted_passages,
            "ann": self.ann, "files": [f.to_dict() for f in self.files],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SegmentInfo:
        return cls(
            name=str(d["name"]), articles=int(d["articles"]), passages=int(d["passages"]),
            sentences=int(d["sentences"]), first_passage=int(d["first_passage"]),
            last_passage=int(d["last_passage"]), first_sentence=int(d["first_sentence"]),
            last_sentence=int(d["last_sentence"]),
            files=tuple(FileRecord.from_dict(f) for f in d["files"]),
            deletes=d.get("deletes"), deleted_articles=int(d.get("deleted_articles", 0)),
            deleted_passages=int(d.get("deleted_passages", 0)), ann=str(d.get("ann", "flat")),
        )


@dataclass(frozen=True, slots=True)
class Commit:
    generation: int
    manifest: Manifest
    segments: tuple[SegmentInfo, ...] = ()
    next_passage_id: int = 0
    next_sentence_id: int = 0
    next_segment: int = 1
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    @property
    def name(self) -> str:
        return commit_name(self.generation)

    @property
    def articles(self) -> int:
        return sum(s.articles - s.deleted_articles for s in self.segments)

    @property
    def passages(self) -> int:
        return sum(s.live_passages for s in self.segments)

    @property
    def sentences(self) -> int:
        return sum(s.sentences for s in self.segments)

    def files(self) -> list[FileRecord]:
        return [f for s in self.segments for f in s.files]

    def next(self, segments: tuple[SegmentInfo, ...], **changes: Any) -> Commit:
        """The commit that follows this one, with new segments (and counters)."""
        return replace(self, generation=self.generation + 1, segments=segments,
                       created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **changes)

    def to_json(self) -> str:
        body = {
            "format": FORMAT, "generation": self.generation, "created": self.created,
            "manifest": self.manifest.to_dict(), "next_passage_id": self.next_passage_id,
            "next_sentence_id": self.next_sentence_id, "next_segment": self.next_segment,
            "segments": [s.to_dict() for s in self.segments],
        }
        text = json.dumps(body, indent=1, sort_keys=True)
        # The digest covers the text above, so a damaged commit file is told from a valid one.
        return json.dumps({"digest": digest_bytes(text.encode()), "commit": body}, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Commit:
        outer = json.loads(text)
        body = outer["commit"]
        inner = json.dumps(body, indent=1, sort_keys=True)
        if digest_bytes(inner.encode()) != outer["digest"]:
            raise ValueError("checksum mismatch")
        if body.get("format") != FORMAT:
            raise ValueError(f"format {body.get('format')}, this citebot reads {FORMAT}")
        return cls(
            generation=int(body["generation"]), manifest=Manifest(**body["manifest"]),
            segments=tuple(SegmentInfo.from_dict(s) for s in body["segments"]),
            next_passage_id=int(body["next_passage_id"]),
            next_sentence_id=int(body["next_sentence_id"]),
            next_segment=int(body["next_segment"]), created=str(body["created"]),
        )


def commit_name(generation: int) -> str:
    return f"commit-{generation:06d}.json"


def commit_generations(index_dir: Path) -> list[int]:
    """Generations of the commit files on disk, newest first."""
    out = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for name in os.listdir(index_dir):
            if m := _COMMIT_NAME.match(name):
                out.append(int(m.group(1)))
    return sorted(out, reverse=True)


def pointer_identity(index_dir: Path) -> tuple[int, int, int] | None:
    """Cheap identity of the live commit pointer: readers stat it before every question."""
    try:
        st = os.stat(index_dir / POINTER)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def read_commit_file(path: Path) -> Commit:
    try:
        return Commit.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"{path} is damaged ({exc})") from exc


def live_commit_name(index_dir: Path) -> str | None:
    """The file name ``COMMIT`` points at; None when there is no pointer."""
    try:
        name = (index_dir / POINTER).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"{index_dir / POINTER} is unreadable ({exc})") from exc
    if not _COMMIT_NAME.match(name):
        raise IndexCorruptError(f"{index_dir / POINTER} is damaged (it names {name[:40]!r})")
    return name


def read_live_commit(index_dir: Path, *, fallback: bool = True) -> Commit | None:
    """The commit ``COMMIT`` names, or None for a directory without an index.

    When the pointer or that commit file is damaged, the newest intact commit file is used
    instead (with a warning): commits are complete once their file exists, since every file
    they list was made durable before the commit file was written.
    """
    try:
        name = live_commit_name(index_dir)
        if name is None:
            return None
        path = index_dir / name
        if not path.exists():
            raise IndexCorruptError(f"{index_dir / POINTER} names {name}, which is missing")
        return read_commit_file(path)
    except IndexCorruptError as exc:
        if not fallback:
            raise
        for gen in commit_generations(index_dir):
            with contextlib.suppress(IndexCorruptError, OSError):
                commit = read_commit_file(index_dir / commit_name(gen))
                log.warning("%s; using %s, the newest intact commit (the next `citebot index` "
                            "repairs the pointer)", exc, commit.name)
                return commit
        raise


def write_commit(index_dir: Path, commit: Commit) -> None:
    """Write ``commit`` durably, then make it the live one atomically."""
    data = commit.to_json()
    path = index_dir / commit.name
    _write_durably(path, data)
    crash_point("commit-file-written")
    _write_durably(index_dir / POINTER, commit.name + "\n")
    crash_point("pointer-written")


def _write_durably(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def referenced_files(commits: Iterator[Commit] | list[Commit]) -> set[str]:
    """Every file name (relative to the index dir) that any of ``commits`` needs."""
    return {f.name for c in commits for f in c.files()}
