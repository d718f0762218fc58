"""Read a feed's entries: RSS 0.9x/1.0/2.0, Atom and JSON Feed with feedparser, news sitemaps
with defusedxml's ElementTree (no entity expansion, so an XML bomb is an error, not a hang).

Only what the watcher needs comes out: each entry's page url, a stable key, and the title and
date the feed gives (the page's own metadata wins when it has them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .errors import FeedFormatError

_SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
_NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/xml", "text/xml",
              "application/rdf+xml", "application/feed+json", "application/json", "text/plain",
              "text/html", "application/x-rss+xml", "application/octet-stream")


@dataclass(frozen=True, slots=True)
class Entry:
    url: str
    key: str  # guid / id when the feed gives one, else the url
    title: str | None = None
    published: str | None = None  # YYYY-MM-DD


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    kind: str  # "rss20", "atom10", "json1", "sitemap", ... as feedparser names versions
    title: str | None
    entries: tuple[Entry, ...]


def _looks_html(body: bytes, content_type: str) -> bool:
    head = body[:512].lstrip().lower()
    return content_type in ("text/html", "application/xhtml+xml") or head.startswith(
        (b"<!doctype html", b"<html"))


def parse_feed(body: bytes, content_type: str, url: str) -> ParsedFeed:
    if not body.strip():
        raise FeedFormatError(f"feed {url}: empty response")
    head = body[:1024].lstrip()
    if head.startswith(b"<") and (b"<urlset" in head or b"<sitemapindex" in head):
        return _sitemap(body, url)
    if _looks_html(body, content_type):
        raise FeedFormatError(f"feed {url}: serves an HTML page, not a feed; give the address of "
                              "its RSS, Atom, JSON Feed or sitemap")
    import feedparser

    if head.startswith(b"{"):
        return _json_feed(body, url)
    d = feedparser.parse(body, response_headers={"content-location": url})
    entries = tuple(e for e in (_entry(x) for x in d.entries) if e is not None)
    if not entries and (not d.version or d.get("bozo")):  # an empty, well-formed feed is fine
        why = f" ({_one_line(d.bozo_exception)})" if d.get("bozo_exception") else ""
        raise FeedFormatError(f"feed {url}: not a readable RSS, Atom or JSON Feed{why}")
    return ParsedFeed(d.version or "unknown", d.feed.get("title"), entries)


def _entry(x: dict) -> Entry | None:
    link = x.get("link") or (x.get("links") or [{}])[0].get("href")
    if not link:
        return None
    stamp = x.get("published_parsed") or x.get("updated_parsed")
    published = time.strftime("%Y-%m-%d", stamp) if stamp else None
    return Entry(url=link.strip(), key=(x.get("id") or link).strip(), title=x.get("title"),
                 published=published)


def _json_feed(body: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (jsonfeed.org): feedparser 6.0 does not read it; the spec is JSON."""
    import json

    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise FeedFormatError(f"feed {url}: malformed JSON ({_one_line(exc)})") from None
    if not isinstance(doc, dict) or "jsonfeed.org" not in str(doc.get("version", "")) \
            or not isinstance(doc.get("items"), list):
        raise FeedFormatError(f"feed {url}: JSON, but not a JSON Feed (no jsonfeed.org version and items)")
    entries = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        if isinstance(link, str) and link.strip():
            date = str(item.get("date_published") or item.get("date_modified") or "")[:10] or None
            title = item.get("title") if isinstance(item.get("title"), str) else None
            entries.append(Entry(url=link.strip(), key=str(item.get("id") or link).strip(),
                                 title=title, published=date))
    return ParsedFeed("json1", doc.get("title"), tuple(entries))


def _sitemap(body: bytes, url: str) -> ParsedFeed:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        root = fromstring(body)
    except (ParseError, DefusedXmlException) as exc:
        raise FeedFormatError(f"sitemap {url}: malformed XML ({_one_line(exc)})") from None
    if root.tag == f"{_SITEMAP}sitemapindex":
        raise FeedFormatError(f"sitemap {url}: a sitemap index; add the news sitemaps it lists "
                              "instead")
    entries = []
    for node in root.iter(f"{_SITEMAP}url"):
        loc = (node.findtext(f"{_SITEMAP}loc") or "").strip()
        if not loc:
            continue
        date = node.findtext(f"{_NEWS}news/{_NEWS}publication_date") or node.findtext(f"{_SITEMAP}lastmod")
        title = node.findtext(f"{_NEWS}news/{_NEWS}title")
        entries.append(Entry(url=loc, key=loc, title=title, published=(date or "")[:10] or None))
    return ParsedFeed("sitemap", None, tuple(entries))


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())[:200]
