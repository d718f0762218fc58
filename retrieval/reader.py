"""Opening an index for queries: the live generation's SQLite, FAISS and sentence vectors."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from . import vectors as vec
from .errors import IndexCorruptError
from .index import (
    DB_NAME,
    FAISS_NAME,
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
        except (OSError, RuntimeError, ValueError) as exc:
            raise IndexCorruptError(
                f"the index in {self.index_dir} is unreadable ({exc}); "
                f"run `citebot index --rebuild --index {self.index_dir}`"
            ) from exc

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
        if not ids:
            return np.zeros((0, self.manifest.dim), np.float32)
        want = np.asarray(ids, np.int64)
        rows = np.searchsorted(self.sentence_ids, want)
        rows = np.clip(rows, 0, max(len(self.sentence_ids) - 1, 0))
        ok = self.sentence_ids[rows] == want if len(self.sentence_ids) else np.zeros(len(want), bool)
        out = np.zeros((len(ids), self.manifest.dim), np.float32)
        if ok.any():
            out[ok] = np.asarray(self.sentence_vecs[rows[ok]], dtype=np.float32)
        return out

    def close(self) -> None:
        self.store.close()
