"""Plain-text rendering for the terminal: pure functions from retrieval results to strings.

Colour and clickable links (OSC 8) only when ``style`` is on, which the CLI turns on for a
terminal and off for pipes, files and ``NO_COLOR``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.models import Answer, Article, ArticleInfo, Match, Passage, Source


@dataclass(frozen=True, slots=True)
class Style:
    color: bool = False
    links: bool = False
    width: int = 88

    def bold(self, s: str) -> str:
        return f"\x1b[1m{s}\x1b[0m" if self.color else s

    def dim(self, s: str) -> str:
        return f"\x1b[2m{s}\x1b[0m" if self.color else s

    def accent(self, s: str) -> str:
        return f"\x1b[36m{s}\x1b[0m" if self.color else s

    def link(self, text: str, url: str | None) -> str:
        if not url or not self.links:
            return text
        return f"\x1b]8;;{url}\x1b\\{text}\x1b]8;;\x1b\\"


PLAIN = Style()


def _block(text: str, style: Style, marker: str = "") -> str:
    body = " ".join(text.split())
    lines = textwrap.wrap(body + (f" {marker}" if marker else ""), width=style.width - 2) or [""]
    return "\n".join("> " + ln for ln in lines)


def _source_line(s: Source | ArticleInfo, n: int | None, style: Style) -> str:
    head = f"[{n}] " if n is not None else ""
    title = style.link(style.bold(s.title), s.url)
    date = f" ({s.published})" if s.published else ""
    url = f"\n    {style.link(style.accent(s.url), s.url)}" if s.url else ""
    return f"{head}{title}{date}{url}"


WEAK_NOTE = "Weak match: these are the closest passages, and may not answer the question."


def quote_marker(n: int, published: str | None, dated: bool) -> str:
    """``[n]``, with the article's date beside it when the quotes' articles differ in date."""
    return f"[{n}] ({published})" if dated and published else f"[{n}]"


def dates_differ(ans: Answer) -> bool:
    return len({q.published for q in ans.quotes}) > 1


def render_answer(ans: Answer, style: Style = PLAIN) -> str:
    period = [style.dim(ans.period)] if ans.period else []
    if not ans.answered:
        out = [*period, "The indexed articles do not answer this question."]
        if ans.closest:
            out.append("")
            out.append(style.dim("Closest articles:"))
            out.extend(_source_line(s, None, style).replace("\n", "\n ") for s in ans.closest)
        return "\n".join(out)
    dated = dates_differ(ans)
    parts = [_block(q.text, style, style.accent(quote_marker(q.n, q.published, dated))) for q in ans.quotes]
    if ans.weak:
        parts.insert(0, style.dim(WEAK_NOTE))
    parts[:0] = period
    sources = "\n".join(_source_line(s, s.n, style) for s in ans.sources)
    return "\n\n".join(parts) + "\n\n" + style.bold("Sources") + "\n" + sources


def render_matches(query: str, matches: Sequence[Match], style: Style = PLAIN) -> str:
    if not matches:
        return "No indexed article says this."
    out = []
    for i, m in enumerate(matches, 1):
        kind = "verbatim" if m.verbatim else f"paraphrase, score {m.score:.2f}"
        src = _source_line(
            Source(i, m.article_id, m.title, m.url, m.published), i, style
        )
        where = style.dim(f"{kind}; characters {m.start}-{m.end}")
        out.append(f"{_block(m.text, style)}\n{src}\n    {where}")
    del query
    return "\n\n".join(out)


def render_passages(passages: Sequence[Passage], style: Style = PLAIN) -> str:
    if not passages:
        return "No passages found."
    out = []
    for p in passages:
        src = _source_line(Source(p.rank + 1, p.article_id, p.title, p.url, p.published), p.rank + 1, style)
        out.append(f"{src}\n{_block(p.text, style)}")
    return "\n\n".join(out)


def render_sources(items: Sequence[ArticleInfo], style: Style = PLAIN) -> str:
    if not items:
        return "The index holds no articles."
    undated = sum(1 for a in items if not a.published)
    note = f" ({undated} undated)" if undated else ""
    lines = [f"{len(items)} article{'s' if len(items) != 1 else ''} indexed{note}"]
    for a in items:
        date = a.published or "undated"
        url = f"  {style.link(a.url, a.url)}" if a.url else ""
        # Most ids are the url itself; print it once.
        ident = "" if a.id == a.url else f"{style.dim(a.id)}  "
        count = f"{a.passages} passage{'s' if a.passages != 1 else ''}"
        lines.append(f"{ident}{date}  {style.bold(a.title)}  ({count}){url}")
    return "\n".join(lines)


def render_article(a: Article, style: Style = PLAIN) -> str:
    meta = [style.bold(a.title)]
    for label, value in (("id", a.id), ("published", a.published), ("author", a.author),
                         ("source", a.source), ("url", a.url)):
        if value:
            meta.append(f"{label}: {style.link(value, a.url) if label == 'url' else value}")
    return "\n".join(meta) + "\n\n" + a.text
