"""One web page to one ``Article``: fetched with the guarded client, extracted with the same
trafilatura helper the HTML loader uses, so a fetched page and a saved one index alike.

The article id is the page's canonical url (its ``<link rel=canonical>``, else the url it was
served from after redirects), so the same story reached by two links is one article.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from .decoding import NotTextError, declared_charset, decode_bytes
from .errors import FetchError
from .feeds import Entry
from .fetch import Fetcher
from .formats import Record, SkipError, parse_html
from .limits import DEFAULT_LIMITS, LoadLimits
from .loaders import record_article
from .models import Article
from .textclean import cut_text

PAGE_TYPES = ("text/html", "application/xhtml+xml")
# Fewer characters than this after extraction is a paywall stub, a cookie wall or a video page.
MIN_TEXT_CHARS = 200


async def fetch_article(fetcher: Fetcher, url: str, entry: Entry | None = None,
                        limits: LoadLimits = DEFAULT_LIMITS) -> Article:
    resp = await fetcher.get(url, accept=PAGE_TYPES, what="page")
    # Extraction is CPU work (about 4 s a megabyte): off the event loop, so other fetches go on.
    return await asyncio.to_thread(page_article, resp.body, resp.url, url, entry, limits)


def page_article(body: bytes, final_url: str, asked: str, entry: Entry | None = None,
                 limits: LoadLimits = DEFAULT_LIMITS) -> Article:
    try:
        html = decode_bytes(body, declared_charset(body)).text
        rec = parse_html(html)
    except (NotTextError, SkipError) as exc:
        raise FetchError(f"page {asked}: {exc}") from None
    if len(rec.text) < MIN_TEXT_CHARS:
        raise FetchError(f"page {asked}: only {len(rec.text)} characters of text after extraction "
                         "(a paywall, a stub or not an article)")
    canonical = rec.url if rec.url and urlsplit(rec.url).scheme in ("http", "https") else final_url
    rec = Record(
        text=rec.text, title=rec.title or (entry.title if entry else None), url=canonical,
        published=rec.published or (entry.published if entry else None),
        source=rec.source or urlsplit(canonical).hostname, author=rec.author,
    )
    text = cut_text(rec.text, limits.max_text_chars)[0]
    try:
        return record_article(rec, text, canonical, asked)
    except SkipError as exc:
        raise FetchError(f"page {asked}: {exc}") from None
