"""Opening an index for queries: the live generation's SQLite, FAISS and sentence vectors."""

from __future__ import annotations

import logging
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from . import vectors as vec
from .errors import IndexCorruptError
from .index import (
    DB_NAME,
    FAISS_NAME,
    HUBNESS,
    SENT_IDS,
    SENT_VECS,
    IndexConfig,
    Manifest,
    check_compatible,
    current_generation,
    read_manifest,
    require_generation,
)
from .store import Store

log = logging.getLogger("citebot.reader")


class IndexReader:
    """Read-only view of one generation; ``refresh()`` moves to a newer one if a build swapped it."""

    def __init__(self, index_dir: str | Path) -> None:
        self.index_dir = Path(index_dir)
        self._lock = threading.Lock()
        self._open(require_generation(self.index_dir))

    def _open(self, gen: Path) -> None:
        self.generation = gen
        self.manifest: Manifest = read_manifest(gen)
        try:
            self.store = Store(gen / DB_NAME, readonly=True)
            self.faiss: Any = vec.load(gen / FAISS_NAME)
            # Memory-mapped: a cold process touches only the rows of the sentences it scores.
            self.sentence_ids = np.load(gen / SENT_IDS)
            self.sentence_vecs = np.load(gen / SENT_VECS, mmap_mode="r")
            self._load_hubness(gen)
        except (OSError, RuntimeError, ValueError) as exc:
            raise IndexCorruptError(
                f"the index in {self.index_dir} is unreadable ({exc}); "
                f"run `citebot index --rebuild --index {self.index_dir}`"
            ) from exc

    def _load_hubness(self, gen: Path) -> None:
        # Indexes built before hubness existed have no file: their hubness reads as zero, which
        # ranks exactly as those versions did, until the next build adds it.
        n_sent = len(self.sentence_ids)
        self.passage_hub_ids = np.zeros(0, np.int64)
        self.passage_hub = np.zeros(0, np.float32)
        self.sentence_hub = np.zeros(n_sent, np.float32)
        if not (gen / HUBNESS).exists():
            return
        try:
            with np.load(gen / HUBNESS) as z:
                p_ids, p_hub, s_hub = z["passage_ids"], z["passage"], z["sentence"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            # Ranking without it still works; quietly worse answers would not be acceptable.
            log.warning(
                "%s is damaged (%s); answering without hubness. Run `citebot index --rebuild "
                "--index %s` to restore it", gen / HUBNESS, exc, self.index_dir,
            )
            return
        if len(p_ids) == len(p_hub) and len(s_hub) == n_sent:
            self.passage_hub_ids, self.passage_hub, self.sentence_hub = p_ids, p_hub, s_hub

    def check(self, config: IndexConfig, model_id: str) -> None:
        check_compatible(self.manifest, config, model_id, self.index_dir)

    def refresh(self) -> bool:
        """Switch to the live generation if a build replaced ours; True when it did."""
        gen = current_generation(self.index_dir)
        if gen is None or gen == self.generation:
            return False
        with self._lock:
            old = self.store
            self._open(gen)
            old.close()
        return True

    def sentence_vectors(self, ids: list[int]) -> np.ndarray:
        """float32 vectors of the given sentence ids, in order (zeros for unknown ids)."""
        rows, ok = _rows(self.sentence_ids, ids)
        out = np.zeros((len(ids), self.manifest.dim), np.float32)
        if ok.any():
            out[ok] = np.asarray(self.sentence_vecs[rows[ok]], dtype=np.float32)
        return out

    def sentence_hubs(self, ids: list[int]) -> np.ndarray:
        """Hubness of the given sentence ids, in order (0 for unknown ids)."""
        return _take(self.sentence_hub, *_rows(self.sentence_ids, ids))

    def passage_hubs(self, ids: list[int]) -> np.ndarray:
        """Hubness of the given passage ids, in order (0 for unknown ids)."""
        return _take(self.passage_hub, *_rows(self.passage_hub_ids, ids))

    def close(self) -> None:
        self.store.close()


def _rows(sorted_ids: np.ndarray, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``ids`` in ``sorted_ids``, and which of them are really there."""
    want = np.asarray(ids, np.int64)
    if not len(sorted_ids) or not len(want):
        return np.zeros(len(want), np.int64), np.zeros(len(want), bool)
    rows = np.clip(np.searchsorted(sorted_ids, want), 0, len(sorted_ids) - 1)
    return rows, sorted_ids[rows] == want


def _take(values: np.ndarray, rows: np.ndarray, ok: np.ndarray) -> np.ndarray:
    out = np.zeros(len(rows), np.float32)
    out[ok] = values[rows[ok]]
    return out
