"""Feeds, urls and the watcher against a real HTTP server on 127.0.0.1 serving real articles."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_file
from feedsite import Site, article_html, atom, json_feed, rss, serve, sitemap

from retrieval.errors import FeedFormatError, FetchError, UnsafeURLError
from retrieval.feeds import parse_feed
from retrieval.fetch import FetchConfig, Fetcher
from retrieval.urlguard import check_url

LOCAL = (ipaddress.ip_network("127.0.0.0/8"),)  # the test server, and nothing else private


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    out = []
    with shared_file("corpora/news-archive.jsonl").open(encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("published") and 1500 < len(rec["text"]) < 5000:
                out.append(rec)
            if len(out) == 8:
                break
    return out


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site(slow_seconds=2.0)
    server, _ = serve(s)
    yield s
    server.shutdown()
    server.server_close()


def get(url: str, config: FetchConfig, **kw: Any) -> Any:
    async def go() -> Any:
        async with Fetcher(config) as f:
            return await f.get(url, **kw)

    return asyncio.run(go())


# -- the SSRF guard --------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://10.1.2.3/x", "http://169.254.169.254/latest/meta-data/",
                                 "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://192.168.0.1/",
                                 "http://0.0.0.0/", "http://224.0.0.1/", "http://[fe80::1]/"])
def test_guard_refuses_private_addresses(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="CITEBOT_ALLOW_PRIVATE_URLS"):
        check_url(url)
    assert check_url(url, allow_private=True) == url


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "gopher://x/", "example.com/news"])
def test_guard_refuses_other_schemes(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="not http or https"):
        check_url(url, allow_private=True)


def test_guard_checks_names_after_dns_and_every_redirect(site: Site) -> None:
    port = site.base.rsplit(":", 1)[1]
    site.put("/ok", "hello", "text/plain")
    with pytest.raises(UnsafeURLError, match=r"localhost \(127.0.0.1\).*loopback"):
        get(f"http://localhost:{port}/ok", FetchConfig())
    # The first hop is allowed (the test server), the redirect to the metadata service is not.
    site.put("/to-metadata", b"", status=302, headers={"Location": "http://169.254.169.254/latest/"})
    with pytest.raises(UnsafeURLError, match="169.254.169.254.*link-local"):
        get(site.base + "/to-metadata", FetchConfig(allow_private=LOCAL))
    site.put("/to-ten", b"", status=302, headers={"Location": "http://10.0.0.7/"})
    with pytest.raises(UnsafeURLError, match="private"):
        get(site.base + "/to-ten", FetchConfig(allow_private=LOCAL))
    assert get(site.base + "/ok", FetchConfig(allow_private=LOCAL)).body == b"hello"


def test_fetch_failures_are_one_line(site: Site) -> None:
    cfg = FetchConfig(allow_private=True, read_timeout=0.5, max_bytes=100_000)
    site.put("/big", b"x" * 200_000, "text/html")
    site.put("/slow/page", "late", "text/html")
    site.put("/doc.pdf", b"%PDF-1.4 ...", "application/pdf")
    cases = {"/missing": "HTTP 404", "/big": "over the 0.1 MB limit", "/slow/page": "timed out",
             "/doc.pdf": "serves a PDF", "/loop/0": "redirect loop"}
    for path, reason in cases.items():
        with pytest.raises(FetchError, match=reason) as info:
            get(site.base + path, cfg, accept=("text/html",))
        assert "\n" not in str(info.value) and site.base + path in str(info.value)


# -- feed formats ------------------------------------------------------------------------------
def test_parses_rss_atom_json_feed_and_sitemap() -> None:
    items = [("One", "https://a.example/1", "2021-11-16"), ("Two", "https://a.example/2", "2021-11-17")]
    for make in (rss, atom, json_feed, sitemap):
        parsed = parse_feed(make(items).encode(), "application/xml", "https://a.example/feed")
        assert [e.url for e in parsed.entries] == ["https://a.example/1", "https://a.example/2"], make
    assert parse_feed(sitemap(items).encode(), "", "u").entries[1].published == "2021-11-17"
    with pytest.raises(FeedFormatError, match="HTML page, not a feed"):
        parse_feed(b"<!doctype html><html><body>news</body></html>", "text/html", "u")
    with pytest.raises(FeedFormatError, match="not a readable"):
        parse_feed(b"<rss><channel><item><title>unclosed", "application/xml", "u")
    bomb = (b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;'>]>"
            b"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><url><loc>&b;</loc></url></urlset>")
    with pytest.raises(FeedFormatError, match="malformed XML"):
        parse_feed(bomb, "application/xml", "u")


# -- the watcher, end to end -------------------------------------------------------------------
def _engine(tmp: Path, embedder: Any) -> Any:
    from retrieval import Citebot

    return Citebot(tmp / "index", embedder=embedder)


def test_watcher_rounds(tmp_path: Path, site: Site, corpus: list[dict[str, Any]], embedder: Any) -> None:
    from retrieval.feedstore import FeedStore
    from retrieval.watcher import Watcher

    arts = corpus
    urls = [site.put(f"/news/{i}", "") for i in range(len(arts))]
    for i, a in enumerate(arts):
        site.put(f"/news/{i}", article_html(a, urls[i]))
    item = [(a["title"], urls[i], a["published"]) for i, a in enumerate(arts)]
    site.put("/stub", "<html><head><title>Subscribe</title></head><body><p>Subscribe to read.</p></body></html>")
    site.put("/report.pdf", b"%PDF-1.4", "application/pdf")
    bad = [("gone", site.base + "/gone", None), ("pdf", site.base + "/report.pdf", None),
           ("stub", site.base + "/stub", None), ("loop", site.base + "/loop/0", None)]
    site.put("/rss", rss([item[0], *bad]), "application/rss+xml")
    site.put("/atom", atom([item[1]]), "application/atom+xml")
    site.put("/json", json_feed([item[2]]), "application/feed+json")
    site.put("/sitemap", sitemap([item[3]]), "application/xml")
    site.put("/htmlfeed", "<!doctype html><html><body>home page</body></html>", "text/html")
    site.put("/malformed", "<rss><channel><item>", "application/rss+xml")
    site.put("/huge", "<rss>" + "x" * 300_000, "application/rss+xml")
    site.put("/slow/feed", rss([item[4]]), "application/rss+xml")

    engine = _engine(tmp_path, embedder)
    store = FeedStore(engine.index_dir)
    for name in ("rss", "atom", "json", "sitemap", "htmlfeed", "malformed", "huge", "slow/feed", "down"):
        store.add_feed(f"{site.base}/{name}", name)
    lines: list[str] = []
    cfg = FetchConfig(allow_private=True, read_timeout=0.5, max_bytes=200_000)
    w = Watcher(engine, store, cfg, interval=60, robots=False, emit=lines.append)
    now = time.time()
    r1 = asyncio.run(w.poll_round(now))
    assert (r1.feeds, r1.new, r1.updated, r1.duplicates) == (9, 4, 0, 0), lines
    # 5 broken feeds and 4 broken entries: one line each, and the other feeds indexed.
    assert r1.failed == 9
    expected = {"HTTP 404": 2, "serves a PDF": 1, "characters of text": 1, "redirect loop": 1,
                "HTML page": 1, "not a readable": 1, "over the 0.2 MB limit": 1, "timed out": 1}
    for reason, n in expected.items():
        assert sum(reason in ln for ln in lines) == n, (reason, lines)
    assert lines[-1].startswith("round: 9 feeds, new 4")
    assert {a.id for a in engine.sources()} == set(urls[:4])

    # Second round: every good feed answers 304; no article page is fetched again.
    hits = dict(site.hits)
    lines.clear()
    r2 = asyncio.run(w.poll_round(now + 61))
    # A first retry after one interval: the 5 feeds, and the 4 entries of the unchanged rss.
    assert (r2.feeds, r2.new, r2.failed) == (9, 0, 9), lines
    assert all(site.hits[f"/news/{i}"] == hits[f"/news/{i}"] for i in range(4))
    assert site.hits["/gone"] == hits["/gone"] + 1
    assert all(site.hits[p] == hits[p] + 1 for p in ("/rss", "/atom", "/json", "/sitemap"))

    # A new entry, and a near-copy of an indexed story under another url (a wire story).
    copy_url = site.put("/syndicated/7", "")
    site.put("/syndicated/7", article_html(arts[1], copy_url, title="Another outlet's headline",
                                           extra="<p>Reporting by a wire service.</p>"))
    site.put("/rss", rss([item[0], item[5], ("copy", copy_url, None)]), "application/rss+xml")
    lines.clear()
    r3 = asyncio.run(w.poll_round(now + 122))
    # The failing feeds now wait out a doubled backoff; the good ones are polled.
    assert (r3.feeds, r3.new, r3.duplicates) == (4, 1, 1), lines
    assert store.alias_of(copy_url) == urls[1]
    first = arts[5]["text"].split("\n\n")[1][:200]
    ans = engine.answer(first, as_of="2030-01-01")
    assert ans.quotes and ans.quotes[0].article_id == urls[5]
    assert copy_url not in {a.id for a in engine.sources()}

    # The failing feeds are listed with their error; after a day of failures, as failing.
    feeds = {f.name: f for f in store.feeds()}
    assert feeds["htmlfeed"].status() == "retrying" and "HTML page" in (feeds["htmlfeed"].last_error or "")
    assert feeds["htmlfeed"].status(now + 90_000) == "failing"
    assert feeds["rss"].status() == "ok" and feeds["rss"].entries == 3  # the copy counts, as its original
    engine.close()
    store.close()


def test_cli_add_and_feeds(tmp_path: Path, site: Site, corpus: list[dict[str, Any]],
                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    art = corpus[6]
    url = site.put("/story", "")
    site.put("/story", article_html(art, url))
    monkeypatch.setenv("CITEBOT_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("CITEBOT_ALLOW_PRIVATE_URLS", "1")
    assert main(["add", url]) == 0
    out = capsys.readouterr().out
    assert f"indexed: {art['title']} ({art['published']})" in out and "passages" in out
    assert main(["add", url]) == 0
    assert "already indexed" in capsys.readouterr().out
    assert main(["add", site.base + "/nope"]) == 1
    assert "HTTP 404" in capsys.readouterr().out

    assert main(["feeds", "add", site.base + "/rss", "--name", "local"]) == 0
    assert main(["feeds", "add", site.base + "/rss"]) == 2
    assert main(["feeds", "list"]) == 0
    assert "local  new  0 entries" in capsys.readouterr().out
    assert main(["feeds", "remove", "local"]) == 0
    monkeypatch.setenv("CITEBOT_ALLOW_PRIVATE_URLS", "0")
    assert main(["add", url]) == 2
    assert "CITEBOT_ALLOW_PRIVATE_URLS" in capsys.readouterr().err


def test_robots_txt_is_read_once_per_site(site: Site) -> None:
    from retrieval.watcher import Robots

    site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")

    async def go() -> list[bool]:
        async with Fetcher(FetchConfig(allow_private=True)) as f:
            robots = Robots(f)
            return [await robots.allowed(site.base + p) for p in ("/news/1", "/private/2", "/news/3")]

    assert asyncio.run(go()) == [True, False, True]
    assert site.hits["/robots.txt"] == 1
