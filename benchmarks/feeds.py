"""Feeds (issue 14): `watch --once` throughput from empty, new-entry-to-answerable latency, and
near-duplicates in the BBC set.

    python benchmarks/feeds.py watch [--articles 500] [--feeds 50]
    python benchmarks/feeds.py latency [--interval 10]
    python benchmarks/feeds.py dedup [--show 50]

``watch`` serves the first N articles of news-archive.jsonl (as article pages, spread over 50 RSS
feeds) from a local http.server and times one watcher round into an empty index: fetching,
extraction, embedding and the commit. The full 24,480 would take hours of embedding on this
machine, so N is a subset and said so. ``latency`` runs the watcher loop with its interval and
measures from a new entry appearing in a feed to the question about it being answered from it.
``dedup`` finds the near-duplicate pairs of the BBC set and prints ``--show`` of them to read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import ROOT, require_shared

sys.path.insert(0, str(ROOT / "tests"))
from feedsite import Site, article_html, rss, serve  # the tests' server, reused


def _articles(n: int) -> list[dict[str, Any]]:
    (path,) = require_shared("corpora/news-archive.jsonl")
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if len(out) == n:
                break
    return out


def _site(arts: list[dict[str, Any]], feeds: int) -> tuple[Site, Any, list[list[tuple[str, str, Any]]]]:
    site = Site()
    server, _ = serve(site)
    groups: list[list[tuple[str, str, Any]]] = [[] for _ in range(feeds)]
    for i, a in enumerate(arts):
        url = f"{site.base}/a/{i}"
        site.put(f"/a/{i}", article_html(a, url))
        groups[i % feeds].append((a["title"], url, a.get("published")))
    for k, g in enumerate(groups):
        site.put(f"/feed/{k}", rss(g), "application/rss+xml")
    return site, server, groups


def _watcher(index: Path, interval: float = 900.0) -> Any:
    from retrieval import Citebot
    from retrieval.feedstore import FeedStore
    from retrieval.fetch import FetchConfig
    from retrieval.watcher import Watcher

    engine = Citebot(index)
    return Watcher(engine, FeedStore(index), FetchConfig(allow_private=True), interval=interval,
                   robots=False, emit=lambda line: None)


def bench_watch(n: int, feeds: int) -> None:
    arts = _articles(n)
    site, server, _ = _site(arts, feeds)
    with tempfile.TemporaryDirectory() as tmp:
        w = _watcher(Path(tmp))
        for k in range(feeds):
            w.store.add_feed(f"{site.base}/feed/{k}", f"feed{k}")
        w.engine.index_embedder.encode(["warm up"])  # model load is not the watcher's cost
        t0 = time.perf_counter()
        r = asyncio.run(w.poll_round())
        secs = time.perf_counter() - t0
        t1 = time.perf_counter()
        r2 = asyncio.run(w.poll_round(time.time() + 1e6))
        secs2 = time.perf_counter() - t1
    server.shutdown()
    print(f"watch --once from empty: {n} articles in {feeds} feeds: new {r.new}, duplicates "
          f"{r.duplicates}, failed {r.failed}, {secs:.1f} s = {r.new / secs * 60:.0f} articles/minute; "
          f"second round (all 304): {r2.new} new, {secs2:.2f} s")


def bench_latency(interval: float) -> None:
    arts = _articles(15)
    site, server, groups = _site(arts[:10], 5)
    with tempfile.TemporaryDirectory() as tmp:
        w = _watcher(Path(tmp), interval)
        for k in range(5):
            w.store.add_feed(f"{site.base}/feed/{k}", f"feed{k}")
        asyncio.run(w.poll_round())
        stop = asyncio.Event()
        loop = asyncio.new_event_loop()
        th = threading.Thread(target=lambda: loop.run_until_complete(w.run(stop)), daemon=True)
        th.start()
        times = []
        for j, new in enumerate(arts[10:15]):
            time.sleep(interval * 0.37)  # entries appear at arbitrary points of the cycle
            url = f"{site.base}/new/{j}"
            site.put(f"/new/{j}", article_html(new, url))
            groups[0].append((new["title"], url, new.get("published")))
            site.put("/feed/0", rss(groups[0]), "application/rss+xml")
            t0 = time.perf_counter()
            question = new["text"].split("\n\n")[-1][:200]
            while True:
                try:
                    ans = w.engine.answer(question, as_of="2030-01-01")
                    if any(q.article_id == url for q in ans.quotes):
                        break
                except Exception:
                    pass
                time.sleep(0.2)
            times.append(time.perf_counter() - t0)
        loop.call_soon_threadsafe(stop.set)
        th.join(timeout=interval + 30)
    server.shutdown()
    print(f"new entry to answerable, --interval {interval:g}s: "
          + ", ".join(f"{t:.1f}" for t in times) + f" s (mean {sum(times) / len(times):.1f} s)")


def bench_dedup(show: int) -> None:
    from retrieval.dedup import DedupIndex, signature

    (path,) = require_shared("corpora/bbc-news-2225.jsonl")
    arts = [json.loads(line) for line in path.open(encoding="utf-8")]
    t0 = time.perf_counter()
    idx = DedupIndex()
    for a in arts:
        idx.add(a["id"], signature(a["text"]))
    pairs = sorted(idx.pairs(), key=lambda p: p[2])
    secs = time.perf_counter() - t0
    exact = sum(1 for a, b, _ in pairs if _text(arts, a) == _text(arts, b))
    print(f"BBC {len(arts)} articles: {len(pairs)} near-duplicate pairs (threshold {idx.threshold}), "
          f"{exact} of them identical text; {secs:.1f} s")
    by_id = {a["id"]: a for a in arts}
    # The pairs worth reading first: those whose texts differ (identical text is the same story).
    differ = [p for p in pairs if by_id[p[0]]["text"] != by_id[p[1]]["text"]]
    same = [p for p in pairs if by_id[p[0]]["text"] == by_id[p[1]]["text"]]
    for a, b, s in (differ + same[::max(1, len(same) // max(1, show - len(differ)))])[:show]:
        ta, tb = by_id[a]["text"], by_id[b]["text"]
        pa, pb = set(ta.split("\n\n")), set(tb.split("\n\n"))
        only_a, only_b = [x for x in ta.split("\n\n") if x not in pb], [x for x in tb.split("\n\n") if x not in pa]
        print(f"--- {s:.2f} {a} ({len(ta)} chars) | {b} ({len(tb)} chars); paragraphs only in A "
              f"{len(only_a)}, only in B {len(only_b)}")
        print(f"  A: {by_id[a]['title']}\n  B: {by_id[b]['title']}")
        for tag, paras in (("A", only_a), ("B", only_b)):
            for x in paras[:2]:
                print(f"    {tag} only: {x[:220]!r}")


def bench_dedup_vectors(cos: float) -> None:
    """MinHash pairs against pairs whose whole-article vectors (the model reads the first 256
    word pieces) are at least ``cos`` apart: which pairs each finds that the other misses."""
    import numpy as np

    from retrieval import load_embedder
    from retrieval.dedup import DedupIndex, signature

    (path,) = require_shared("corpora/bbc-news-2225.jsonl")
    arts = [json.loads(line) for line in path.open(encoding="utf-8")]
    idx = DedupIndex()
    t0 = time.perf_counter()
    for a in arts:
        idx.add(a["id"], signature(a["text"]))
    mh = {tuple(sorted((a, b))) for a, b, _ in idx.pairs()}
    t_mh = time.perf_counter() - t0
    emb = load_embedder()
    t0 = time.perf_counter()
    vecs = emb.encode([a["text"] for a in arts], batch_size=32)
    t_vec = time.perf_counter() - t0
    sims = vecs @ vecs.T
    ids = [a["id"] for a in arts]
    ii, jj = np.nonzero(np.triu(sims >= cos, k=1))
    vp = {tuple(sorted((ids[i], ids[j]))) for i, j in zip(ii, jj, strict=True)}
    by_id = {a["id"]: a for a in arts}
    print(f"BBC: MinHash {len(mh)} pairs in {t_mh:.1f} s; article vectors cos >= {cos}: {len(vp)} "
          f"pairs in {t_vec:.1f} s (embedding); both {len(mh & vp)}, MinHash only {len(mh - vp)}, "
          f"vectors only {len(vp - mh)}")
    for a, b in sorted(vp - mh)[:15]:
        print(f"  vectors only: {by_id[a]['title']} | {by_id[b]['title']}")
    for a, b in sorted(mh - vp)[:15]:
        print(f"  MinHash only: {by_id[a]['title']} | {by_id[b]['title']}")


def _text(arts: list[dict[str, Any]], aid: str) -> str:
    return next(a["text"] for a in arts if a["id"] == aid)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--articles", type=int, default=500)
    w.add_argument("--feeds", type=int, default=50)
    lat = sub.add_parser("latency")
    lat.add_argument("--interval", type=float, default=10.0)
    d = sub.add_parser("dedup")
    d.add_argument("--show", type=int, default=50)
    d.add_argument("--vectors", type=float, default=None, metavar="COS",
                   help="compare with article-vector pairs at this cosine instead")
    args = p.parse_args()
    if args.what == "watch":
        bench_watch(args.articles, args.feeds)
    elif args.what == "latency":
        bench_latency(args.interval)
    elif args.vectors is not None:
        bench_dedup_vectors(args.vectors)
    else:
        bench_dedup(args.show)


if __name__ == "__main__":
    main()
