"""``.npy`` files written and read in row blocks, for builds whose memory must stay bounded.

``NpyAppender`` writes a 2-D (or 1-D) array block by block and fixes the header up at the end.
``NpyRows`` reads rows with ``pread`` instead of a memory map: a build that passes over every
vector of a large index (hubness, merges) would otherwise count all those mapped pages in its
resident set, although the page cache holds them anyway. Queries keep using memory maps, which
touch only the rows they score.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_HEADER = 128  # bytes reserved for an .npy header, rewritten with the final shape at the end


class NpyAppender:
    """An ``.npy`` file written row block by row block; the header is fixed up on close."""

    def __init__(self, path: Path, dtype: Any, width: int | None = None) -> None:
        self.path, self.dtype, self.width, self.rows = path, np.dtype(dtype), width, 0
        self._f: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._f.write(b"\0" * _HEADER)

    def append(self, block: np.ndarray) -> None:
        arr = np.ascontiguousarray(block, dtype=self.dtype)
        if self.width is not None:
            arr = arr.reshape(-1, self.width)
        self._f.write(arr.tobytes())
        self.rows += len(arr)

    def close(self) -> None:
        shape = (self.rows, self.width) if self.width is not None else (self.rows,)
        head = repr({"descr": self.dtype.str, "fortran_order": False, "shape": shape}).encode("latin1")
        pad = _HEADER - 10 - len(head) - 1
        if pad < 0:  # pragma: no cover - a shape repr never gets near 100 bytes
            raise ValueError("npy header too long")
        size = (len(head) + pad + 1).to_bytes(2, "little")
        self._f.seek(0)
        self._f.write(b"\x93NUMPY\x01\x00" + size + head + b" " * pad + b"\n")
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._f.close()


class NpyRows:
    """Read-only rows of an ``.npy`` file, fetched with ``pread`` on indexing.

    Supports what the build needs: ``len()``, ``.shape``, ``.dtype``, and indexing by an int, a
    slice with step 1, or an ascending integer array (consecutive rows are read in one call).
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(f)
            if fortran:
                raise ValueError(f"{path} is in Fortran order")
            self._offset = f.tell()
        self.path = path
        self.shape: tuple[int, ...] = tuple(shape)
        self.dtype = np.dtype(dtype)
        self._row = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        n = self.shape[0]
        if isinstance(key, int | np.integer):
            i = int(key) + (n if key < 0 else 0)
            return self._read(i, i + 1)[0]
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step != 1:
                raise IndexError("NpyRows reads slices with step 1 only")
            return self._read(start, max(start, stop))
        rows = np.asarray(key, np.int64)
        if rows.dtype == bool:  # pragma: no cover - callers pass row numbers
            raise IndexError("NpyRows takes row numbers, not masks")
        if not len(rows):
            return np.zeros((0, *self.shape[1:]), self.dtype)
        if np.any(np.diff(rows) < 0):
            raise IndexError("NpyRows reads ascending rows only")
        # Split into runs of consecutive rows; each run is one read.
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        parts = [self._read(int(r[0]), int(r[-1]) + 1) for r in np.split(rows, breaks)]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _read(self, lo: int, hi: int) -> np.ndarray:
        want = (hi - lo) * self._row
        buf = bytearray(want)
        view = memoryview(buf)
        got = 0
        while got < want:
            chunk = os.preadv(self._fd, [view[got:]], self._offset + lo * self._row + got)
            if chunk <= 0:
                raise ValueError(f"{self.path} is shorter than its header says")
            got += chunk
        return np.frombuffer(buf, self.dtype).reshape((hi - lo, *self.shape[1:]))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()
