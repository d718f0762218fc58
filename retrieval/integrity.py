"""File checksums for commits: every file a commit references is recorded with its size and a
digest, as Lucene records a checksum in every segment file's footer.

xxHash's XXH3 (64-bit) is the digest: about 10 GB/s on one core here against 0.5-0.8 GB/s for
SHA-256 and zlib's CRC-32 (benchmarks/integrity.py). It detects damage (truncation, zeroed or
garbled blocks); it is not meant to resist someone forging files, which needs write access to
the index anyway. The algorithm is named in each digest, so a later change stays readable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ALGORITHM = "xxh3_64"
_CHUNK = 4 << 20
# Files up to this size are checksummed every time a segment is opened; bigger ones (vectors and
# SQLite files past a few hundred passages) only by ``citebot index --verify``, but their sizes
# always. At 16 MB, opening a 50k-passage index of nine segments hashed 258 MB (0.7 s of a cold
# `ask`, benchmarks/integrity.py); at 1 MB what is hashed stays a few MB whatever the index size,
# since the merge policy keeps only a few small segments.
SMALL_FILE = 1 << 20


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What a commit knows about one of its files."""

    name: str  # relative to the index directory
    size: int
    digest: str  # "xxh3_64:<hex>"

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "size": self.size, "digest": self.digest}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> FileRecord:
        return cls(str(d["name"]), int(d["size"]), str(d["digest"]))  # type: ignore[call-overload]


def digest_file(path: Path) -> str:
    import xxhash

    h = xxhash.xxh3_64()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return f"{ALGORITHM}:{h.hexdigest()}"


def digest_bytes(data: bytes) -> str:
    import xxhash

    return f"{ALGORITHM}:{xxhash.xxh3_64(data).hexdigest()}"


def record(root: Path, path: Path) -> FileRecord:
    """Size and digest of ``path``, named relative to ``root``."""
    return FileRecord(path.relative_to(root).as_posix(), os.path.getsize(path), digest_file(path))


def check(root: Path, rec: FileRecord, *, digest: bool) -> str | None:
    """None when the file matches its record, else what is wrong with it (one phrase)."""
    path = root / rec.name
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return "is missing"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if size != rec.size:
        return f"has {size} bytes, the commit recorded {rec.size}"
    if digest:
        try:
            got = digest_file(path)
        except OSError as exc:
            return f"cannot be read ({exc.strerror or exc})"
        if got != rec.digest:
            return "does not match its checksum (damaged)"
    return None


def problems(root: Path, records: tuple[FileRecord, ...] | list[FileRecord], *,
             full: bool = False) -> list[str]:
    """What is wrong with the given files ("seg-000002/passage_hub.npy does not match ...")."""
    out = []
    for rec in records:
        why = check(root, rec, digest=full or rec.size <= SMALL_FILE)
        if why is not None:
            out.append(f"{rec.name} {why}")
    return out
