"""Which checksum for index files? XXH3, CRC32 and SHA-256 on the files of a real index, measured.

    python benchmarks/integrity.py [--index DIR]

Every file of a commit is recorded with its size and a checksum (retrieval/integrity.py).
Opening an index checks sizes always and checksums of small files; ``citebot index --verify``
checks every file. This measures the throughput of each candidate over the same bytes (files
read once into memory first, so the disk is out of the comparison), and what opening and a full
verify cost on the index given (default: the largest cached benchmark index).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

from _common import CACHE, add_common_args, append_results, md_table


def largest_index() -> Path:
    found = [p.parent for p in CACHE.rglob("COMMIT")]
    if not found:
        raise SystemExit("no cached index in benchmarks/.cache: run benchmarks/quality.py first, or pass --index")
    return max(found, key=lambda d: sum(f.stat().st_size for f in d.rglob("*") if f.is_file()))


def candidates() -> dict[str, Callable[[bytes], object]]:
    import xxhash

    return {
        "XXH3-64 (xxhash)": lambda b: xxhash.xxh3_64(b).digest(),
        "CRC32 (zlib)": zlib.crc32,
        "SHA-256 (hashlib)": lambda b: hashlib.sha256(b).digest(),
    }


def best_of(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--index", type=Path, default=None)
    add_common_args(p)
    args = p.parse_args(argv)
    index = args.index or largest_index()
    files = [f for f in sorted(index.rglob("*")) if f.is_file() and f.name != "write.lock"]
    blobs = [f.read_bytes() for f in files]
    total = sum(len(b) for b in blobs)
    rows = []
    for name, fn in candidates().items():
        secs = best_of(lambda fn=fn: [fn(b) for b in blobs])
        rows.append([name, f"{total / secs / 1e9:.2f} GB/s", f"{secs * 1000:.0f} ms"])
    from retrieval.reader import IndexReader
    from retrieval.verify import verify_index

    open_s = best_of(lambda: IndexReader(index).current())
    verify_s = best_of(lambda: verify_index(index), runs=1)
    body = (f"Index: `{index.relative_to(CACHE.parent.parent) if index.is_relative_to(CACHE.parent.parent) else index}`"
            f", {len(files)} files, {total / 1e6:.1f} MB (read into memory first).\n\n"
            + md_table(["checksum", "throughput", f"all {total / 1e6:.0f} MB"], rows)
            + "\n\n" + md_table(["operation", "time"], [
                ["open (sizes of all files, checksums of small files)", f"{open_s * 1000:.0f} ms"],
                ["`index --verify` (every checksum, SQLite integrity_check)", f"{verify_s * 1000:.0f} ms"]]))
    print(body)
    if not args.no_append:
        print(f"appended to {append_results('Integrity: checksums of index files', body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
