"""Building an index from article files and folders: the ``citebot index`` operation.

Articles stream from the loaders into the writer (writer.py), which embeds only new and changed
ones and commits them as segments (segment.py, commit.py). Afterwards, articles that were
indexed from a file under one of the given paths and are no longer there are removed: their
file is gone from a folder that could be listed, or was read completely without them. A
folder that cannot be listed or a file that cannot be read says nothing about its articles,
so they are kept, with a warning. Articles that came from elsewhere (other folders, ``citebot
add`` urls, feeds) are never removed by indexing a folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .commit import read_live_commit
from .embedder import Embedder
from .envfaults import environment_faults
from .limits import LoadLimits
from .mergepolicy import MergePolicy
from .models import IndexReport
from .prepare import Preparer, passage_text
from .upgrade import has_old_layout
from .writer import BuildProgress, IndexConfig, IndexWriter, ProgressFn, check_manifest

__all__ = ["BuildProgress", "IndexConfig", "build_index", "check_manifest", "has_index",
           "passage_text"]


def has_index(index_dir: str | Path) -> bool:
    d = Path(index_dir)
    try:
        return read_live_commit(d, fallback=False) is not None or has_old_layout(d)
    except Exception:  # a damaged commit still means an index is there (opening says what is wrong)
        return True


def build_index(
    paths: Sequence[str | Path],
    index_dir: str | Path,
    config: IndexConfig,
    embedder: Embedder,
    *,
    rebuild: bool = False,
    progress: ProgressFn | None = None,
    wait: bool = True,
    notice: Any = None,
    policy: MergePolicy | None = None,
    segment_passages: int | None = None,
    preparer: Preparer | None = None,
    repair: bool = False,
    limits: LoadLimits | None = None,
) -> IndexReport:
    """Bring the index in ``index_dir`` in line with the articles under ``paths``."""
    with environment_faults(f"update the index in {index_dir}", Path(index_dir)):
        return _build(paths, Path(index_dir), config, embedder, rebuild=rebuild, progress=progress,
                      wait=wait, notice=notice, policy=policy, segment_passages=segment_passages,
                      preparer=preparer, repair=repair, limits=limits)


def _build(paths: Sequence[str | Path], index_dir: Path, config: IndexConfig, embedder: Embedder, *,
           rebuild: bool, progress: ProgressFn | None, wait: bool, notice: Any,
           policy: MergePolicy | None, segment_passages: int | None, preparer: Preparer | None,
           repair: bool, limits: LoadLimits | None) -> IndexReport:
    t0 = time.perf_counter()
    from .loaders import display_path, scan_articles  # only builds parse files

    given = [Path(p) for p in ([paths] if isinstance(paths, str | Path) else paths)]
    scan = scan_articles(given, limits)
    scan.report_ignored = False  # the summary counts them
    extra: dict[str, Any] = {}
    if segment_passages is not None:
        extra["segment_passages"] = segment_passages
    with IndexWriter(index_dir, config, embedder, rebuild=rebuild, wait=wait, notice=notice,
                     policy=policy, preparer=preparer, progress=progress, repair=repair, **extra) as w:
        seen: set[str] = set()
        for art in scan:
            seen.add(art.id)
            w.upsert(replace(art, path=os.path.abspath(art.path)) if art.path else art)
        kept = 0
        # Stored paths are display paths (valid UTF-8), so the roots are compared in that form.
        roots = [os.path.abspath(display_path(p)) for p in given]
        incomplete = {os.path.abspath(p) for p in scan.incomplete_files}
        unlisted = [os.path.abspath(p) for p in scan.unlisted_dirs]
        for aid, path in sorted(w.live_articles().items()):
            if aid in seen or not path or not _under(path, roots):
                continue
            if path in incomplete or _under(path, unlisted):
                kept += 1
                continue
            w.delete(aid)
        w.commit()
        merges = w.maybe_merge()
        commit = w.commit_point
        stats = w.stats
    return IndexReport(
        added=stats.added, updated=stats.updated, removed=stats.removed,
        unchanged=stats.unchanged, skipped=len(scan.skipped), passages=commit.passages,
        seconds=time.perf_counter() - t0, skipped_files=tuple(scan.skipped),
        ignored=len(scan.ignored), ignored_examples=tuple(scan.ignored[:3]), kept=kept,
        segments=len(commit.segments), merges=merges,
    )


def _under(path: str, roots: Sequence[str]) -> bool:
    p = os.path.abspath(path)
    return any(p == r or p.startswith(r.rstrip(os.sep) + os.sep) for r in roots)
