"""One writer per index: an exclusive ``flock`` on ``INDEX_DIR/write.lock``.

The kernel releases the lock when its holder exits, however it exits (``kill -9`` included), so a
crashed build never leaves an index locked. The file holds the holder's pid and command for the
message a second writer prints; its content is informative only, the lock is the flock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .errors import IndexBusyError

LOCK_NAME = "write.lock"


class WriteLock:
    def __init__(self, index_dir: Path) -> None:
        self.path = index_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, *, wait: bool = True, notice: Callable[[str], None] | None = None) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._holder(fd)
                if not wait:
                    raise IndexBusyError(
                        f"the index in {self.path.parent} is being written by {holder}; wait for it "
                        "to finish, or leave out --no-wait to wait for it"
                    ) from None
                if notice is not None:
                    notice(f"waiting for {holder} to finish writing the index in {self.path.parent}")
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} ({' '.join(_command())})\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    @staticmethod
    def _holder(fd: int) -> str:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = os.pread(fd, 200, 0).decode().strip()
            if text:
                return text
        return "another process"

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def _command() -> list[str]:
    argv = [os.path.basename(sys.argv[0]) or "python", *sys.argv[1:3]]
    return [a[:40] for a in argv]
