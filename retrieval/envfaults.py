"""Faults of the environment as citebot errors: one line naming the path, the cause and the fix.

Disk full, permission denied, a read-only file system, a file where a folder belongs, a file
that vanished between listing and reading, a damaged or foreign SQLite file: the operating
system, SQLite and FAISS each report these their own way (``OSError`` errnos, ``sqlite3``
messages, FAISS ``RuntimeError`` texts with C++ stack context). ``translate`` maps all of them
into ``StorageError`` or ``IndexCorruptError``, and ``environment_faults`` wraps an operation so
that every command, the bot and the Python API report them alike.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import CitebotError, IndexCorruptError, StorageError

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_DENIED = {errno.EACCES, errno.EPERM}


def _where(exc: OSError, fallback: Path | None) -> str:
    name = exc.filename if exc.filename is not None else fallback
    return str(name) if name is not None else "a file"


def describe(exc: OSError, action: str, path: Path | None = None) -> StorageError:
    """One line for an ``OSError`` met while doing ``action`` ("update the index in X")."""
    where = _where(exc, path)
    code = exc.errno
    if code in _FULL:
        why = "the disk is full" if code != errno.EFBIG else "a file grew past the size limit"
        fix = "free some space (or raise the limit) and run it again"
    elif code in _DENIED:
        why, fix = f"permission denied for {where}", "give this user access to it, or use another path"
    elif code == errno.EROFS:
        why, fix = f"{where} is on a read-only file system", "use a writable path for this"
    elif code == errno.ENOTDIR:
        why, fix = f"{where} is a file where a folder is expected", "point the setting at a folder"
    elif code == errno.EISDIR:
        why, fix = f"{where} is a folder where a file is expected", "point it at a file"
    elif code == errno.ENOENT:
        why, fix = f"{where} does not exist (or vanished while citebot used it)", "check the path"
    else:
        why, fix = f"{exc.strerror or exc} ({where})", "check the path and the disk"
    return StorageError(f"cannot {action}: {why}; {fix}")


def translate(exc: BaseException, action: str, path: Path | None = None) -> CitebotError | None:
    """The citebot error for a fault of the environment, or None when ``exc`` is not one."""
    if isinstance(exc, CitebotError):
        return exc
    if isinstance(exc, OSError):
        return describe(exc, action, path)
    if isinstance(exc, sqlite3.Error):
        text = str(exc).lower()
        if "disk is full" in text or "database or disk is full" in text:
            return describe(OSError(errno.ENOSPC, "disk full", str(path) if path else None), action, path)
        if "disk i/o error" in text:
            return StorageError(f"cannot {action}: a write to the disk failed (SQLite: disk I/O error; the "
                                "disk may be full or failing); free some space or check the disk and run "
                                "it again")
        if "readonly" in text or "read-only" in text:
            return describe(OSError(errno.EROFS, "read-only", str(path) if path else None), action, path)
        if "unable to open" in text:
            return StorageError(f"cannot {action}: SQLite cannot open a file in {path}; check that the "
                                "folder exists and this user may read it")
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return IndexCorruptError(f"cannot {action}: a database file in {path} is damaged or is not "
                                     f"citebot's ({exc}); run `citebot index --verify --index {path}`")
        return None
    if isinstance(exc, RuntimeError) and "faiss" in str(exc).lower():
        first = str(exc).strip().splitlines()[-1][:160]
        if "No space left" in str(exc):
            return describe(OSError(errno.ENOSPC, "disk full", str(path) if path else None), action, path)
        return IndexCorruptError(f"cannot {action}: FAISS failed ({first}); run "
                                 f"`citebot index --verify --index {path}`")
    return None


@contextmanager
def environment_faults(action: str, path: Path | None = None) -> Iterator[None]:
    """Turn faults of the environment raised inside the block into one-line citebot errors."""
    try:
        yield
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        mapped = translate(exc, action, path)
        if mapped is None or mapped is exc:
            raise
        raise mapped from exc
