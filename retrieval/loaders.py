"""Load articles from files and folders: seed text, Markdown, HTML, JSON Lines and JSON.

A bad file never stops a load: it is skipped with a one-line reason, logged on the
``citebot.loaders`` logger and returned in ``LoadResult.skipped``. Only a path that does not
exist at all raises ``LoadError``, since that is almost always a typo in the command.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import html
import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import frontmatter

from retrieval.errors import LoadError
from retrieval.models import Article, SkippedFile
from retrieval.textclean import (
    fallback_title,
    join_paragraphs,
    markdown_blocks,
    meta_str,
    normalize_date,
    normalize_paragraphs,
    parse_date,
    pop_original_url,
    strip_inline,
)

log = logging.getLogger("citebot.loaders")

_FORMATS = {
    "text": "txt",
    "markdown": "md markdown",
    "html": "html htm",
    "jsonl": "jsonl",
    "json": "json",
}
EXTENSIONS = {f".{ext}": kind for kind, exts in _FORMATS.items() for ext in exts.split()}


@dataclass(frozen=True)
class LoadResult:
    articles: tuple[Article, ...]
    skipped: tuple[SkippedFile, ...]


class _SkipError(Exception):
    """Why a file or record cannot be loaded; becomes a ``SkippedFile``, never escapes."""


@dataclass
class _Record:
    text: str
    title: str | None = None
    url: str | None = None
    published: str | None = None
    source: str | None = None
    author: str | None = None
    id: str | None = None
    line: int | None = None  # where a JSON record starts, for messages
    anchor: int | None = None  # record number, for ids of records that have none


_Problems = list[tuple[int | None, str]]


def load_articles(paths: Sequence[str | Path]) -> LoadResult:
    """Load every article under ``paths`` (files, or folders walked recursively)."""
    given = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    for p in given:
        _require_exists(p)
    articles: list[Article] = []
    skipped: list[SkippedFile] = []
    seen_ids: dict[str, Article] = {}
    seen_files: set[Path] = set()
    for p in given:
        if p.is_dir():
            files, problems = _walk(p)
            skipped += problems
            found: list[tuple[Path, Path | None]] = [(f, p) for f in files]
        else:
            found = [(p, None)]
        for file, root in found:
            key = file.resolve()
            if key in seen_files:  # a file inside a folder that was also given: not a duplicate
                continue
            seen_files.add(key)
            items, bad = _load(file, root)
            kept, duplicates = _dedupe(items, seen_ids)
            articles += kept
            skipped += bad + duplicates
    return LoadResult(tuple(articles), tuple(skipped))


def load_file(path: Path, root: Path | None = None) -> tuple[list[Article], list[SkippedFile]]:
    """Load one file; ids fall back to its path relative to ``root`` (else its name)."""
    _require_exists(path)
    items, skipped = _load(path, root)
    kept, duplicates = _dedupe(items, {})
    return kept, skipped + duplicates


def _require_exists(path: Path) -> None:
    if not path.exists():
        raise LoadError(f"no such file or folder: {path}; pass a file or folder of articles")


def _skip(path: Path | str, reason: str, line: int | None = None) -> SkippedFile:
    skipped = SkippedFile(str(path), reason, line)
    log.warning("%s", skipped)
    return skipped


def _walk(folder: Path) -> tuple[list[Path], list[SkippedFile]]:
    files: list[Path] = []
    problems: list[SkippedFile] = []
    visited: set[str] = set()

    def unreadable(exc: OSError) -> None:
        problems.append(_skip(exc.filename, f"cannot list folder ({exc.strerror})"))

    # Symlinked folders are followed, but each real folder only once, so loops end.
    for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:
            dirnames[:] = []
            continue
        visited.add(real)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files += [
            Path(dirpath, name)
            for name in filenames
            if not name.startswith(".") and Path(name).suffix.lower() in EXTENSIONS
        ]
    return sorted(files, key=lambda f: f.relative_to(folder).parts), problems


def _load(
    path: Path, root: Path | None
) -> tuple[list[tuple[Article, int | None]], list[SkippedFile]]:
    kind = EXTENSIONS.get(path.suffix.lower())
    try:
        if not path.is_file():
            raise _SkipError("not a regular file")
        if kind is None:
            known = ", ".join(EXTENSIONS)
            raise _SkipError(f"unsupported file type {path.suffix or '(none)'!r}; use {known}")
        records, problems = _parse(kind, _read_text(path, kind))
    except _SkipError as exc:
        return [], [_skip(path, str(exc))]
    rel = path.name
    if root is not None:
        with contextlib.suppress(ValueError):  # a root that is not a parent: keep the name
            rel = path.relative_to(root).as_posix()
    return (
        [(_article(rec, path, rel), rec.line) for rec in records],
        [_skip(path, reason, line) for line, reason in problems],
    )


def _read_text(path: Path, kind: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _SkipError(f"cannot read it ({exc.strerror or exc})") from exc
    text = _decode(data, path, is_html=kind == "html")
    if not text.strip():
        raise _SkipError("empty file")
    return text


_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
# C0 controls that text files do not contain (tab, newlines and form feed are fine); random
# bytes hold about 12% of them, so a few percent means the file is not text in any encoding.
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\f")


def _decode(data: bytes, path: Path, is_html: bool) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _SkipError("damaged UTF-16 text; re-save it as UTF-8") from exc
    if b"\x00" in data:
        raise _SkipError("binary file, not text")
    try:
        return data.decode("utf-8-sig")  # also plain UTF-8; drops the BOM some editors write
    except UnicodeDecodeError:
        pass
    if len(data.translate(None, _CONTROL)) < len(data) * 0.98:
        raise _SkipError("binary file, not text")
    encoding = "cp1252"
    if is_html and (m := _META_CHARSET.search(data[:4096])):
        with contextlib.suppress(LookupError):
            encoding = codecs.lookup(m.group(1).decode("ascii")).name
    # Legacy news archives are mostly Windows-1252 (which browsers also assume for Latin-1);
    # guessing from the bytes alone misreads short English texts more often than this does.
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        encoding, text = "latin-1", data.decode("latin-1")
    log.info("%s is not UTF-8; read it as %s", path, encoding)
    return text


def _parse(kind: str, text: str) -> tuple[list[_Record], _Problems]:
    if kind == "jsonl":
        return _parse_jsonl(text)
    if kind == "json":
        return _parse_json(text)
    parser = {"text": _parse_text, "markdown": _parse_markdown, "html": _parse_html}[kind]
    return [parser(text)], []


def _article(rec: _Record, path: Path, rel: str) -> Article:
    title = " ".join((rec.title or "").split()) or fallback_title(rec.text)
    hashed = [title, rec.text, rec.url, rec.published, rec.source, rec.author]
    canonical = json.dumps(hashed, ensure_ascii=False, separators=(",", ":"))
    return Article(
        id=rec.id or rec.url or (rel if rec.anchor is None else f"{rel}#{rec.anchor}"),
        title=title,
        text=rec.text,
        url=rec.url,
        published=rec.published,
        source=rec.source,
        author=rec.author,
        path=str(path),
        content_hash=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
    )


def _dedupe(
    items: list[tuple[Article, int | None]], seen: dict[str, Article]
) -> tuple[list[Article], list[SkippedFile]]:
    kept: list[Article] = []
    duplicates: list[SkippedFile] = []
    for article, line in items:
        first = seen.get(article.id)
        if first is None:
            seen[article.id] = article
            kept.append(article)
        else:
            reason = f"duplicate id {article.id!r}, first loaded from {first.path}"
            duplicates.append(_skip(article.path or "", reason, line))
    return kept, duplicates


# Other tools' exports name the same fields differently (NewsAPI, cc_news, CNN/DailyMail, RSS
# converters); the first key present wins, in this order.
_ALIASES: dict[str, tuple[str, ...]] = {
    "text": ("text", "content", "body", "article", "document", "story"),
    "title": ("title", "headline"),
    "url": ("url", "link", "canonical_url"),
    "published": (
        "published", "date", "published_at", "publishedAt", "pubDate", "datePublished",
        "publish_date",
    ),
    "source": ("source", "site", "sitename", "publisher", "domain"),
    "author": ("author", "authors", "byline"),
    "id": ("id", "guid"),
}


def _field(meta: dict[str, Any], name: str) -> Any:
    for key in _ALIASES[name]:
        value = meta.get(key)
        if isinstance(value, dict):  # NewsAPI: "source": {"id": ..., "name": ...}
            value = value.get("name") or value.get("title")
        if value is not None and value != "":
            return value
    return None


def _from_meta(meta: dict[str, Any], text: str, title: str | None = None) -> _Record:
    """A record from front matter, a JSON object or trafilatura's metadata."""
    return _Record(
        text=text,
        title=title or meta_str(_field(meta, "title")),
        url=meta_str(_field(meta, "url")),
        published=normalize_date(_field(meta, "published")),
        source=meta_str(_field(meta, "source")),
        author=meta_str(_field(meta, "author")),
        id=meta_str(_field(meta, "id")),
    )


# --- plain text, with the seed layout: title, [byline], date, body, "Original url:" --------

_HEADING_MARK = re.compile(r"^#+\s*")
_BYLINE = re.compile(r"^by\s+(.{1,80})$", re.I)


def _parse_text(text: str) -> _Record:
    lines = text.splitlines()
    url = pop_original_url(lines)
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        raise _SkipError("no text besides the original url")
    title = strip_inline(_HEADING_MARK.sub("", lines[start].strip()))
    published: str | None = None
    author: str | None = None
    body_from = start + 1
    for i in range(start + 1, len(lines)):
        line = strip_inline(lines[i].strip())
        if not line:
            continue
        if published is None and (date := parse_date(line)):
            published = date
        elif author is None and (m := _BYLINE.match(line)):
            author = m.group(1).strip()
        else:
            break
        body_from = i + 1
    if published is None:  # no seed header, so a "By ..." line is body text, not a byline
        author, body_from = None, start + 1
    body = join_paragraphs(markdown_blocks("\n".join(lines[body_from:])))
    if not body:
        # A one-line note has no title line: that line is its body, and the title is derived.
        body, title = title, ""
    if not body:
        raise _SkipError("no text besides the original url")
    return _Record(text=body, title=title, url=url, published=published, author=author)


# --- Markdown ------------------------------------------------------------------------------


def _parse_markdown(text: str) -> _Record:
    try:
        post = frontmatter.loads(text)
    except Exception as exc:  # YAML/TOML parsers raise their own types; all mean "bad header"
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _SkipError(f"front matter is not valid YAML ({problem}); fix or remove it") from exc
    blocks = markdown_blocks(post.content)
    title = meta_str(post.metadata.get("title"))
    title = strip_inline(title) if title else None
    h1 = next((i for i, b in enumerate(blocks) if b.kind == "heading" and b.level == 1), None)
    if h1 is not None and (not title or (h1 == 0 and blocks[0].text.lower() == title.lower())):
        title = blocks.pop(h1).text
    body = join_paragraphs(blocks)
    if not body:
        raise _SkipError("no body text")
    return _from_meta(post.metadata, body, title)


# --- HTML ----------------------------------------------------------------------------------

_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)


def _parse_html(text: str) -> _Record:
    try:
        import trafilatura  # slow to import; only pay for it when there is HTML
    except ImportError as exc:
        raise _SkipError(f"cannot read HTML: trafilatura does not import ({exc})") from exc
    try:
        doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False)
    except Exception as exc:  # a parser crash on one odd page must not stop the load
        raise _SkipError(f"could not extract text from the HTML ({type(exc).__name__})") from exc
    # trafilatura 1.x returns a dict, 2.x a Document.
    data: dict[str, Any] = {} if doc is None else doc if isinstance(doc, dict) else doc.as_dict()
    title = meta_str(data.get("title"))
    if not title and (m := _TITLE_TAG.search(text)):
        title = meta_str(html.unescape(m.group(1)))
    lines = (" ".join(line.split()) for line in (data.get("text") or "").split("\n"))
    paragraphs = [p for p in lines if p]
    if paragraphs and title and paragraphs[0] == title:  # trafilatura repeats the headline
        paragraphs.pop(0)
    if not paragraphs:
        raise _SkipError("no article text found in the HTML")
    return _from_meta(
        {**data, "source": data.get("sitename"), "id": None}, "\n\n".join(paragraphs), title
    )


# --- JSON Lines and JSON: records {"id", "title", "url", "published", "source", "text"} ----


def _json_record(obj: Any, line: int | None, anchor: int | None) -> _Record:
    if not isinstance(obj, dict):
        raise _SkipError(f"expected a JSON object, got {type(obj).__name__}")
    key = next((k for k in _ALIASES["text"] if isinstance(obj.get(k), str)), None)
    if key is None:
        others = ", ".join(f'"{k}"' for k in _ALIASES["text"][1:])
        raise _SkipError(f'no "text" string (nor {others})')
    # Already plain text: only whitespace is normalised, no Markdown or paragraph repair.
    body = normalize_paragraphs(obj[key])
    if not body:
        raise _SkipError(f'"{key}" is blank')
    record = _from_meta(obj, body)
    record.line, record.anchor = line, anchor
    return record


def _parse_jsonl(text: str) -> tuple[list[_Record], _Problems]:
    records: list[_Record] = []
    problems: _Problems = []
    # split("\n"), not splitlines(): JSON strings may hold a raw U+2028 or U+0085.
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(_json_record(json.loads(line), lineno, lineno))
        except json.JSONDecodeError as exc:
            problems.append((lineno, f"not valid JSON ({exc.msg}, column {exc.colno})"))
        except _SkipError as exc:
            problems.append((lineno, str(exc)))
    return records, problems


def _parse_json(text: str) -> tuple[list[_Record], _Problems]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _SkipError(f"not valid JSON: {exc}") from exc
    lines: list[int | None]
    if isinstance(data, list):
        lines = list(_element_lines(text))
    elif isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]  # a NewsAPI-style response: {"status": ..., "articles": [...]}
        lines = [None] * len(data)
    elif isinstance(data, dict):
        return [_json_record(data, None, None)], []
    else:
        raise _SkipError("expected a JSON object or a list of objects")
    records: list[_Record] = []
    problems: _Problems = []
    for n, (obj, line) in enumerate(zip(data, lines, strict=True), start=1):
        try:
            records.append(_json_record(obj, line, n))
        except _SkipError as exc:
            problems.append((line, f"article {n}: {exc}" if line is None else str(exc)))
    return records, problems


def _element_lines(text: str) -> list[int]:
    """The line each element of a top-level JSON list starts on, for skip messages."""
    decoder = json.JSONDecoder()
    pos = _past_separators(text, text.index("[") + 1)
    line, counted, lines = 1, 0, []
    while pos < len(text) and text[pos] != "]":
        line += text.count("\n", counted, pos)
        counted = pos
        lines.append(line)
        _, pos = decoder.raw_decode(text, pos)
        pos = _past_separators(text, pos)
    return lines


def _past_separators(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n,":
        pos += 1
    return pos
