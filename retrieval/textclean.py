"""Text helpers for the loaders: Markdown-ish markup to plain paragraphs, and date parsing.

Article bodies are plain text, one paragraph per block, blocks split by exactly one blank
line, so that sentence offsets stay stable and quotes read like the original article.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+)?"
# Only a time may follow a date, so "May 5, 2020 was ..." is a sentence, not a date line.
_TIME_TAIL = r"(?:[T\s,]+\d{1,2}:\d{2}\S*(?:\s+\S+){0,2})?\s*$"
_DATE_PATTERNS = [
    re.compile(
        r"(?P<y>\d{4})(?P<sep>[-/])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?:T\S*)?" + _TIME_TAIL
    ),
    re.compile(
        _WEEKDAY
        + r"(?P<mon>[a-z]+)\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})"
        + _TIME_TAIL,
        re.I,
    ),
    re.compile(
        _WEEKDAY + r"(?P<d>\d{1,2})(?:st|nd|rd|th)?[\s-]+(?P<mon>[a-z]+)\.?,?[\s-]+"
        r"(?P<y>\d{4})" + _TIME_TAIL,
        re.I,
    ),
]


def parse_date(value: str) -> str | None:
    """``YYYY-MM-DD`` for a date written alone (optionally with a time), else ``None``."""
    s = value.strip()
    for pattern in _DATE_PATTERNS:
        m = pattern.match(s)
        if not m:
            continue
        groups = m.groupdict()
        month = int(groups["m"]) if "m" in groups else _MONTHS.get(groups["mon"].lower())
        if month is None:
            continue
        try:
            return dt.date(int(groups["y"]), month, int(groups["d"])).isoformat()
        except ValueError:
            continue
    return None


def normalize_date(value: object) -> str | None:
    """``published`` as ``YYYY-MM-DD`` when it parses; otherwise the original text, kept."""
    if value is None:
        return None
    if isinstance(value, dt.date):  # YAML front matter parses bare dates itself
        return value.isoformat()[:10]
    s = str(value).strip()
    return (parse_date(s) or s) if s else None


def normalize_paragraphs(text: str) -> str:
    """Strip paragraphs, collapse whitespace inside them, separate them by one blank line."""
    paragraphs = (" ".join(p.split()) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paragraphs if p)


# Every pattern below stops at the next delimiter of its kind (a bracket, "**", "~~", ...), so
# each match attempt scans at most to that delimiter and a line costs time linear in its
# length. With ".+?" instead, 100 KB of "**a " took 221 s: every "**" scanned to the line's end.
_IMAGE = re.compile(r"!\[[^\[\]]*\]\([^()]*\)")
# One level of nested parentheses, for targets like Wikipedia's /Foo_(bar).
_LINK = re.compile(r"\[([^\[\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
_REF_LINK = re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]")
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^<>\s]+)>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)((?:(?!\1).)+?)(?<=\S)\1")
# Word boundaries keep snake_case names and 2*3*4 arithmetic intact.
_EM_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![\w*])")
_EM_UNDER = re.compile(r"(?<![\w_])_(?=[^\s_])([^_]+?)(?<=[^\s_])_(?![\w_])")
_STRIKE = re.compile(r"~~(?=\S)((?:(?!~~).)+?)(?<=\S)~~")
_CODE = re.compile(r"`([^`]+)`")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!>])")


# Every inline construct needs one of these; most lines of news have none.
_MARKUP_CHARS = re.compile(r"[\[\]*_~`<\\]")


def strip_inline(text: str) -> str:
    """Markdown inline markup to plain text: links keep their text, emphasis keeps its words."""
    if not _MARKUP_CHARS.search(text):
        return text
    s = _IMAGE.sub("", text)
    s = _LINK.sub(r"\1", s)
    s = _REF_LINK.sub(r"\1", s)
    s = _AUTOLINK.sub(r"\1", s)
    s = _CODE.sub(r"\1", s)
    for pattern in (_STRONG, _STRONG, _EM_STAR, _EM_UNDER, _STRIKE):
        # _STRONG twice: the inner one of "**a __b__ c**" only surfaces after the outer goes.
        s = pattern.sub(lambda m: m.group(m.lastindex or 0), s)
    s = s.replace("**", "")  # unbalanced leftovers from scraping
    return _ESCAPE.sub(r"\1", s)


@dataclass
class Block:
    """A paragraph-level piece of a Markdown body."""

    kind: str  # "prose", "heading", "item" or "code"
    text: str
    level: int = 0  # heading level


_FENCE = re.compile(r"^(```|~~~)")
# The heading's text is taken apart by hand (``_atx_heading``): a lazy ".*?" before an optional
# closing "###" retries that suffix at every character, quadratic in long runs of spaces.
_ATX = re.compile(r"^(#{1,6})\s+")
_SETEXT = re.compile(r"^(=+|-+)$")
_RULE = re.compile(r"^(?:(?:\*\s*){3,}|(?:-\s*){3,}|(?:_\s*){3,})$")
# Ordered items keep their number (lookahead): "2." carries meaning, a bullet does not.
_ITEM = re.compile(r"^(?:[-*+]\s+|(?=\d{1,3}[.)]\s))(.*)$")
_QUOTE = re.compile(r"^(?:>\s?)+")
_REF_DEF = re.compile(r"^\[[^\]]+\]:\s*\S+")
_LINK_ONLY = re.compile(r"^(?:(?:!?\[[^\]]*\]\([^)]*\)|<https?://[^>]+>)\s*)+$")
_RELATED = re.compile(r"^related (?:articles?|stor(?:y|ies))\s*:", re.I)


def _is_furniture(line: str) -> bool:
    return bool(
        _LINK_ONLY.match(line) or _REF_DEF.match(line) or _RELATED.match(strip_inline(line))
    )


def markdown_blocks(text: str) -> list[Block]:
    """Split a Markdown (or Markdown-flavoured plain text) body into cleaned blocks.

    Lines that are only a link (image credits, share buttons) and "Related article:" teasers
    are dropped: they are page furniture, not article text.
    """
    blocks: list[Block] = []
    lines: list[str] = []
    kind = "prose"
    fence: str | None = None

    def flush(as_kind: str | None = None, level: int = 0) -> None:
        nonlocal kind
        k = as_kind or kind
        joined = " ".join(lines) if k == "code" else strip_inline(" ".join(lines))
        joined = " ".join(joined.split())
        if joined:
            blocks.append(Block(k, joined, level))
        lines.clear()
        kind = "prose"

    for raw in text.splitlines():
        line = raw.strip()
        if fence is not None:
            if line.startswith(fence):
                flush("code")
                fence = None
            elif line:
                lines.append(line)
            continue
        if m := _FENCE.match(line):
            flush()
            fence = m.group(1)
            continue
        if not line:
            flush()
        elif _SETEXT.match(line) and lines and kind == "prose":
            flush("heading", 1 if line[0] == "=" else 2)
        elif _RULE.match(line):
            flush()
        elif m := _ATX.match(line):
            flush()
            lines.append(_atx_heading(line[m.end() :]))
            flush("heading", len(m.group(1)))
        elif _is_furniture(line):
            continue
        elif m := _ITEM.match(line):
            flush()
            kind = "item"
            lines.append(m.group(1))
        else:
            lines.append(_QUOTE.sub("", line))
    flush("code" if fence is not None else None)
    return blocks


def _atx_heading(rest: str) -> str:
    """The text of an ATX heading after its opening hashes, without the optional closing ones."""
    rest = rest.rstrip()
    bare = rest.rstrip("#")
    if bare != rest and bare and bare[-1].isspace():  # "Title ##", not "C#"
        return bare.rstrip()
    return rest


# Sentence-final punctuation, optionally followed by closing quotes or brackets.
_ENDS_SENTENCE = re.compile(r"[.!?:…][\"'”’»)\]]*$")
_STARTS_CONTINUATION = re.compile(r"^(?:[^\W_]|[\"'“”‘’«])")
# A shorter unpunctuated paragraph is more likely a subheading than half of a sentence.
_MIN_WORDS_TO_JOIN = 4
# How much of a paragraph's end is searched for a full stop and closing marks.
_TAIL = 64


def join_paragraphs(blocks: list[Block]) -> str:
    """Blocks as the article body, re-joining prose that scraping broke mid-sentence."""
    # Each paragraph is kept as its pieces and joined once at the end, and only a piece's end
    # is searched for a full stop: growing one string and searching all of it at every join
    # was quadratic (400 KB of short unpunctuated paragraphs took 120 s).
    paragraphs: list[list[str]] = []
    previous: Block | None = None
    for block in blocks:
        last = paragraphs[-1] if paragraphs else None
        if (
            last is not None
            and previous is not None
            and previous.kind == block.kind == "prose"
            and not _ENDS_SENTENCE.search(last[-1][-_TAIL:])
            and (len(last) > 1 or len(last[0].split(None, _MIN_WORDS_TO_JOIN)) >= _MIN_WORDS_TO_JOIN)
            and _STARTS_CONTINUATION.match(block.text)
        ):
            last.append(block.text)  # a paragraph that was joined before has enough words
        else:
            paragraphs.append([block.text])
        previous = block
    return "\n\n".join(" ".join(pieces) for pieces in paragraphs)


_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*(?=\s)")
# A cut looks this far back for a sentence end, and never keeps less than half the limit.
_CUT_LOOKBACK = 20_000


def cut_text(text: str, limit: int) -> tuple[str, str | None]:
    """``text`` cut to at most ``limit`` characters at the last paragraph end before the limit,
    else sentence end, else white space (within the last half), and which of those it cut at
    (``None``: not cut)."""
    if len(text) <= limit:
        return text, None
    head = text[:limit]
    floor = limit // 2
    paragraph = head.rfind("\n\n")
    if paragraph >= floor:
        return head[:paragraph].rstrip(), "paragraph"
    window_start = max(floor, limit - _CUT_LOOKBACK)
    last = None
    for last in _SENTENCE_END.finditer(head, window_start):  # noqa: B007 - the last one is wanted
        pass
    if last is not None:
        return head[: last.end()], "sentence"
    space = max(head.rfind(" "), head.rfind("\n"))
    if space >= floor:
        return head[:space].rstrip(), "word"
    return head, "character"


def fallback_title(text: str, limit: int = 80) -> str:
    """A title for an untitled article: its first sentence, cut at a word within ``limit``."""
    first = " ".join(text.split("\n\n", 1)[0].split())
    first = re.split(r"(?<=[.!?])\s+", first, maxsplit=1)[0]
    if len(first) <= limit:
        return first
    cut = first[: limit - 1].rsplit(" ", 1)[0] or first[: limit - 1]
    return cut.rstrip(",;:- ") + "…"


# Metadata is a line of text: a title, a url, a name. Longer values are cut (a 7 MB "title" once
# came out of a 278-byte YAML alias bomb); a list contributes at most this many items.
MAX_META_CHARS = 2_000
_MAX_META_ITEMS = 100


def meta_str(value: object, limit: int = MAX_META_CHARS, *, identifier: bool = False) -> str | None:
    """A metadata value as one line of text; YAML and JSON hand out numbers, dates, lists.

    Only scalars and flat lists of scalars are metadata: a nested value (what a YAML alias
    bomb expands to) is ignored rather than turned into text, which is where its cost was.
    An ``identifier`` (id, url) keeps distinct values distinct (``clean_identifier``).
    """
    if isinstance(value, list | tuple):
        items = (_scalar(v) for v in value[:_MAX_META_ITEMS])
        text = ", ".join(item for item in items if item)
    else:
        text = _scalar(value) or ""
    clean = clean_identifier if identifier else clean_string
    text = " ".join(clean(text[: limit * 2]).split())
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return text or None


def _scalar(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool | int | float):
        try:
            return str(value)
        except ValueError:  # an integer of more digits than Python will print
            return None
    return None


# Characters no article text holds: C0 and C1 controls other than white space, DEL, and lone
# surrogates (JSON's "\ud800" decodes to one, and UTF-8 cannot encode it, so the store could not
# write it).
_NOT_TEXT = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")


def clean_string(text: str) -> str:
    """``text`` without control characters, and with U+FFFD for each lone surrogate."""
    if not _NOT_TEXT.search(text):
        return text
    return _NOT_TEXT.sub(lambda m: "\ufffd" if m.group() >= "\ud800" else "", text)


def clean_identifier(text: str) -> str:
    """An id or path as valid UTF-8 that keeps distinct values distinct: no control characters,
    lone surrogates written as ``\\udXXX`` escapes (stable from run to run)."""
    text = _NOT_TEXT.sub(lambda m: m.group() if m.group() >= "\ud800" else "", text)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


_ORIGINAL_URL = re.compile(r"^original url:\s*(.*)$", re.I)
_URLISH = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|www\.)\S+$", re.I)


def pop_original_url(lines: list[str]) -> str | None:
    """Remove the trailing ``Original url:`` marker (and its URL line) and return the URL."""
    for i in range(len(lines) - 1, -1, -1):
        if "original url" not in lines[i][:200].lower():  # cheap, before the markup is stripped
            continue
        m = _ORIGINAL_URL.match(strip_inline(lines[i].strip()))
        if not m:
            continue
        drop, candidate = [i], m.group(1)
        if not candidate.strip():
            following = next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)
            if following is not None:
                drop.append(following)
                candidate = lines[following]
        url = strip_inline(candidate.strip()).strip("<> ")
        if not _URLISH.match(url):  # not a URL after all: keep that line as text
            drop, url = [i], ""
        for j in reversed(drop):
            del lines[j]
        return url or None
    return None
