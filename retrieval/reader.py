"""Opening an index for queries, and following it as writers commit.

``IndexReader.current()`` is called at the start of every question: it stats the ``COMMIT``
pointer (a microsecond) and, when a writer has committed since, opens the new commit's
segments (reusing the ones it already has open) before answering. So a long-lived reader (the
Discord bot, ``chat``, ``ask -``) answers from a new commit from the next question on, and a
question never sees two commits: it holds one ``View`` from start to end.

Segments a newer commit dropped are unlinked by the writer while old views may still use
them. That is safe because a ``Segment`` opens every file it needs when it is created (POSIX
keeps an unlinked file's data while it is open, and a memory map counts as open), and
``Segment`` objects are released only when no view refers to them any more. A reader that
finds a commit's files already gone (it read the pointer just before a merge removed them)
simply reads the pointer again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import numpy as np

from .commit import Commit, SegmentInfo, pointer_identity, read_live_commit
from .errors import IndexCorruptError, IndexMissingError
from .integrity import FileRecord, problems
from .segment import DamagedSegmentError, Segment
from .view import SegmentState, View

log = logging.getLogger("citebot.reader")

_RETRIES = 5


def damaged(index_dir: Path, what: str) -> IndexCorruptError:
    """The one-line error for damaged index files, naming the fix."""
    return IndexCorruptError(
        f"the index in {index_dir} is damaged ({what}); run `citebot index --index {index_dir}` to "
        f"drop the damaged part and re-index it from its files, or `citebot index --rebuild "
        f"--index {index_dir}`"
    )


def load_deletes(index_dir: Path, info: SegmentInfo) -> np.ndarray:
    """The deleted article numbers of a segment as its commit records them (checked first)."""
    if info.deletes is None:
        return np.zeros(0, np.int64)
    recs = [f for f in info.files if f.name == info.deletes]
    if damage := problems(index_dir, recs or [FileRecord(info.deletes, -1, "")]):
        raise DamagedSegmentError(info.name, damage)
    return np.asarray(np.load(index_dir / info.deletes, allow_pickle=False), np.int64)


class IndexReader:
    """Read-only access to the live commit of an index directory; safe to share between threads."""

    def __init__(self, index_dir: str | Path) -> None:
        self.index_dir = Path(index_dir)
        self._lock = threading.Lock()
        self._segments: dict[str, Segment] = {}
        self._identity: tuple[int, int, int] | None = None
        self._view = self._load()

    @property
    def view(self) -> View:
        """The view as of the last check (``current()`` checks for a newer commit)."""
        return self._view

    def current(self) -> View:
        """The newest committed view: what a question should answer from."""
        if pointer_identity(self.index_dir) != self._identity:
            self.refresh()
        return self._view

    def refresh(self) -> bool:
        """Switch to the live commit if a writer replaced ours; True when it did."""
        with self._lock:
            if pointer_identity(self.index_dir) == self._identity:
                return False
            old = self._view.commit.generation
            self._view = self._load()
            return self._view.commit.generation != old

    def _load(self) -> View:
        last: Exception | None = None
        for _ in range(_RETRIES):
            identity = pointer_identity(self.index_dir)
            try:
                commit = read_live_commit(self.index_dir)
                if commit is None:
                    raise IndexMissingError(
                        f"no index in {self.index_dir}; build one with "
                        f"`citebot index --index {self.index_dir}`"
                    )
                view = self._open(commit)
            except FileNotFoundError as exc:
                last = exc  # a newer commit removed these files meanwhile: read the pointer again
                continue
            except IndexCorruptError:
                if pointer_identity(self.index_dir) != identity:
                    continue  # replaced while being read
                raise
            self._identity = identity
            return view
        raise IndexCorruptError(
            f"the index in {self.index_dir} keeps changing under the reader or has missing files "
            f"({last}); run `citebot index --verify --index {self.index_dir}`"
        )

    def _open(self, commit: Commit) -> View:
        states = []
        segments: dict[str, Segment] = {}
        for info in commit.segments:
            # Segment names are never reused (the commit counts them), so a name already
            # open is the same files; only its deletions may have changed.
            seg = self._segments.get(info.name)
            if seg is None:
                try:
                    seg = Segment(self.index_dir, info)
                except FileNotFoundError:
                    raise
                except (OSError, ValueError, RuntimeError, sqlite3.Error) as exc:
                    raise damaged(self.index_dir, str(exc)) from exc
            segments[info.name] = seg
            try:
                deleted = load_deletes(self.index_dir, info)
            except (OSError, ValueError) as exc:
                raise damaged(self.index_dir, str(exc)) from exc
            states.append(SegmentState.make(seg, deleted))
        self._segments = segments
        return View(commit, states)

    def close(self) -> None:
        with self._lock:
            self._segments = {}
