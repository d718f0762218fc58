"""citebot's exceptions: one small tree, every message says how to fix the problem.

    CitebotError
    ├── InputError              bad question or cite text (empty, too long)
    ├── LoadError               an article file that cannot be read (skipped, never fatal in bulk)
    ├── IndexStateError         problems with the on-disk index
    │   ├── IndexMissingError   no index yet: run `citebot index`
    │   ├── IndexMismatchError  built with another model or settings: `citebot index --rebuild`
    │   ├── IndexEmptyError     the index holds no articles: `citebot index PATH`
    │   ├── IndexCorruptError   unreadable files: `citebot index --rebuild`
    │   └── IndexBusyError      another process is writing the index (``--no-wait``)
    ├── StorageError            the disk, a permission or a path stops an operation (envfaults.py)
    ├── ModelError              the embedding model cannot be loaded
    ├── ClusterError            ``--ray``: Ray is not installed, the cluster cannot be reached or
    │                           failed during a build (what was committed is kept)
    ├── NotFoundError           an article id or url that is not indexed
    └── FetchError              a URL or feed that cannot be fetched or read (one line; a watcher
        │                       logs it and retries the feed or entry with backoff)
        ├── UnsafeURLError      a scheme other than http/https, or a host on a private network
        │                       (CITEBOT_ALLOW_PRIVATE_URLS=1 allows those)
        └── FeedFormatError     fetched, but not a feed citebot reads (HTML, malformed XML)

Front ends catch ``CitebotError`` and print ``str(error)``: one line, no traceback.
"""

from __future__ import annotations


class CitebotError(Exception):
    """Base class: ``str(error)`` is a one-line message that names the fix."""

    exit_code = 1


class InputError(CitebotError, ValueError):
    exit_code = 2


class LoadError(CitebotError):
    pass


class IndexStateError(CitebotError):
    pass


class IndexMissingError(IndexStateError):
    pass


class IndexMismatchError(IndexStateError):
    pass


class IndexCorruptError(IndexStateError):
    pass


class IndexEmptyError(IndexStateError):
    pass


class IndexBusyError(IndexStateError):
    pass


class StorageError(CitebotError):
    pass


class ModelError(CitebotError):
    pass


class NotFoundError(CitebotError):
    pass


class ClusterError(CitebotError):
    pass


class FetchError(CitebotError):
    pass


class UnsafeURLError(FetchError):
    exit_code = 2


class FeedFormatError(FetchError):
    pass


__all__ = [
    "CitebotError",
    "ClusterError",
    "FeedFormatError",
    "FetchError",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexEmptyError",
    "IndexMismatchError",
    "IndexMissingError",
    "IndexStateError",
    "InputError",
    "LoadError",
    "ModelError",
    "NotFoundError",
    "StorageError",
    "UnsafeURLError",
]
