"""What each article format holds: text files to records of body text and metadata.

A parser takes decoded text and returns ``Record``s, or raises ``SkipError`` with the reason
the file (or JSON record) cannot be an article. Reading files, decoding bytes, limits on size
and the guard that turns any failure into a skipped file live in ``loaders``.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

from .front_matter import FrontMatterError, split_front_matter
from .jsonsafe import JSONTooDeepError, loads_bounded
from .limits import LoadLimits
from .textclean import (
    clean_string,
    join_paragraphs,
    markdown_blocks,
    meta_str,
    normalize_date,
    normalize_paragraphs,
    parse_date,
    pop_original_url,
    strip_inline,
)


class SkipError(Exception):
    """Why a file or record cannot be loaded; becomes a ``SkippedFile``, never escapes."""


@dataclass
class Record:
    text: str
    title: str | None = None
    url: str | None = None
    published: str | None = None
    source: str | None = None
    author: str | None = None
    id: str | None = None
    line: int | None = None  # where a JSON record starts, for messages
    anchor: int | None = None  # record number, for ids of records that have none


# (line, reason) of records of a file that could not be read.
Problems = list[tuple[int | None, str]]


def parse_whole(kind: str, text: str, limits: LoadLimits) -> tuple[list[Record], Problems]:
    """The records of a whole file of ``kind`` ("text", "markdown", "html", "json")."""
    if kind == "json":
        return parse_json(text, limits)
    if kind == "text":
        return [parse_text(text)], []
    if kind == "markdown":
        return [parse_markdown(text, limits)], []
    if kind == "html":
        return [parse_html(text)], []
    raise ValueError(f"not a whole-file kind: {kind}")


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


def _from_meta(meta: dict[str, Any], text: str, title: str | None = None) -> Record:
    """A record from front matter, a JSON object or trafilatura's metadata."""
    return Record(
        text=text,
        title=title or meta_str(_field(meta, "title")),
        url=meta_str(_field(meta, "url"), identifier=True),
        published=normalize_date(meta_str(_field(meta, "published"))),
        source=meta_str(_field(meta, "source")),
        author=meta_str(_field(meta, "author")),
        id=meta_str(_field(meta, "id"), identifier=True),
    )


# --- plain text, with the seed layout: title, [byline], date, body, "Original url:" --------

_HEADING_MARK = re.compile(r"^#+\s*")
_BYLINE = re.compile(r"^by\s+(.{1,80})$", re.I)


def parse_text(text: str) -> Record:
    lines = text.splitlines()
    url = pop_original_url(lines)
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        raise SkipError("no text besides the original url")
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
        raise SkipError("no text besides the original url")
    return Record(text=body, title=meta_str(title), url=url, published=published,
                  author=meta_str(author))


# --- Markdown ------------------------------------------------------------------------------


def parse_markdown(text: str, limits: LoadLimits) -> Record:
    try:
        metadata, content = split_front_matter(text, limits)
    except FrontMatterError as exc:
        raise SkipError(f"{exc}; fix or remove it") from exc
    except Exception as exc:  # YAML/JSON parsers raise their own types; all mean "bad header"
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SkipError(f"front matter is not valid YAML ({problem[:200]}); fix or remove it") from exc
    blocks = markdown_blocks(content)
    title = meta_str(metadata.get("title"))
    title = strip_inline(title) if title else None
    h1 = next((i for i, b in enumerate(blocks) if b.kind == "heading" and b.level == 1), None)
    if h1 is not None and (not title or (h1 == 0 and blocks[0].text.lower() == title.lower())):
        title = blocks.pop(h1).text
    body = join_paragraphs(blocks)
    if not body:
        raise SkipError("no body text")
    return _from_meta(metadata, body, meta_str(title))


# --- HTML ----------------------------------------------------------------------------------

# Bounded, so that a page of unclosed <title> tags costs no more than one scan each.
_TITLE_TAG = re.compile(r"<title[^>]{0,200}>(.{0,2000}?)</title\s*>", re.I | re.S)


def parse_html(text: str) -> Record:
    try:
        import trafilatura  # slow to import; only pay for it when there is HTML
    except ImportError as exc:
        raise SkipError(f"cannot read HTML: trafilatura does not import ({exc})") from exc
    try:
        doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False)
    except Exception as exc:  # a parser crash on one odd page must not stop the load
        raise SkipError(f"could not extract text from the HTML ({type(exc).__name__})") from exc
    # trafilatura 1.x returns a dict, 2.x a Document.
    data: dict[str, Any] = {} if doc is None else doc if isinstance(doc, dict) else doc.as_dict()
    title = meta_str(data.get("title"))
    if not title and (m := _TITLE_TAG.search(text)):
        title = meta_str(html.unescape(m.group(1)))
    lines = (" ".join(line.split()) for line in clean_string(data.get("text") or "").split("\n"))
    paragraphs = [p for p in lines if p]
    if paragraphs and title and paragraphs[0] == title:  # trafilatura repeats the headline
        paragraphs.pop(0)
    if not paragraphs:
        raise SkipError("no article text found in the HTML")
    return _from_meta(
        {**data, "source": data.get("sitename"), "id": None}, "\n\n".join(paragraphs), title
    )


# --- JSON Lines and JSON: records {"id", "title", "url", "published", "source", "text"} ----


def json_record(obj: Any, line: int | None, anchor: int | None) -> Record:
    """The record of one JSON object (a JSON Lines line, or an element of a JSON list)."""
    if not isinstance(obj, dict):
        raise SkipError(f"expected a JSON object, got {type(obj).__name__}")
    key = next((k for k in _ALIASES["text"] if isinstance(obj.get(k), str)), None)
    if key is None:
        others = ", ".join(f'"{k}"' for k in _ALIASES["text"][1:])
        raise SkipError(f'no "text" string (nor {others})')
    # Already plain text: only whitespace is normalised, no Markdown or paragraph repair.
    body = normalize_paragraphs(clean_string(obj[key]))
    if not body:
        raise SkipError(f'"{key}" is blank')
    record = _from_meta(obj, body)
    record.line, record.anchor = line, anchor
    return record


def load_json(text: str, limits: LoadLimits) -> Any:
    """``json.loads`` within the depth limit; ``SkipError`` with a one-line reason otherwise."""
    try:
        return loads_bounded(text, limits.max_json_depth)
    except JSONTooDeepError as exc:
        raise SkipError(f"JSON {exc} (LoadLimits.max_json_depth)") from exc
    except json.JSONDecodeError as exc:
        raise SkipError(f"not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from exc
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise SkipError(f"not valid JSON ({str(exc).split(':')[0][:200]})") from exc


def parse_json_line(text: str, lineno: int, limits: LoadLimits) -> Record:
    return json_record(load_json(text, limits), lineno, lineno)


def parse_json(text: str, limits: LoadLimits) -> tuple[list[Record], Problems]:
    data = load_json(text, limits)
    lines: list[int | None]
    if isinstance(data, list):
        lines = list(_element_lines(text, len(data)))
    elif isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]  # a NewsAPI-style response: {"status": ..., "articles": [...]}
        lines = [None] * len(data)
    elif isinstance(data, dict):
        return [json_record(data, None, None)], []
    else:
        raise SkipError("expected a JSON object or a list of objects")
    records: list[Record] = []
    problems: Problems = []
    for n, (obj, line) in enumerate(zip(data, lines, strict=True), start=1):
        try:
            records.append(json_record(obj, line, n))
        except SkipError as exc:
            problems.append((line, f"article {n}: {exc}" if line is None else str(exc)))
    return records, problems


def _element_lines(text: str, count: int) -> list[int | None]:
    """The line each element of a top-level JSON list starts on, for skip messages."""
    decoder = json.JSONDecoder()
    try:
        pos = _past_separators(text, text.index("[") + 1)
        line, counted = 1, 0
        lines: list[int | None] = []
        while pos < len(text) and text[pos] != "]":
            line += text.count("\n", counted, pos)
            counted = pos
            lines.append(line)
            _, pos = decoder.raw_decode(text, pos)
            pos = _past_separators(text, pos)
    except ValueError:  # the list parsed once already; never expected, but lines are a nicety
        return [None] * count
    return lines if len(lines) == count else [None] * count


def _past_separators(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n,":
        pos += 1
    return pos
