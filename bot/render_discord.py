"""Discord rendering: pure functions from retrieval results to embeds and short texts.

Nothing here touches the network, so every Discord limit is checked by plain unit tests.
Article text is untrusted: it is markdown-escaped so quotes display verbatim and cannot
break the source links, and every message goes out with ``ALLOWED_MENTIONS`` so an
``@everyone`` in an article or a question pings no one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import discord

from retrieval.errors import InputError
from retrieval.models import Answer, ArticleInfo, Match, Source

from .textout import WEAK_NOTE, dates_differ, quote_marker

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_NAME_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
CONTENT_LIMIT = 2000

# Long titles and URLs would crowd out the quotes; past these they are shortened or unlinked.
LINK_TITLE_CHARS = 200
MAX_URL_CHARS = 512
# A cut quote shorter than this says too little to be worth showing.
MIN_QUOTE_CHARS = 120
CLOSEST_SHOWN = 5
SOURCES_PER_PAGE = 10

ALLOWED_MENTIONS = discord.AllowedMentions.none()

ANSWER_COLOUR = discord.Colour.blurple()
NO_ANSWER_COLOUR = discord.Colour.light_grey()
WEAK_COLOUR = discord.Colour.gold()
CITE_COLOUR = discord.Colour.teal()

NOT_COVERED = "The indexed articles do not cover this."
NO_MATCH = "No indexed article says this."
NO_ARTICLES = "The index holds no articles yet."
ELLIPSIS = " …"

_SENTENCE_END = re.compile(r"[.!?…][\"”’»)\]]*(?=\s)")
_WORD_END = re.compile(r"\S(?=\s)")
_MD_SPECIAL = re.compile(r"([\\*_~`|\[\]()<>])")
_LINE_START_MD = re.compile(r"^([#\-+])")


# -- text helpers -------------------------------------------------------------------------
def escape_md(text: str) -> str:
    """Backslash-escape markdown so article text shows verbatim and cannot open a link."""
    return _LINE_START_MD.sub(r"\\\1", _MD_SPECIAL.sub(r"\\\1", text))


def _plain(text: str) -> str:
    return text


def _oneline(text: str) -> str:
    return " ".join(text.split())


def _longest_prefix(raw: str, cuts: Sequence[int], room: int, esc: Callable[[str], str]) -> int:
    """The largest cut position whose (escaped, stripped) prefix fits ``room``; 0 if none."""
    lo, hi, best = 0, len(cuts) - 1, 0
    while lo <= hi:  # escaped length grows with the prefix, so bisect
        mid = (lo + hi) // 2
        if len(esc(raw[: cuts[mid]].rstrip())) <= room:
            best, lo = cuts[mid], mid + 1
        else:
            hi = mid - 1
    return best


def clip(raw: str, limit: int, esc: Callable[[str], str] = _plain) -> str:
    """``esc(raw)`` in at most ``limit`` characters, cut at a sentence end if one fits,
    else at a word end, marked with an ellipsis. Cutting the raw text before escaping
    means an escape sequence is never split."""
    whole = esc(raw)
    if len(whole) <= limit:
        return whole
    room = limit - len(ELLIPSIS)
    if room <= 0:
        return ELLIPSIS.strip()[:limit]
    for pattern in (_SENTENCE_END, _WORD_END):
        cuts = [m.end() for m in pattern.finditer(raw)]
        pos = _longest_prefix(raw, cuts, room, esc)
        if pos:
            return esc(raw[:pos].rstrip()) + ELLIPSIS
    pos = _longest_prefix(raw, list(range(1, len(raw) + 1)), room, esc)
    return esc(raw[:pos]) + ELLIPSIS


def clip_content(text: str) -> str:
    """A plain message body within Discord's 2000 characters."""
    return clip(text, CONTENT_LIMIT)


def safe_url(url: str | None) -> str | None:
    """The URL if it can be a markdown link target; characters that would end the link early
    are percent-encoded. Non-web and absurdly long URLs are not linked at all."""
    if not url or len(url) > MAX_URL_CHARS:
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    for ch, code in (("(", "%28"), (")", "%29"), ("<", "%3C"), (">", "%3E"), (" ", "%20")):
        url = url.replace(ch, code)
    return None if any(c.isspace() for c in url) else url


def link(title: str, url: str | None, limit: int = LINK_TITLE_CHARS) -> str:
    """``[title](url)`` with the title escaped, or the plain escaped title without a usable URL."""
    text = clip(_oneline(title) or "Untitled", limit, escape_md)
    target = safe_url(url)
    return f"[{text}]({target})" if target else text


def _dated(published: str | None) -> str:
    return f" · {published}" if published else ""


# -- embed limits -------------------------------------------------------------------------
def _as_dict(embed: discord.Embed | Mapping[str, Any]) -> Mapping[str, Any]:
    return embed.to_dict() if isinstance(embed, discord.Embed) else embed


def embed_length(embed: discord.Embed | Mapping[str, Any]) -> int:
    """Discord's count towards the 6000 total: title, description, field names and values,
    footer text and author name."""
    d = _as_dict(embed)
    total = len(d.get("title") or "") + len(d.get("description") or "")
    for f in d.get("fields") or ():
        total += len(f.get("name") or "") + len(f.get("value") or "")
    total += len((d.get("footer") or {}).get("text") or "")
    total += len((d.get("author") or {}).get("name") or "")
    return total


def embed_problems(embed: discord.Embed | Mapping[str, Any]) -> list[str]:
    """Every Discord limit the embed breaks; empty when it can be sent."""
    d = _as_dict(embed)
    out = []
    checks = [
        ("title", len(d.get("title") or ""), TITLE_LIMIT),
        ("description", len(d.get("description") or ""), DESCRIPTION_LIMIT),
        ("fields", len(d.get("fields") or ()), FIELDS_LIMIT),
        ("footer", len((d.get("footer") or {}).get("text") or ""), FOOTER_LIMIT),
        ("author", len((d.get("author") or {}).get("name") or ""), AUTHOR_NAME_LIMIT),
        ("total", embed_length(d), EMBED_TOTAL_LIMIT),
    ]
    for i, f in enumerate(d.get("fields") or ()):
        checks.append((f"field {i} name", len(f.get("name") or ""), FIELD_NAME_LIMIT))
        checks.append((f"field {i} value", len(f.get("value") or ""), FIELD_VALUE_LIMIT))
        if not f.get("name") or not f.get("value"):
            out.append(f"field {i} is empty")
    out.extend(f"{what} is {n} characters, over {limit}" for what, n, limit in checks if n > limit)
    return out


def _pack_fields(name: str, lines: Sequence[str]) -> list[tuple[str, str]]:
    """Whole lines into as few field values as fit 1024 characters each."""
    fields: list[tuple[str, str]] = []
    cur: list[str] = []
    for line in lines:
        line = clip(line, FIELD_VALUE_LIMIT)
        if cur and len("\n".join([*cur, line])) > FIELD_VALUE_LIMIT:
            fields.append((name if not fields else f"{name} (continued)", "\n".join(cur)))
            cur = []
        cur.append(line)
    if cur:
        fields.append((name if not fields else f"{name} (continued)", "\n".join(cur)))
    return fields[:FIELDS_LIMIT]


def _fill(
    blocks: Sequence[Callable[[int], str | None]], limit: int, sep: str = "\n\n"
) -> tuple[str, int]:
    """Join blocks until ``limit``; each block is asked for itself within the room left and
    may answer None when it cannot say anything useful in it. Returns (text, blocks used)."""
    parts: list[str] = []
    for make in blocks:
        room = limit - sum(len(p) for p in parts) - len(sep) * len(parts)
        block = make(room) if room > 0 else None
        if block is None or len(block) > room:
            break
        parts.append(block)
    return sep.join(parts), len(parts)


# -- answers ------------------------------------------------------------------------------
def _quote_block(text: str, marker: str) -> Callable[[int], str | None]:
    def make(room: int) -> str | None:
        budget = room - len("> ") - len(marker) - 1
        if budget < min(MIN_QUOTE_CHARS, len(escape_md(text))):
            return None
        return f"> {clip(_oneline(text), budget, escape_md)} {marker}"

    return make


def _source_line(s: Source) -> str:
    return f"**[{s.n}]** {link(s.title, s.url)}{_dated(s.published)}"


def _answer_attempt(ans: Answer, title: str, max_quotes: int) -> discord.Embed:
    dated = dates_differ(ans)
    blocks = [_quote_block(q.text, quote_marker(q.n, q.published, dated)) for q in ans.quotes[:max_quotes]]
    description, used = _fill(blocks, DESCRIPTION_LIMIT)
    cited = {q.n for q in ans.quotes[:used]}
    lines = [_source_line(s) for s in sorted(ans.sources, key=lambda s: s.n) if s.n in cited]
    total = len(ans.quotes)
    footer = "Verbatim quotes from the indexed articles; [n] marks the source."
    if ans.period:
        footer = f"{ans.period}. {footer}"
    if ans.weak:
        footer = WEAK_NOTE + " " + footer
    if used < total:
        footer += f" Showing {used} of {total} quotes."
    colour = WEAK_COLOUR if ans.weak else ANSWER_COLOUR
    embed = discord.Embed(title=title, description=description, colour=colour)
    for name, value in _pack_fields("Sources", lines):
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=footer)
    return _note_followup(embed, ans)


def followup_note(earlier_question: str) -> str:
    """The line above a follow-up's answer saying which earlier question it built on."""
    return clip(f"Following up on: {_oneline(earlier_question)}", AUTHOR_NAME_LIMIT)


def _note_followup(embed: discord.Embed, ans: Answer) -> discord.Embed:
    # The author line sits above the title in small type and is plain text (no markdown).
    if ans.followup_of:
        embed.set_author(name=followup_note(ans.followup_of))
    return embed


def answer_embed(ans: Answer) -> discord.Embed:
    """Each quote as a block quote ending in its ``[n]``, then the numbered sources as links
    with dates; the no-answer case says the articles do not cover the question."""
    title = clip(_oneline(ans.question) or "Answer", TITLE_LIMIT)
    if not ans.answered or not ans.quotes:
        return _no_answer_embed(ans, title)
    # Fewer quotes mean fewer sources too, so drop quotes from the end until all fits.
    for shown in range(len(ans.quotes), 0, -1):
        embed = _answer_attempt(ans, title, shown)
        if embed.description and embed_length(embed) <= EMBED_TOTAL_LIMIT:
            return embed
    return embed  # one quote and its one source always fit; kept for the type checker


def _fixed(text: str) -> Callable[[int], str | None]:
    return lambda room: text if len(text) <= room else None


def _no_answer_embed(ans: Answer, title: str) -> discord.Embed:
    description = NOT_COVERED if not ans.period else f"{NOT_COVERED} ({ans.period}.)"
    if ans.closest:
        shown = ans.closest[:CLOSEST_SHOWN]
        lines = [f"• {link(s.title, s.url)}{_dated(s.published)}" for s in shown]
        listing, _ = _fill([_fixed(ln) for ln in lines], DESCRIPTION_LIMIT - 200, "\n")
        if listing:
            description += "\n\nClosest articles:\n" + listing
    return _note_followup(discord.Embed(title=title, description=description, colour=NO_ANSWER_COLOUR), ans)


# -- citation lookup ----------------------------------------------------------------------
def _match_block(i: int, m: Match) -> Callable[[int], str | None]:
    verdict = "**Verbatim**" if m.verbatim else f"**Paraphrase** (similarity {m.score:.2f})"
    tail = f"\n**[{i}]** {verdict} in {link(m.title, m.url)}{_dated(m.published)}"
    return _quote_block_with_tail(m.text, tail)


def _quote_block_with_tail(text: str, tail: str) -> Callable[[int], str | None]:
    def make(room: int) -> str | None:
        budget = room - len("> ") - len(tail)
        if budget < min(MIN_QUOTE_CHARS, len(escape_md(text))):
            return None
        return f"> {clip(_oneline(text), budget, escape_md)}{tail}"

    return make


def cite_embed(query: str, matches: Sequence[Match]) -> discord.Embed:
    """Where a text comes from: each matching sentence quoted, marked verbatim or paraphrase,
    with its article linked."""
    title = clip(f"Find source: “{_oneline(query)}”", TITLE_LIMIT)
    if not matches:
        return discord.Embed(title=title, description=NO_MATCH, colour=NO_ANSWER_COLOUR)
    blocks = [_match_block(i, m) for i, m in enumerate(matches, 1)]
    description, used = _fill(blocks, DESCRIPTION_LIMIT)
    embed = discord.Embed(title=title, description=description or NO_MATCH, colour=CITE_COLOUR)
    footer = "Verbatim: word for word in the article. Paraphrase: the same claim in other words."
    if used < len(matches):
        footer += f" Showing {used} of {len(matches)} matches."
    embed.set_footer(text=footer)
    return embed


# -- sources ------------------------------------------------------------------------------
def sources_pages(
    items: Sequence[ArticleInfo], per_page: int = SOURCES_PER_PAGE
) -> list[discord.Embed]:
    """The indexed articles with dates and links, as pages that each fit one embed."""
    per_page = max(1, per_page)
    count = len(items)
    title = f"Indexed articles ({count})"
    if not items:
        return [discord.Embed(title=title, description=NO_ARTICLES, colour=NO_ANSWER_COLOUR)]
    lines = [
        f"**{i}.** {link(a.title, a.url)}{_dated(a.published)}" for i, a in enumerate(items, 1)
    ]
    pages: list[list[str]] = [[]]
    for line in lines:
        page = pages[-1]
        if page and (len(page) >= per_page or len("\n".join([*page, line])) > DESCRIPTION_LIMIT):
            pages.append([])
        pages[-1].append(clip(line, DESCRIPTION_LIMIT))
    out = []
    for k, page in enumerate(pages, 1):
        embed = discord.Embed(title=title, description="\n".join(page), colour=ANSWER_COLOUR)
        if len(pages) > 1:
            embed.set_footer(text=f"Page {k} of {len(pages)}")
        out.append(embed)
    return out


# -- short messages -----------------------------------------------------------------------
def error_message(exc: BaseException | None = None) -> str:
    """What the user sees when a command fails: the fix for bad input, else a short apology
    (the traceback goes to the log, never to the channel)."""
    if isinstance(exc, InputError):
        return clip_content(f"Sorry, {exc}.")
    return "Sorry, something went wrong while answering. It is logged; please try again shortly."


def out_of_date_message() -> str:
    return ("This command is out of date: the bot was updated after Discord last saw its commands. "
            "It works again once whoever runs the bot re-syncs them (`citebot discord --sync`).")


def send_failed_message(exc: BaseException | None = None) -> str:
    """Shown in place of an answer Discord refused to post (a missing permission, say)."""
    why = getattr(exc, "text", "") or ""
    detail = f" (Discord said: {clip(_oneline(why), 200)})" if why else ""
    return clip_content(
        f"Sorry, I could not post the answer here{detail}. A server admin can check my "
        "permissions in this channel (Send Messages, Embed Links, threads)."
    )


THREAD_NAME_LIMIT = 100  # Discord's limit for channel and thread names


def thread_name(question: str) -> str:
    """A thread's name: the question on one line, within Discord's 100 characters."""
    return clip(_oneline(question), THREAD_NAME_LIMIT) or "Question"


def thread_starter(question: str) -> str:
    """The channel message a /ask thread hangs from: the question, and where its answer is."""
    return clip_content(f"**Q:** {clip(_oneline(question), 1800, escape_md)}\nThe answer is in the thread.")


def shared_by(mention: str) -> str:
    return f"Shared by {mention}"


def vote_ack(outcome: str, up: bool) -> str:
    mark = "👍" if up else "👎"
    if outcome == "unchanged":
        return f"You already gave this answer a {mark}."
    if outcome == "changed":
        return f"Changed your vote to {mark}. Thanks!"
    return f"Thanks, your {mark} is recorded. It helps check which answers work."


def vote_gone() -> str:
    return "This answer is too old to vote on; ask again for a fresh one."


def already_shared() -> str:
    return "You already shared this to the channel."


def nothing_to_share() -> str:
    return "There is nothing here to share."


def cooldown_message(retry_after: float) -> str:
    return f"You're asking quickly; try again in {max(1, math.ceil(retry_after))}s."


def channel_message() -> str:
    return "I only answer in the channels this server has set up for me."


def help_message(bot_name: str = "citebot") -> str:
    name = clip(bot_name, 80, escape_md)
    return clip_content(
        f"Ask me about the indexed news articles: mention me with a question "
        f"(`@{name} what did the border service say?`), or use `/ask`, `/cite` and `/sources`. "
        "Right-click a message and choose Apps > Find source to look up where its text comes from."
    )


__all__ = [
    "ALLOWED_MENTIONS",
    "CONTENT_LIMIT",
    "DESCRIPTION_LIMIT",
    "EMBED_TOTAL_LIMIT",
    "FIELDS_LIMIT",
    "FIELD_VALUE_LIMIT",
    "FOOTER_LIMIT",
    "NOT_COVERED",
    "NO_MATCH",
    "THREAD_NAME_LIMIT",
    "TITLE_LIMIT",
    "already_shared",
    "answer_embed",
    "channel_message",
    "cite_embed",
    "clip",
    "clip_content",
    "cooldown_message",
    "embed_length",
    "embed_problems",
    "error_message",
    "escape_md",
    "followup_note",
    "help_message",
    "link",
    "nothing_to_share",
    "out_of_date_message",
    "safe_url",
    "send_failed_message",
    "shared_by",
    "sources_pages",
    "thread_name",
    "thread_starter",
    "vote_ack",
    "vote_gone",
]
