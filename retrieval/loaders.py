"""Load articles from files and folders: seed text, Markdown, HTML, JSON Lines and JSON.

``scan_articles`` iterates articles lazily, one file at a time and a JSON Lines file line by
line, so a build holds one article at a time, plus the set of ids seen. ``load_articles`` and
``load_file`` collect a scan.

Every source (a file, a JSON Lines line, an element of a JSON list) is read inside one guard:
whatever goes wrong with it (a malformed record, an encoding that is not one, a symlink loop,
a parser's own exception) becomes a one-line warning naming the file and line, on the
``citebot.loaders`` logger, and a ``SkippedFile``; the scan goes on. With ``CITEBOT_DEBUG=1``
in the environment the warning carries the full stack, so internal errors stay visible. Only a
path that does not exist at all raises ``LoadError``, since that is almost always a typo.

Limits (``LoadLimits``) keep any single input cheap: text over ``max_text_chars`` is cut at a
paragraph or sentence end with a note, whole files over ``max_file_bytes`` (HTML:
``max_html_bytes``) and JSON Lines records over ``max_record_bytes`` are skipped, JSON nesting
and YAML alias expansion are bounded.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import re
import stat
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .decoding import Decoded, NotTextError, declared_charset, decode_bytes, looks_binary
from .errors import LoadError
from .formats import Record, SkipError, parse_json_line, parse_whole
from .limits import DEFAULT_LIMITS, LoadLimits
from .models import Article, SkippedFile
from .textclean import clean_identifier, clean_string, cut_text, fallback_title

log = logging.getLogger("citebot.loaders")

_FORMATS = {
    "text": "txt",
    "markdown": "md markdown",
    "html": "html htm",
    "jsonl": "jsonl",
    "json": "json",
}
EXTENSIONS = {f".{ext}": kind for kind, exts in _FORMATS.items() for ext in exts.split()}
_KNOWN = ", ".join(EXTENSIONS)
# Past this many skipped records of one file, the rest are counted in one line, not each logged.
_MAX_RECORD_WARNINGS = 20
# Two letters in a row: text without them (a few random bytes that happen to decode) is no article.
_WORD = re.compile(r"[^\W\d_]{2}")


@dataclass(frozen=True)
class LoadResult:
    articles: tuple[Article, ...]
    skipped: tuple[SkippedFile, ...]
    ignored: tuple[str, ...] = ()
    incomplete_files: frozenset[str] = field(default_factory=frozenset)
    unlisted_dirs: frozenset[str] = field(default_factory=frozenset)


def scan_articles(paths: Sequence[str | Path] | str | Path, limits: LoadLimits | None = None) -> ArticleScan:
    """Articles under ``paths`` (files, or folders walked recursively), read as they are iterated.

    Raises ``LoadError`` at once when a path does not exist; everything else is reported on
    the scan (``skipped``, ``ignored``, ``incomplete_files``, ``unlisted_dirs``) as it goes.
    """
    given = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    for p in given:
        _require_exists(p)
    return ArticleScan([(p, None) for p in given], limits or DEFAULT_LIMITS)


def load_articles(paths: Sequence[str | Path] | str | Path, limits: LoadLimits | None = None) -> LoadResult:
    """Every article under ``paths``, in memory (``scan_articles`` streams them)."""
    scan = scan_articles(paths, limits)
    articles = tuple(scan)
    return scan.result(articles)


def load_file(
    path: Path, root: Path | None = None, limits: LoadLimits | None = None
) -> tuple[list[Article], list[SkippedFile]]:
    """Load one file; ids fall back to its path relative to ``root`` (else its name)."""
    _require_exists(Path(path))
    scan = ArticleScan([(Path(path), root)], limits or DEFAULT_LIMITS)
    articles = list(scan)
    return articles, list(scan.skipped)


class ArticleScan(Iterator[Article]):
    """Iterates articles lazily, one file at a time (a JSON Lines file line by line).

    Same order and rules as ``load_articles``: folders recursively in name order, symlinked
    folders once, hidden files and folders skipped, a file given twice (or reached twice)
    read once, the second article with an id already seen skipped with a warning naming the
    first file. Ids fall back to the path relative to the given folder.
    """

    def __init__(self, sources: list[tuple[Path, Path | None]], limits: LoadLimits) -> None:
        self.limits = limits
        self.skipped: list[SkippedFile] = []  # grows during iteration
        self.ignored: list[str] = []  # files of unknown type inside the folders
        # Files that exist but could not be read completely (unreadable, damaged, or with some
        # records skipped) and folders that could not be listed: an update must KEEP the
        # articles it indexed earlier from these, since their absence now says nothing.
        # Duplicate ids do not count: the article was read, from another file first.
        self.incomplete_files: set[str] = set()
        self.unlisted_dirs: set[str] = set()
        self.articles_seen = 0
        self.report_ignored = True  # one warning line at the end; a build counts them instead
        self._seen_ids: dict[str, str] = {}  # id -> path of the file it came from first
        self._seen_files: set[str] = set()
        self._record_warnings = 0  # of the current file
        self._unlogged = 0
        self._iterator = self._scan(sources)

    def __iter__(self) -> ArticleScan:
        return self

    def __next__(self) -> Article:
        return next(self._iterator)

    def close(self) -> None:
        """Stop early; the files read so far stay reported."""
        self._iterator.close()

    def result(self, articles: Sequence[Article]) -> LoadResult:
        return LoadResult(
            tuple(articles), tuple(self.skipped), tuple(self.ignored),
            frozenset(self.incomplete_files), frozenset(self.unlisted_dirs),
        )

    # --- walking --------------------------------------------------------------------------

    def _scan(self, sources: list[tuple[Path, Path | None]]) -> Generator[Article, None, None]:
        for path, root in sources:
            if root is None and os.path.isdir(path):
                files: Iterator[tuple[Path, Path | None]] = self._walk(path)
            else:
                files = iter([(path, root)])
            for file, file_root in files:
                key = os.path.realpath(file)  # never raises, even on a symlink loop
                if key in self._seen_files:  # inside a folder that was also given: read once
                    continue
                self._seen_files.add(key)
                yield from self._file(file, file_root)
        if self.ignored and self.report_ignored:
            self._report_ignored()

    def _walk(self, folder: Path) -> Iterator[tuple[Path, Path]]:
        """Files under ``folder`` in the order of their relative paths, lazily."""
        visited = {os.path.realpath(folder)}
        stack = [iter(self._entries(folder))]
        while stack:
            entry = next(stack[-1], None)
            if entry is None:
                stack.pop()
                continue
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                try:
                    is_dir = entry.is_dir()  # follows symlinks
                except OSError:  # a symbolic link loop: reading it says so, if it is an article
                    is_dir = False
                if is_dir:
                    # Symlinked folders are followed, but each real folder once, so loops end.
                    real = os.path.realpath(path)
                    if real not in visited:
                        visited.add(real)
                        stack.append(iter(self._entries(path)))
                    continue
            except Exception as exc:  # the guard, for one entry of a folder
                self._fail(_shown(path), None, exc)
                continue
            if EXTENSIONS.get(path.suffix.lower()) is None:
                self.ignored.append(_shown(path))
            else:
                yield path, folder

    def _entries(self, folder: Path) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: e.name)
        except OSError as exc:
            shown = _shown(folder)
            self.unlisted_dirs.add(shown)
            self._skip(shown, f"cannot list folder ({exc.strerror or exc})", None, exc)
            return []

    def _report_ignored(self) -> None:
        n = len(self.ignored)
        files = "1 file" if n == 1 else f"{n:,} files"
        example = ": " if n == 1 else ", e.g. "
        log.warning("ignored: %s of unknown type%s%s (citebot reads %s)",
                    files, example, _printable(self.ignored[0]), _KNOWN)

    # --- one file -------------------------------------------------------------------------

    def _file(self, path: Path, root: Path | None) -> Iterator[Article]:
        self._record_warnings = self._unlogged = 0
        yield from self._file_articles(path, root)
        if self._unlogged:
            log.warning("skipped %s more records of %s (see the ones above)",
                        f"{self._unlogged:,}", _printable(_shown(path)))

    def _file_articles(self, path: Path, root: Path | None) -> Iterator[Article]:
        shown = _shown(path)
        rel = _relative_id(path, root)
        kind = EXTENSIONS.get(path.suffix.lower())
        if kind is None:
            unsupported = f"unsupported file type {path.suffix or '(none)'!r}; use {_KNOWN}"
            self._fail(shown, None, SkipError(unsupported))
            return
        if kind == "jsonl":
            yield from self._jsonl(path, shown, rel)
            return
        try:
            records, problems = self._whole(path, shown, kind)
        except Exception as exc:  # the guard: nothing about one file stops the scan
            self._fail(shown, None, exc)
            return
        for line, reason in problems:
            self._fail(shown, line, SkipError(reason))
        for rec in records:
            article = self._article_or_skip(rec, shown, rel)
            if article is not None:
                yield article

    def _whole(self, path: Path, shown: str, kind: str) -> tuple[list[Record], list[tuple[int | None, str]]]:
        if kind == "html":
            data = _read_bytes(path, self.limits.max_html_bytes, "max_html_bytes")
        else:
            data = _read_bytes(path, self.limits.max_file_bytes, "max_file_bytes")
        decoded = _decode(data, declared_charset(data) if kind == "html" else None)
        self._note_decoding(shown, None, decoded)
        text = clean_string(decoded.text)
        if not text.strip():
            raise SkipError("empty file")
        if kind in ("text", "markdown"):  # HTML and JSON are cut after parsing, as text
            text = self._cut(text, shown, None)
        return parse_whole(kind, text, self.limits)

    def _jsonl(self, path: Path, shown: str, rel: str) -> Iterator[Article]:
        fallback: str | None = None  # the encoding of this file's first line that was not UTF-8
        try:
            with _open_regular(path) as f:
                head = f.read(8192)
                f.seek(0)
                if not head.startswith((b"\xff\xfe", b"\xfe\xff")) and looks_binary(head):
                    raise SkipError("binary file, not text")
                for lineno, raw in _jsonl_lines(f, self.limits.max_record_bytes):
                    try:
                        record = None
                        if raw is None:
                            raise SkipError(
                                f"record is over {self.limits.max_record_bytes:,} bytes "
                                "(LoadLimits.max_record_bytes)"
                            )
                        text, fallback = self._line_text(raw, shown, lineno, fallback)
                        if text.strip():
                            record = parse_json_line(text, lineno, self.limits)
                    except Exception as exc:  # the guard, for one line
                        self._fail(shown, lineno, exc)
                        continue
                    if record is None:
                        continue
                    article = self._article_or_skip(record, shown, rel)
                    if article is not None:
                        yield article
        except Exception as exc:  # the guard, for the file (cannot open it, a read error)
            self._fail(shown, None, exc)

    def _line_text(
        self, raw: bytes | str, shown: str, lineno: int, fallback: str | None
    ) -> tuple[str, str | None]:
        if isinstance(raw, str):
            return raw, fallback
        try:
            return raw.decode("utf-8"), fallback
        except UnicodeDecodeError:
            pass
        if fallback is not None:
            with contextlib.suppress(UnicodeDecodeError):
                return raw.decode(fallback), fallback
        decoded = _decode(raw, None)
        if fallback is None:
            self._note_decoding(shown, lineno, decoded, first_of_file=True)
        return decoded.text, decoded.encoding

    def _article_or_skip(self, rec: Record, shown: str, rel: str) -> Article | None:
        try:
            article = self._article(rec, shown, rel)
        except Exception as exc:  # the guard, for one record
            self._fail(shown, rec.line, exc)
            return None
        first = self._seen_ids.get(article.id)
        if first is not None:
            reason = f"duplicate id {article.id!r}, first loaded from {first}"
            self._skip(shown, reason, rec.line, None)  # read fine: the file is complete
            return None
        self._seen_ids[article.id] = shown
        self.articles_seen += 1
        return article

    def _article(self, rec: Record, shown: str, rel: str) -> Article:
        text = self._cut(rec.text, shown, rec.line)
        rid = rec.id or rec.url or (rel if rec.anchor is None else f"{rel}#{rec.anchor}")
        return record_article(rec, text, rid, shown)

    def _cut(self, text: str, shown: str, line: int | None) -> str:
        limit = self.limits.max_text_chars
        cut, at = cut_text(text, limit)
        if at is not None:
            where = f"{_printable(shown)}:{line}" if line is not None else _printable(shown)
            log.warning(
                "%s: text is %s characters, over the limit of %s (LoadLimits.max_text_chars); "
                "kept the first %s, to the end of a %s", where, f"{len(text):,}", f"{limit:,}",
                f"{len(cut):,}", at,
            )
        return cut

    # --- reporting ------------------------------------------------------------------------

    def _note_decoding(
        self, shown: str, line: int | None, decoded: Decoded, first_of_file: bool = False
    ) -> None:
        if decoded.note is None:
            return
        where = f"{_printable(shown)}:{line}" if line is not None else _printable(shown)
        more = "; so are its other lines that are not UTF-8, where they can be" if first_of_file else ""
        log.log(logging.WARNING if decoded.warn else logging.INFO, "%s %s%s", where, decoded.note, more)

    def _fail(self, shown: str, line: int | None, exc: BaseException) -> None:
        self.incomplete_files.add(shown)
        self._skip(shown, _reason(exc), line, exc)

    def _skip(self, shown: str, reason: str, line: int | None, exc: BaseException | None) -> None:
        skipped = SkippedFile(shown, reason, line)
        self.skipped.append(skipped)
        if line is not None:
            self._record_warnings += 1
            if self._record_warnings > _MAX_RECORD_WARNINGS:
                self._unlogged += 1
                return
        where = f"{_printable(shown)}:{line}" if line is not None else _printable(shown)
        debug = exc is not None and _debug()
        log.warning("skipped %s: %s", where, _printable(reason), exc_info=exc if debug else None)


# --- reading ---------------------------------------------------------------------------------


def record_article(rec: Record, text: str, rid: str, shown: str) -> Article:
    """The article of a parsed record (``text``: its body, already cut to the limits); the
    content hash covers every field a reader sees, so any change to them is an update."""
    if not _WORD.search(text):
        raise SkipError("no words in the text (binary data?)")
    title = " ".join((rec.title or "").split()) or fallback_title(text)
    hashed = [title, text, rec.url, rec.published, rec.source, rec.author]
    canonical = json.dumps(hashed, ensure_ascii=False, separators=(",", ":"))
    return Article(
        id=clean_identifier(rid),
        title=title,
        text=text,
        url=rec.url,
        published=rec.published,
        source=rec.source,
        author=rec.author,
        path=shown,
        content_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
    )


def _require_exists(path: Path) -> None:
    # lexists: a broken or looping symbolic link exists; reading it is what fails, with a warning.
    if not os.path.lexists(path):
        raise LoadError(f"no such file or folder: {path}; pass a file or folder of articles")


def _open_regular(path: Path) -> IO[bytes]:
    """``path`` opened for reading, if it is a regular file (a FIFO would block forever)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = "a folder" if stat.S_ISDIR(mode) else "a device, FIFO or socket"
            raise SkipError(f"not a regular file ({what})")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_bytes(path: Path, limit: int, name: str) -> bytes:
    with _open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise SkipError(_too_large(size, limit, name, path.suffix.lower() == ".json"))
        data = f.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise SkipError(_too_large(len(data), limit, name, path.suffix.lower() == ".json"))
    return data


def _too_large(size: int, limit: int, name: str, is_json: bool) -> str:
    fix = ("; convert it to JSON Lines (one article per line), which is read a line at a time"
           if is_json else "; split it into one file per article")
    return f"file is {_bytes(size)}, over the {_bytes(limit)} limit (LoadLimits.{name}){fix}"


def _bytes(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:,.1f} MB".replace(".0 MB", " MB")
    return f"{n / 2**10:,.0f} KB"


def _jsonl_lines(f: IO[bytes], limit: int) -> Iterator[tuple[int, bytes | str | None]]:
    """``(line number, line)`` of a JSON Lines file; ``None`` for a line over ``limit`` bytes,
    which is skipped over without being held. UTF-16 files (by byte-order mark) yield text."""
    head = f.read(4)
    f.seek(0)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        yield from _text_lines(io.TextIOWrapper(f, encoding="utf-16", newline="\n"), limit)
        return
    lineno = 0
    while line := f.readline(limit + 1):
        lineno += 1
        if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield lineno, None
        else:
            yield lineno, line


def _text_lines(f: IO[str], limit: int) -> Iterator[tuple[int, str | None]]:
    lineno = 0
    while line := f.readline(limit + 1):
        lineno += 1
        if len(line) > limit and not line.endswith("\n"):
            while (rest := f.readline(1 << 20)) and not rest.endswith("\n"):
                pass
            yield lineno, None
        else:
            yield lineno, line


def _decode(data: bytes, declared: str | None) -> Decoded:
    try:
        return decode_bytes(data, declared)
    except NotTextError as exc:
        raise SkipError(str(exc)) from exc


# --- names and reasons -----------------------------------------------------------------------


def display_path(path: str | Path) -> str:
    """The path as citebot reports and stores it (``Article.path``, ``incomplete_files``):
    valid UTF-8, the same on every run. Compare other paths with these through it."""
    return _shown(Path(path))


def _shown(path: Path) -> str:
    """The path as citebot reports and stores it: valid UTF-8, the same on every run.

    A name with bytes that are not UTF-8 (Python holds them as lone surrogates) gets
    ``\\xNN`` escapes, as ``os.fsencode(name).decode("utf-8", "backslashreplace")``.
    """
    s = str(path)
    try:
        return os.fsencode(s).decode("utf-8", "backslashreplace")
    except UnicodeError:  # a lone surrogate that is not an escaped byte
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def _relative_id(path: Path, root: Path | None) -> str:
    rel = path.name
    if root is not None:
        with contextlib.suppress(ValueError):  # a root that is not a parent: keep the name
            rel = path.relative_to(root).as_posix()
    return _shown(Path(rel))


def _printable(text: str) -> str:
    """``text`` on one line: control characters (a newline in a file name) as escapes."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


_ERRNO_REASONS = {
    errno.ELOOP: "a symbolic link loop",
    errno.ENOENT: "a broken symbolic link, or the file was removed",
    errno.EACCES: "permission denied",
}


def _reason(exc: BaseException) -> str:
    """One line saying why a source could not be read; the exception type when unexpected."""
    if isinstance(exc, SkipError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "nested too deeply to read (RecursionError)"
    if isinstance(exc, MemoryError):
        return "too large to read into memory (MemoryError)"
    if isinstance(exc, OSError):
        known = _ERRNO_REASONS.get(exc.errno or 0)
        return f"cannot read it: {known or exc.strerror or exc}"
    if isinstance(exc, UnicodeDecodeError):
        return f"damaged text: {exc.reason} at byte {exc.start:,} ({exc.encoding})"
    message = " ".join(str(exc).split())[:200]
    return f"unexpected {type(exc).__name__}" + (f": {message}" if message else "")


def _debug() -> bool:
    # Read at the moment of the warning, so tests and a running build can switch it on.
    return os.environ.get("CITEBOT_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
