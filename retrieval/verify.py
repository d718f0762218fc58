"""``citebot index --verify``: check every file of an index against its commit, end to end.

Opening an index checks sizes always and checksums of small files (segment.py); this checks
everything: every file's checksum, SQLite's ``PRAGMA integrity_check`` on every segment database
and on the state database, the rows each segment holds against what its commit recorded, the
approximate indexes against their vectors, and whether the previous commit is still intact (so
that the fallback reader.py uses would work). Each problem is one line naming the file and the
command that fixes it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from .commit import Commit, commit_generations, commit_name, read_commit_file, read_live_commit
from .errors import CitebotError
from .integrity import problems
from .segment import SEGMENT_DB, Segment
from .state import state_path


@dataclass
class VerifyReport:
    commit: str | None = None
    segments: int = 0
    files: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_index(index_dir: Path) -> VerifyReport:
    report = VerifyReport()
    fix = (f"run `citebot index --repair PATH --index {index_dir}` (drops what is damaged and indexes "
           f"it again from PATH) or `citebot index --rebuild --index {index_dir}`")
    try:
        commit = read_live_commit(index_dir, fallback=False)
    except CitebotError as exc:
        report.problems.append(f"{exc}; the next `citebot index` falls back to the newest intact commit")
        commit = read_live_commit(index_dir)
    if commit is None:
        report.problems.append(f"no index in {index_dir}; build one with `citebot index --index {index_dir}`")
        return report
    report.commit = commit.name
    report.segments = len(commit.segments)
    for info in commit.segments:
        damage = problems(index_dir, info.files, full=True)
        report.files += len(info.files)
        report.bytes += sum(f.size for f in info.files)
        report.problems += [f"{d}; {fix}" for d in damage]
        if damage:
            continue
        try:
            seg = Segment(index_dir, info)
        except (OSError, ValueError, RuntimeError, sqlite3.Error) as exc:
            report.problems.append(f"{info.name} does not open ({exc}); {fix}")
            continue
        report.problems += [f"{info.name}/{SEGMENT_DB}: {p}; {fix}" for p in _check_segment(seg)]
        seg.close()
    _check_previous(index_dir, commit, report)
    _check_state(index_dir, report)
    return report


def _check_segment(seg: Segment) -> list[str]:
    out = []
    rows = seg.conn.execute("PRAGMA integrity_check").fetchall()
    if rows != [("ok",)]:
        out.append("integrity check failed: " + "; ".join(str(r[0]) for r in rows[:3]))
        return out
    info = seg.info
    counts = {t: seg.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("articles", "passages", "sentences")}
    want = {"articles": info.articles, "passages": info.passages, "sentences": info.sentences}
    for t, n in counts.items():
        if n != want[t]:
            out.append(f"holds {n} {t}, the commit recorded {want[t]}")
    ids = [r[0] for r in seg.conn.execute("SELECT id FROM passages ORDER BY id")]
    if ids != seg.passage_ids.tolist():
        out.append("passage rows and passage vectors disagree")
    if seg.ann is not None and (seg.ann.ntotal != info.passages or seg.ann.d != seg.dim):
        out.append(f"the approximate index holds {seg.ann.ntotal} vectors of {seg.ann.d} dimensions, "
                   f"the segment {info.passages} of {seg.dim}")
    return out


def _check_previous(index_dir: Path, live: Commit, report: VerifyReport) -> None:
    for gen in commit_generations(index_dir):
        if gen >= live.generation:
            continue
        try:
            prev = read_commit_file(index_dir / commit_name(gen))
        except CitebotError as exc:
            report.notes.append(f"the previous commit is damaged ({exc}); nothing to fall back to")
            return
        bad = problems(index_dir, [f for f in prev.files() if f not in set(live.files())], full=True)
        report.notes.append(f"previous commit {prev.name}: "
                            + ("intact" if not bad else f"damaged ({bad[0]})"))
        return


def _check_state(index_dir: Path, report: VerifyReport) -> None:
    path = state_path(index_dir)
    if not path.exists():
        return
    try:
        conn = connect_readonly_state(path)
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        conn.close()
    except sqlite3.Error as exc:
        report.problems.append(f"{path} is unreadable ({exc}); move it aside (feeds and votes are "
                               "lost) and citebot starts a new one")
        return
    if rows != [("ok",)]:
        report.problems.append(f"{path} fails its integrity check ({rows[0][0]}); move it aside "
                               "(feeds and votes are lost) and citebot starts a new one")


def connect_readonly_state(path: Path) -> sqlite3.Connection:
    from .segment import sqlite_uri

    return sqlite3.connect(sqlite_uri(path, mode="ro"), uri=True)


__all__ = ["VerifyReport", "verify_index"]
