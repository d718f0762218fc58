"""Fetched articles into the index: skip what is already there, fold near-duplicates into the
article they copy (their urls become aliases), index the rest in one commit.

Used by ``citebot add`` (urls given by a person) and by the watcher (feed entries). State about
what was indexed (fingerprints, aliases) is written only after the commit succeeded, so a failed
commit leaves the state as it was and the next round tries again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .dedup import DedupIndex, signature
from .errors import CitebotError, FetchError
from .feedstore import FeedStore
from .fetch import FetchConfig, Fetcher
from .models import Article
from .pages import fetch_article

if TYPE_CHECKING:
    from .engine import Citebot


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one url: ``status`` is indexed, updated, unchanged, duplicate or failed."""

    url: str
    status: str
    article_id: str | None = None
    title: str | None = None
    published: str | None = None
    passages: int = 0
    detail: str = ""  # the error, or the article a duplicate was folded into

    def line(self) -> str:
        when = f" ({self.published})" if self.published else ""
        if self.status in ("indexed", "updated"):
            return f"{self.status}: {self.title}{when}, {self.passages} passages"
        if self.status == "unchanged":
            return f"already indexed: {self.title}{when}"
        if self.status == "duplicate":
            return f"already indexed as {self.detail} (near-duplicate; {self.url} kept as an alias)"
        return f"failed: {self.detail}"


class Ingestor:
    def __init__(self, engine: Citebot, store: FeedStore, dedup_threshold: float = 0.7) -> None:
        self.engine, self.store = engine, store
        self.dedup = DedupIndex(dedup_threshold)
        self._aliases: list[tuple[str, str, float]] = []
        for aid, sig in store.fingerprints():
            self.dedup.add(aid, sig)

    def _known(self, ids: list[str]) -> dict[str, str]:
        """content_hash of the ids already indexed."""
        if not self.engine.has_index():
            return {}
        found = self.engine.view().articles(ids)
        return {aid: a.content_hash for aid, a in found.items()}

    def decide(self, fetched: list[tuple[str, Article]]) -> tuple[list[Outcome], list[Article], dict]:
        """Outcomes (indexed/updated without passages yet), the articles to write, and their
        signatures; nothing is written."""
        known = self._known([a.id for _, a in fetched])
        self._aliases = []  # written by ``commit``, after the articles
        outcomes: list[Outcome] = []
        to_write: dict[str, Article] = {}
        sigs = {}
        for url, art in fetched:
            alias = self.store.alias_of(url) or self.store.alias_of(art.id)
            if alias is not None:
                outcomes.append(Outcome(url, "duplicate", alias, art.title, art.published, detail=alias))
                continue
            same = to_write[art.id].content_hash if art.id in to_write else known.get(art.id)
            if same == art.content_hash:
                outcomes.append(Outcome(url, "unchanged", art.id, art.title, art.published))
                continue
            sig = signature(art.text)
            match = self.dedup.match(sig, exclude=art.id)
            if match is not None:
                outcomes.append(Outcome(url, "duplicate", match[0], art.title, art.published,
                                        detail=match[0]))
                self._aliases.append((url, match[0], match[1]))
                continue
            status = "updated" if art.id in known else "indexed"
            outcomes.append(Outcome(url, status, art.id, art.title, art.published))
            to_write[art.id] = art
            sigs[art.id] = sig
            self.dedup.add(art.id, sig)  # later articles of this batch may copy this one
        return outcomes, list(to_write.values()), sigs

    def commit(self, articles: list[Article], sigs: dict) -> None:
        """One commit of ``articles`` and then the aliases ``decide`` found; on failure the dedup
        index forgets the articles, no alias is written, and it raises."""
        aliases, self._aliases = self._aliases, []
        if articles:
            self._write(articles)
        for aid, sig in sigs.items():
            self.store.save_fingerprint(aid, sig)
        for url, aid, sim in aliases:
            self.store.add_alias(url, aid, sim)

    def _write(self, articles: list[Article]) -> None:
        try:
            self.engine.add_articles(articles)
        except BaseException:
            for a in articles:
                self.dedup.remove(a.id)
            raise

    def passages(self, ids: list[str]) -> dict[str, int]:
        if not ids:
            return {}
        wanted = set(ids)
        return {a.id: a.passages for a in self.engine.view().list_articles() if a.id in wanted}


async def add_urls(engine: Citebot, store: FeedStore, urls: list[str], config: FetchConfig,
                   dedup_threshold: float = 0.7) -> list[Outcome]:
    """``citebot add`` and ``/add``: fetch, extract and index these urls in one commit."""
    ing = await asyncio.to_thread(Ingestor, engine, store, dedup_threshold)
    fetched: list[tuple[str, Article]] = []
    failed: dict[str, str] = {}
    async with Fetcher(config) as f:
        results = await asyncio.gather(*(fetch_article(f, u) for u in urls), return_exceptions=True)
    for url, res in zip(urls, results, strict=True):
        if isinstance(res, CitebotError):
            failed[url] = str(res)
        elif isinstance(res, BaseException):
            failed[url] = str(FetchError(f"page {url}: {type(res).__name__}: {res}"))
        else:
            fetched.append((url, res))
    outcomes, articles, sigs = await asyncio.to_thread(ing.decide, fetched)
    await asyncio.to_thread(ing.commit, articles, sigs)
    counts = await asyncio.to_thread(ing.passages, [a.id for a in articles])
    by_url = {o.url: o for o in outcomes}
    out = []
    for url in urls:
        if url in failed:
            out.append(Outcome(url, "failed", detail=failed[url]))
            continue
        o = by_url[url]
        if o.status in ("indexed", "updated") and o.article_id:
            o = Outcome(o.url, o.status, o.article_id, o.title, o.published, counts.get(o.article_id, 0))
        out.append(o)
    return out



